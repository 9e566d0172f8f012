"""``image_zoom_in_tool``: Qwen3-VL's "thinking with images" crop, taken from the original image."""

from __future__ import annotations

from typing import Annotated

from PIL import Image
from pydantic import Field

from pixelpilot.envs.actions import GRID
from pixelpilot.errors import ToolError
from pixelpilot.tools.base import ToolContext, tool

MIN_SIDE = 32
"""Qwen3-VL's vision encoder needs at least one 32-px patch on each side."""


def zoom_crop(image: Image.Image, bbox_2d: list[float]) -> Image.Image:
    """Crop a 0–1000 box out of the full-resolution image, widening any side under 32 px."""
    x1, y1, x2, y2 = bbox_2d
    if not (0 <= x1 < x2 <= GRID and 0 <= y1 < y2 <= GRID):
        raise ToolError(f"bbox_2d {list(bbox_2d)} must satisfy 0 <= x1 < x2 <= {GRID} and 0 <= y1 < y2 <= {GRID}")
    w, h = image.size
    left, top = round(x1 / GRID * w), round(y1 / GRID * h)
    right, bottom = max(round(x2 / GRID * w), left + 1), max(round(y2 / GRID * h), top + 1)
    crop = image.crop((left, top, right, bottom))
    cw, ch = crop.size
    if cw < MIN_SIDE or ch < MIN_SIDE:
        crop = crop.resize((max(cw, MIN_SIDE), max(ch, MIN_SIDE)), Image.Resampling.BICUBIC)
    return crop


@tool(name="image_zoom_in_tool", timeout=30.0)
def image_zoom_in_tool(
    bbox_2d: Annotated[
        list[float],
        Field(min_length=4, max_length=4, description="[x1, y1, x2, y2] of the region, 0-1000 relative to the image"),
    ],
    context: ToolContext,
    label: Annotated[str, Field(description="What the region shows")] = "",
    img_idx: Annotated[int, Field(ge=0, description="0-based index of the image in the conversation")] = 0,
) -> Image.Image:
    """Zoom in on a region of an image by cropping it, to look at small details more closely."""
    if img_idx >= len(context.images):
        raise ToolError(f"img_idx {img_idx} is out of range: the conversation has {len(context.images)} image(s)")
    return zoom_crop(context.images[img_idx], bbox_2d)
