"""Images in conversations: pulling them out in prompt order, Qwen3-VL's resize rule, data URLs.

Every backend must see the same pixels: in-process backends hand PIL images to the checkpoint's
own processor, while the HTTP backend resizes with the same rule before encoding, so a server's
processor has nothing left to resize.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from pixelpilot.errors import ModelError
from pixelpilot.model.base import Conversation

# Qwen3-VL's shipped preprocessor: 16 px patches merged 2x2, 256x256 to 4096x4096 pixels.
QWEN3_VL_PATCH_SIZE = 16
QWEN3_VL_MERGE_SIZE = 2
QWEN3_VL_MIN_PIXELS = 65_536
QWEN3_VL_MAX_PIXELS = 16_777_216


class ResizeRule(BaseModel):
    """Sides become multiples of ``factor`` and the area stays within ``[min_pixels, max_pixels]``."""

    model_config = ConfigDict(frozen=True)

    factor: int = Field(QWEN3_VL_PATCH_SIZE * QWEN3_VL_MERGE_SIZE, ge=1)
    min_pixels: int = Field(QWEN3_VL_MIN_PIXELS, ge=1)
    max_pixels: int = Field(QWEN3_VL_MAX_PIXELS, ge=1)

    @classmethod
    def from_image_processor(cls, image_processor: Any) -> ResizeRule:
        """Read the rule off a Qwen2-VL-style image processor, so a checkpoint's own bounds win."""
        size = getattr(image_processor, "size", None) or {}
        get = size.get if isinstance(size, dict) else lambda key, default=None: getattr(size, key, default)
        patch = getattr(image_processor, "patch_size", None) or QWEN3_VL_PATCH_SIZE
        merge = getattr(image_processor, "merge_size", None) or QWEN3_VL_MERGE_SIZE
        return cls(
            factor=patch * merge,
            min_pixels=get("shortest_edge", None) or QWEN3_VL_MIN_PIXELS,
            max_pixels=get("longest_edge", None) or QWEN3_VL_MAX_PIXELS,
        )


def to_pil(image: Any) -> Image.Image:
    """Accept what environments hand out (PIL images, uint8 HxWx3 arrays) and return an RGB image."""
    if isinstance(image, Image.Image):
        return image.convert("RGB") if image.mode != "RGB" else image
    if isinstance(image, np.ndarray) and image.ndim in (2, 3) and image.dtype == np.uint8:
        return Image.fromarray(image).convert("RGB")
    raise ModelError(f"an image must be a PIL image or a uint8 array, got {type(image).__name__}")


def qwen_size(width: int, height: int, rule: ResizeRule | None = None) -> tuple[int, int]:
    """The (width, height) Qwen3-VL's processor resizes an image to (transformers' ``smart_resize``)."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    rule = rule or ResizeRule()
    try:
        height, width = smart_resize(
            height, width, factor=rule.factor, min_pixels=rule.min_pixels, max_pixels=rule.max_pixels
        )
    except ValueError as exc:  # aspect ratio beyond 200:1
        raise ModelError(f"image of size {width}x{height} cannot be resized: {exc}") from exc
    return width, height


def resize_for_qwen(image: Image.Image, rule: ResizeRule | None = None) -> Image.Image:
    """Resize to the size Qwen3-VL's processor would pick."""
    size = qwen_size(image.width, image.height, rule)
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.BICUBIC)


def token_cells(width: int, height: int, rule: ResizeRule) -> tuple[int, int]:
    """How many merged image tokens across and down a width×height screenshot becomes for the model."""
    resized_width, resized_height = qwen_size(width, height, rule)
    return resized_width // rule.factor, resized_height // rule.factor


def to_data_url(image: Image.Image, image_format: str = "png", quality: int = 90) -> str:
    """PNG keeps screenshots' text sharp; JPEG trades that for smaller requests."""
    fmt = image_format.lower()
    if fmt not in ("png", "jpeg", "jpg"):
        raise ModelError(f"unsupported image format {image_format!r}: use png or jpeg")
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, format="PNG")
        mime = "image/png"
    else:
        image.save(buffer, format="JPEG", quality=quality)
        mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def is_image_part(part: Any) -> bool:
    return isinstance(part, dict) and (part.get("type") == "image" or "image" in part)


def normalize_conversation(conversation: Conversation) -> tuple[Conversation, list[Image.Image]]:
    """Copy the conversation with every image as an RGB PIL image, and list the images in order.

    The order is the order in which a Qwen chat template renders image placeholders, which is the
    order the processor pairs them with.
    """
    if not isinstance(conversation, list) or not conversation:
        raise ModelError("a conversation must be a non-empty list of messages")
    messages: Conversation = []
    images: list[Image.Image] = []
    for message in conversation:
        if not isinstance(message, dict) or "role" not in message:
            raise ModelError(f"a message must be a dict with a 'role', got {message!r:.100}")
        content = message.get("content", "")
        if isinstance(content, str):
            messages.append({**message, "content": content})
            continue
        if not isinstance(content, list):
            raise ModelError(f"message content must be a string or a list of parts, got {type(content).__name__}")
        parts = []
        for part in content:
            if is_image_part(part):
                image = to_pil(part.get("image"))
                images.append(image)
                parts.append({"type": "image", "image": image})
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append({"type": "text", "text": part["text"]})
            else:
                raise ModelError(f"unsupported content part {part!r:.100}: use text or image parts")
        messages.append({**message, "content": parts})
    return messages, images
