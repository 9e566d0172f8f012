"""``image_zoom_in_tool``: Qwen3-VL's "thinking with images" crop, taken from the original image.

The model reads Qwen-Agent's own definition of the tool (``qwen_agent/tools/image_zoom_in_qwen3vl.py``,
which Qwen3-VL's think-with-images cookbook calls), word for word; the call itself is validated more
leniently than that schema says: ``label`` and ``img_idx`` may be left out.
"""

from __future__ import annotations

from typing import Annotated

from PIL import Image
from pydantic import Field

from pixelpilot.envs.core.actions import GRID
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


ZOOM_DESCRIPTION = (
    "Zoom in on a specific region of an image by cropping it based on a bounding box (bbox) "
    "and an optional object label"
)
ZOOM_PARAMETERS = {
    "type": "object",
    "properties": {
        "bbox_2d": {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 4,
            "maxItems": 4,
            "description": (
                "The bounding box of the region to zoom in, as [x1, y1, x2, y2], "
                "where (x1, y1) is the top-left corner and (x2, y2) is the bottom-right corner"
            ),
        },
        "label": {"type": "string", "description": "The name or label of the object in the specified bounding box"},
        "img_idx": {"type": "number", "description": "The index of the zoomed-in image (starting from 0)"},
    },
    "required": ["bbox_2d", "label", "img_idx"],
}

PIXELPILOT_ZOOM_DESCRIPTION = "Zoom in on a region of an image by cropping it, to look at small details more closely."
PIXELPILOT_ZOOM_PARAMETERS = {
    "additionalProperties": False,
    "properties": {
        "bbox_2d": {
            "description": "[x1, y1, x2, y2] of the region, 0-1000 relative to the image",
            "items": {"type": "number"},
            "maxItems": 4,
            "minItems": 4,
            "type": "array",
        },
        "label": {"default": "", "description": "What the region shows", "type": "string"},
        "img_idx": {
            "default": 0,
            "description": "0-based index of the image in the conversation",
            "minimum": 0,
            "type": "integer",
        },
    },
    "required": ["bbox_2d"],
    "type": "object",
}
"""pixelpilot's first wording (prompt style ``pixelpilot``): the schema its pydantic model generated."""


@tool(
    name="image_zoom_in_tool",
    timeout=30.0,
    description=ZOOM_DESCRIPTION,
    parameters=ZOOM_PARAMETERS,
    wordings={"pixelpilot": (PIXELPILOT_ZOOM_DESCRIPTION, PIXELPILOT_ZOOM_PARAMETERS)},
)
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
