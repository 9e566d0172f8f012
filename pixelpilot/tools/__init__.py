"""Typed tools the model can call: the registry, the zoom-in crop, and the GUI tools bound to environments."""

from pixelpilot.tools.base import FunctionTool, Tool, ToolContext, ToolResult, tool
from pixelpilot.tools.gui import ComputerUseTool, GUITool, MobileUseTool, gui_tool_for
from pixelpilot.tools.registry import ToolRegistry
from pixelpilot.tools.zoom import image_zoom_in_tool, zoom_crop

__all__ = [
    "ComputerUseTool",
    "FunctionTool",
    "GUITool",
    "MobileUseTool",
    "Tool",
    "ToolContext",
    "ToolRegistry",
    "ToolResult",
    "gui_tool_for",
    "image_zoom_in_tool",
    "tool",
    "zoom_crop",
]
