"""Qwen3-VL's hermes-style tool-call text: ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``.

This is the one place that reads and writes that format, so the environment (which accepts a
model's raw text in ``step``) and the agent's response parser agree on it byte for byte.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pixelpilot.errors import ToolCallParseError

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|(?=<tool_call>)|\Z)", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


class ToolCall(BaseModel):
    """One call a model asked for: a tool name and its JSON arguments."""

    model_config = ConfigDict(frozen=True)

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    def to_text(self) -> str:
        """Render the call exactly as Qwen3-VL writes it."""
        payload = json.dumps({"name": self.name, "arguments": self.arguments}, ensure_ascii=False)
        return f"{TOOL_CALL_OPEN}\n{payload}\n{TOOL_CALL_CLOSE}"


def _first_json_object(text: str) -> str:
    """Cut the first balanced ``{...}`` out of text, ignoring braces inside strings."""
    start = text.find("{")
    if start < 0:
        raise ToolCallParseError("no JSON object inside <tool_call>")
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    # Unbalanced: models often stop before the last brace(s); close them for them.
    return text[start:] + "}" * depth


def _loads_lenient(raw: str) -> Any:
    """json.loads, then retries for what models commonly get wrong: trailing commas, single quotes."""
    attempts = (raw, _TRAILING_COMMA.sub(r"\1", raw))
    for candidate in attempts:
        try:
            return json.loads(candidate)
        except (ValueError, RecursionError):  # JSONDecodeError, huge integers, absurd nesting
            continue
    if "'" in raw and '"' not in raw:
        try:
            return json.loads(_TRAILING_COMMA.sub(r"\1", raw.replace("'", '"')))
        except (ValueError, RecursionError):
            pass
    raise ToolCallParseError(f"tool call is not valid JSON: {raw[:200]!r}")


def parse_tool_call_body(body: str) -> ToolCall:
    """Turn the text between ``<tool_call>`` tags into a ToolCall, leniently."""
    data = _loads_lenient(_first_json_object(body))
    if not isinstance(data, dict):
        raise ToolCallParseError("tool call must be a JSON object with 'name' and 'arguments'")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ToolCallParseError("tool call has no 'name' string")
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):
        arguments = _loads_lenient(_first_json_object(arguments)) if arguments.strip() else {}
    if not isinstance(arguments, dict):
        raise ToolCallParseError("tool call 'arguments' must be a JSON object")
    return ToolCall(name=name, arguments=arguments)


def split_tool_calls(text: str) -> tuple[list[str], list[str]]:
    """The bodies of text's ``<tool_call>`` blocks, in order, and the pieces of text outside them.

    A block ends at its closing tag, at the next opening tag, or at the end of the text: a model
    that forgot a closing tag loses only that block's end, not the calls after it.
    """
    bodies, outside, end = [], [], 0
    for match in _BLOCK.finditer(text):
        outside.append(text[end : match.start()])
        bodies.append(match.group(1))
        end = match.end()
    outside.append(text[end:])
    return bodies, outside


def extract_tool_calls(text: str) -> list[ToolCall]:
    """Every ``<tool_call>`` block in text, in order; a malformed block raises ToolCallParseError."""
    return [parse_tool_call_body(body) for body in split_tool_calls(text)[0]]
