"""Gymnasium environments for screens, the action schema and the task suites."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixelpilot.envs.core.actions import (
    Action,
    ComputerAction,
    MobileAction,
    action_from_call,
    parse_action,
    to_grid,
    to_pixels,
)
from pixelpilot.envs.core.registry import register_envs, registered_envs
from pixelpilot.envs.core.task import Task, TaskStatus
from pixelpilot.envs.core.toolcall import ToolCall, extract_tool_calls
from pixelpilot.envs.web.miniwob.suite import MiniWoBTask, miniwob_tasks
from pixelpilot.envs.web.tasks import URLTask, WebTask

if TYPE_CHECKING:
    from pixelpilot.envs.web.env import WebEnv

__all__ = [
    "Action",
    "ComputerAction",
    "MiniWoBTask",
    "MobileAction",
    "Task",
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
        from pixelpilot.envs.web.env import WebEnv

        return WebEnv
    raise AttributeError(f"module 'pixelpilot.envs' has no attribute {name!r}")
