"""The registry: lists tool schemas for the prompt and dispatches calls, failures included.

``ToolRegistry.call`` is the one place where anything a tool raises becomes an error
``ToolResult``; the agent never sees an exception from a tool.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from pixelpilot.envs.core.toolcall import ToolCall
from pixelpilot.errors import PixelpilotError
from pixelpilot.tools.base import PromptStyle, Tool, ToolContext, ToolResult

log = logging.getLogger(__name__)
T = TypeVar("T")


class ToolRegistry:
    """A named set of tools."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self._pool: ThreadPoolExecutor | None = None
        for t in tools:
            self.register(t)

    def register(self, tool: Tool) -> Tool:
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __iter__(self):
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def schemas(self, style: PromptStyle = "qwen") -> list[dict]:
        return [t.schema(style) for t in self._tools.values()]

    def tools_block(self, style: PromptStyle = "qwen") -> str:
        """The ``<tools>`` block of the system turn: one JSON object per line, written as Qwen-Agent's
        ``NousFnCallPrompt`` and Qwen3-VL's chat template write it (``json.dumps``, non-ASCII kept)."""
        lines = "\n".join(json.dumps(s, ensure_ascii=False) for s in self.schemas(style))
        return f"<tools>\n{lines}\n</tools>"

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def call(self, call: ToolCall, context: ToolContext | None = None) -> ToolResult:
        """Run one call; unknown tools, bad arguments, timeouts and raised errors all become error results."""
        tool = self._tools.get(call.name)
        if tool is None:
            return ToolResult(error=f"unknown tool {call.name!r}; available: {', '.join(self._tools)}")
        return self.attempt(call.name, tool.run, call.arguments, context or ToolContext(), timeout=tool.timeout)

    def attempt(self, name: str, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T | ToolResult:
        """``fn(*args)``, or the error result of tool ``name`` when it raises or overruns ``timeout`` seconds.

        ``call`` runs whole tools through it; the agent runs the two halves of a GUI call through it
        (the action before the environment steps, the result after), so both fail the same way.
        """
        try:
            if timeout is None:
                return fn(*args)
            return self._executor().submit(fn, *args).result(timeout=timeout)
        except FutureTimeout:
            return ToolResult(error=f"{name} timed out after {timeout:g} s")
        except PixelpilotError as error:
            return ToolResult(error=str(error))
        except Exception as error:
            log.exception("tool %s raised", name)
            return ToolResult(error=f"{name} failed: {type(error).__name__}: {error}")

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pixelpilot-tool")
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
