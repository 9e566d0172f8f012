"""Gymnasium environments for screens, the action schema and the task suites."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixelpilot.envs.actions import (
    Action,
    ComputerAction,
    MobileAction,
    action_from_call,
    parse_action,
    to_grid,
    to_pixels,
)
from pixelpilot.envs.miniwob import MiniWoBTask, miniwob_tasks
from pixelpilot.envs.registration import register_envs, registered_envs
from pixelpilot.envs.tasks import TaskStatus, URLTask, WebTask
from pixelpilot.envs.toolcall import ToolCall, extract_tool_calls

if TYPE_CHECKING:
    from pixelpilot.envs.web import WebEnv

__all__ = [
    "Action",
    "ComputerAction",
    "MiniWoBTask",
    "MobileAction",
    "TaskStatus",
    "ToolCall",
    "URLTask",
    "WebEnv",
    "WebTask",
    "action_from_call",
    "extract_tool_calls",
    "miniwob_tasks",
    "parse_action",
    "register_envs",
    "registered_envs",
    "to_grid",
    "to_pixels",
]


def __getattr__(name: str) -> Any:
    # WebEnv pulls in Playwright, numpy and Pillow; `import pixelpilot` (which registers ids) must stay light.
    if name == "WebEnv":
        from pixelpilot.envs.web import WebEnv

        return WebEnv
    raise AttributeError(f"module 'pixelpilot.envs' has no attribute {name!r}")
