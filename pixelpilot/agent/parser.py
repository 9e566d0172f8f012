"""Reading a model's response: its thought, its free text and its tool calls, whatever shape it is in.

Any string goes in and a ``ParsedResponse`` always comes out, because a model's output is data,
not code: a malformed block becomes an error on that block alone, so one bad call never loses
the good calls beside it, and the agent can tell the model exactly what it got wrong.

Tool-call blocks are cut and read by ``pixelpilot.envs.core.toolcall`` (``split_tool_calls``,
``parse_tool_call_body``), so the agent and the environment's raw-text path read each block identically.
Calls inside the ``<think>`` section are not calls: thinking models rehearse calls there before making them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from pixelpilot.envs.core.toolcall import TOOL_CALL_OPEN, ToolCall, parse_tool_call_body, split_tool_calls
from pixelpilot.errors import PixelpilotError

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
MAX_ARGUMENT_DEPTH = 16
"""Deeper arguments are refused: no tool takes them, and they would strain JSON serialisation."""


class ParsedCall(BaseModel):
    """One ``<tool_call>`` block: either a call, or the reason it could not be read."""

    model_config = ConfigDict(frozen=True)

    raw: str
    call: ToolCall | None = None
    error: str | None = None


class ParsedResponse(BaseModel):
    """A model turn taken apart."""

    model_config = ConfigDict(frozen=True)

    raw: str
    """The response with invalid code points replaced, so that it can always be saved as JSON."""
    thought: str | None = None
    text: str = ""
    """Free text outside the thought and the tool-call blocks."""
    blocks: list[ParsedCall] = []
    answer: str | None = None
    """The text of the first well-formed ``answer`` action, if the model gave one."""

    @property
    def calls(self) -> list[ToolCall]:
        return [b.call for b in self.blocks if b.call is not None]

    @property
    def errors(self) -> list[str]:
        return [b.error for b in self.blocks if b.error is not None]


def valid_unicode(text: str) -> str:
    """Replace lone surrogates (which random token soup or a JSON ``\\ud800`` escape can produce) by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def split_thought(text: str) -> tuple[str | None, str]:
    """Separate the ``<think>`` section from the rest.

    Handles a closed ``<think>…</think>``, an unclosed ``<think>`` (the response was cut off, or
    the model went straight on to a call), and a bare ``</think>`` from thinking models whose chat
    template already opened the think block in the prompt.
    """
    start = text.find(THINK_OPEN)
    end = text.find(THINK_CLOSE)
    if end >= 0 and (start < 0 or end < start):
        thought, rest = text[:end], text[end + len(THINK_CLOSE) :]
    elif end >= 0:
        thought = text[start + len(THINK_OPEN) : end]
        rest = text[:start] + text[end + len(THINK_CLOSE) :]
    elif start >= 0:
        after = text[start + len(THINK_OPEN) :]
        cut = after.find(TOOL_CALL_OPEN)
        thought, rest = (after, text[:start]) if cut < 0 else (after[:cut], text[:start] + after[cut:])
    else:
        return None, text
    rest = rest.replace(THINK_OPEN, "").replace(THINK_CLOSE, "")
    return thought.strip() or None, rest


def _clean(value: Any, depth: int = 0) -> Any:
    if depth > MAX_ARGUMENT_DEPTH:
        raise PixelpilotError(f"tool call arguments are nested deeper than {MAX_ARGUMENT_DEPTH} levels")
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, dict):
        return {valid_unicode(str(k)): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    return value


def _parse_block(body: str) -> ParsedCall:
    raw = body.strip()
    try:
        call = parse_tool_call_body(body)
        call = ToolCall(name=valid_unicode(call.name), arguments=_clean(call.arguments))
    except PixelpilotError as error:
        return ParsedCall(raw=raw, error=str(error))
    except (ValueError, RecursionError) as error:
        # json.loads refuses huge integers (ValueError) and deep nesting (RecursionError).
        return ParsedCall(raw=raw, error=f"tool call is not valid JSON: {type(error).__name__}: {error}"[:300])
    return ParsedCall(raw=raw, call=call)


def _answer(calls: list[ToolCall]) -> str | None:
    for call in calls:
        if call.arguments.get("action") == "answer" and isinstance(call.arguments.get("text"), str):
            return call.arguments["text"]
    return None


def parse_response(text: str) -> ParsedResponse:
    """Take a model's response apart; never raises, whatever the string."""
    raw = valid_unicode(text)
    thought, rest = split_thought(raw)
    bodies, free = split_tool_calls(rest)
    blocks = [_parse_block(body) for body in bodies]
    calls = [b.call for b in blocks if b.call is not None]
    return ParsedResponse(
        raw=raw,
        thought=thought,
        text="\n".join(part.strip() for part in free if part.strip()),
        blocks=blocks,
        answer=_answer(calls),
    )
