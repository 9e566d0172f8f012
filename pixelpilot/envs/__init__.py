"""Gymnasium environments for screens, the action schema and the task suites."""

from pixelpilot.envs.actions import (
    Action,
    ComputerAction,
    MobileAction,
    action_from_call,
    parse_action,
    to_pixels,
)
from pixelpilot.envs.toolcall import ToolCall, extract_tool_calls

__all__ = [
    "Action",
    "ComputerAction",
    "MobileAction",
    "ToolCall",
    "action_from_call",
    "extract_tool_calls",
    "parse_action",
    "to_pixels",
]
