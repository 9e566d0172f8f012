"""The tool registry: schemas in Qwen's function format, validated dispatch, and failures as results."""

from __future__ import annotations

import json
import time

import pytest
from PIL import Image
from pydantic import BaseModel, Field

from pixelpilot.envs.core.toolcall import ToolCall
from pixelpilot.tools import ToolContext, ToolRegistry, ToolResult, image_zoom_in_tool, tool, zoom_crop


@tool
def add(a: int, b: int = 2) -> int:
    """Add two integers."""
    return a + b


class Query(BaseModel):
    city: str = Field(description="City name")
    days: int = Field(1, ge=1, le=7)


@tool(name="forecast")
def forecast(query: Query) -> str:
    """Weather forecast for a city."""
    return f"{query.city}: sunny for {query.days} day(s)"


@tool(timeout=0.2)
def slow(seconds: float) -> str:
    """Sleep, to test timeouts."""
    time.sleep(seconds)
    return "done"


@tool
def broken() -> str:
    """Always raises."""
    raise RuntimeError("disk on fire")


@pytest.fixture
def registry():
    reg = ToolRegistry([add, forecast, slow, broken, image_zoom_in_tool])
    yield reg
    reg.close()


def test_schemas_are_qwen_function_objects(registry):
    block = registry.tools_block()
    lines = block.splitlines()
    assert lines[0] == "<tools>" and lines[-1] == "</tools>"
    schemas = [json.loads(line) for line in lines[1:-1]]
    assert [s["function"]["name"] for s in schemas] == registry.names
    add_schema = schemas[0]
    assert add_schema["type"] == "function"
    assert add_schema["function"]["description"] == "Add two integers."
    params = add_schema["function"]["parameters"]
    assert params["required"] == ["a"] and params["properties"]["a"] == {"type": "integer"}
    forecast_params = schemas[1]["function"]["parameters"]
    assert forecast_params["properties"]["city"]["description"] == "City name"
    zoom_params = schemas[4]["function"]["parameters"]
    assert "context" not in zoom_params["properties"]
    assert set(zoom_params["properties"]) == {"bbox_2d", "label", "img_idx"}


def test_dispatch_validates_and_returns_results(registry):
    assert registry.call(ToolCall(name="add", arguments={"a": 1})).text == "3"
    assert registry.call(ToolCall(name="add", arguments={"a": "4", "b": 5})).text == "9"
    result = registry.call(ToolCall(name="forecast", arguments={"city": "Oslo", "days": 3}))
    assert result.ok and result.text == "Oslo: sunny for 3 day(s)"


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (ToolCall(name="nope", arguments={}), "unknown tool 'nope'"),
        (ToolCall(name="add", arguments={}), "a: Field required"),
        (ToolCall(name="add", arguments={"a": 1, "c": 3}), "c: Extra inputs"),
        (ToolCall(name="add", arguments={"a": "x"}), "a: Input should be a valid integer"),
        (ToolCall(name="forecast", arguments={"city": "Oslo", "days": 30}), "days"),
        (ToolCall(name="slow", arguments={"seconds": 2}), "timed out after 0.2 s"),
        (ToolCall(name="broken", arguments={}), "RuntimeError: disk on fire"),
    ],
)
def test_every_failure_becomes_an_error_result(registry, call, needle):
    result = registry.call(call)
    assert not result.ok and needle in result.error


def test_duplicate_names_are_refused(registry):
    with pytest.raises(ValueError, match="already registered"):
        registry.register(add)


def test_tools_need_a_description():
    def undocumented(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="description"):
        tool(undocumented)


def _checkerboard(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), "white")
    for x in range(0, width, 10):
        for y in range(0, height, 10):
            if (x // 10 + y // 10) % 2:
                image.paste((0, 0, 0), (x, y, x + 10, y + 10))
    return image


def test_zoom_crops_the_original_resolution():
    image = _checkerboard(1280, 800)
    crop = zoom_crop(image, [500, 500, 750, 1000])
    assert crop.size == (320, 400)
    assert crop.getpixel((5, 5)) == image.getpixel((640, 400))


def test_zoom_enlarges_tiny_sides_to_32_px():
    crop = zoom_crop(_checkerboard(1000, 1000), [0, 0, 10, 100])
    assert crop.size == (32, 100)


def test_zoom_picks_the_image_by_index_and_reports_bad_boxes(registry):
    images = [Image.new("RGB", (100, 100), "red"), Image.new("RGB", (200, 100), "blue")]
    ctx = ToolContext(images=images)
    result = registry.call(
        ToolCall(name="image_zoom_in_tool", arguments={"bbox_2d": [0, 0, 500, 1000], "img_idx": 1}), ctx
    )
    assert isinstance(result, ToolResult) and result.images[0].size == (100, 100)
    assert result.images[0].getpixel((0, 0)) == (0, 0, 255)
    bad = registry.call(ToolCall(name="image_zoom_in_tool", arguments={"bbox_2d": [600, 0, 500, 10]}), ctx)
    assert "x1 < x2" in bad.error
    missing = registry.call(ToolCall(name="image_zoom_in_tool", arguments={"bbox_2d": [0, 0, 5, 5], "img_idx": 7}), ctx)
    assert "out of range" in missing.error
