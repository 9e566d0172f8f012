"""Qwen3-VL's ``<tool_call>`` text: read leniently, written exactly."""

from __future__ import annotations

import json

import pytest

from pixelpilot.envs.core.toolcall import ToolCall, extract_tool_calls
from pixelpilot.errors import ToolCallParseError


def test_round_trip_is_exact_qwen_format():
    call = ToolCall(name="computer_use", arguments={"action": "type", "text": "naïve ☃"})
    text = call.to_text()
    assert text.startswith("<tool_call>\n{") and text.endswith("}\n</tool_call>")
    assert json.loads(text.split("\n")[1]) == {"name": "computer_use", "arguments": call.arguments}
    assert extract_tool_calls(text) == [call]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>', [("a", {"x": 1})]),
        ('<tool_call>\n{"name": "a", "arguments": {"x": 1,}}\n</tool_call>', [("a", {"x": 1})]),
        ("<tool_call>{'name': 'a', 'arguments': {'x': 1}}</tool_call>", [("a", {"x": 1})]),
        ('<tool_call>{"name": "a", "arguments": {"x": 1}', [("a", {"x": 1})]),
        ('<tool_call>{"name": "a", "arguments": {"x": {"y": 2}', [("a", {"x": {"y": 2}})]),
        ('<tool_call>{"name": "a", "arguments": "{\\"x\\": 1}"}</tool_call>', [("a", {"x": 1})]),
        ('<tool_call>{"name": "a", "parameters": {"x": 1}}</tool_call>', [("a", {"x": 1})]),
        ('<tool_call>{"name": "a"}</tool_call>', [("a", {})]),
        ('<tool_call>{"name": "a", "arguments": {"t": "}{"}}</tool_call>', [("a", {"t": "}{"})]),
        (
            '<tool_call>{"name": "a", "arguments": {}}</tool_call> then <tool_call>{"name": "b", "arguments": {}}',
            [("a", {}), ("b", {})],
        ),
        ("plain text", []),
    ],
)
def test_lenient_reading(text, expected):
    assert [(c.name, c.arguments) for c in extract_tool_calls(text)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "<tool_call>nothing here</tool_call>",
        '<tool_call>["a", 1]</tool_call>',
        '<tool_call>{"arguments": {}}</tool_call>',
        '<tool_call>{"name": "a", "arguments": [1, 2]}</tool_call>',
        '<tool_call>{"name": "a", "arguments": {"x": nope}}</tool_call>',
    ],
)
def test_malformed_blocks_raise_a_parse_error(text):
    with pytest.raises(ToolCallParseError):
        extract_tool_calls(text)


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>{"name": "a", "arguments": {"x": ' + "9" * 5000 + "}}</tool_call>",
        "<tool_call>" + '{"name": "a", "arguments": ' + "[" * 100_000 + "</tool_call>",
    ],
)
def test_pathological_json_is_a_parse_error_not_a_crash(text):
    with pytest.raises(ToolCallParseError):
        extract_tool_calls(text)
