"""``computer_use`` and ``mobile_use``: the GUI tools Qwen3-VL was trained on, bound to an environment.

A call is validated into an Action, then carried out by ``env.step``; the new screenshot goes
back to the model and the step itself (reward, termination, info) to the agent as ``ToolResult.step``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, SupportsFloat

import gymnasium as gym
from PIL import Image

from pixelpilot.envs.core.actions import COMPUTER_ACTIONS, GRID, MOBILE_ACTIONS, Action, action_from_arguments
from pixelpilot.tools.base import EnvStep, Tool, ToolContext, ToolResult

# Qwen's wording, word for word: ``computer_use`` as the Qwen3-VL computer-use cookbook renders the
# ``ComputerUse`` tool of its ``cookbooks/utils/agent_function_call.py`` (screen 1000x1000 there too),
# ``mobile_use`` as the Qwen3-VL mobile-agent cookbook writes it in its system prompt (which says 999x999;
# here the 1000x1000 of Qwen3-VL's 0-1000 grid). Dict order is the order Qwen's JSON lists the keys in.

COMPUTER_USE_DESCRIPTION = f"""Use a mouse and keyboard to interact with a computer, and take screenshots.
* This is an interface to a desktop GUI. You do not have access to a terminal or applications menu. You must click on desktop icons to start applications.
* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions. E.g. if you click on Firefox and a window doesn't open, try wait and taking another screenshot.
* The screen's resolution is {GRID}x{GRID}.
* Whenever you intend to move the cursor to click on an element like an icon, you should consult a screenshot to determine the coordinates of the element before moving the cursor.
* If you tried clicking on a program or link but it failed to load, even after waiting, try adjusting your cursor position so that the tip of the cursor visually falls on the element that you want to click.
* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element. Don't click boxes on their edges."""

_STATUS = {
    "description": "The status of the task. Required only by `action=terminate`.",
    "type": "string",
    "enum": ["success", "failure"],
}
_TYPE_TEXT = {"description": "Required only by `action=type` and `action=answer`.", "type": "string"}

COMPUTER_USE_PARAMETERS: dict[str, Any] = {
    "properties": {
        "action": {
            "description": """The action to perform. The available actions are:
* `key`: Performs key down presses on the arguments passed in order, then performs key releases in reverse order.
* `type`: Type a string of text on the keyboard.
* `mouse_move`: Move the cursor to a specified (x, y) pixel coordinate on the screen.
* `left_click`: Click the left mouse button at a specified (x, y) pixel coordinate on the screen.
* `left_click_drag`: Click and drag the cursor to a specified (x, y) pixel coordinate on the screen.
* `right_click`: Click the right mouse button at a specified (x, y) pixel coordinate on the screen.
* `middle_click`: Click the middle mouse button at a specified (x, y) pixel coordinate on the screen.
* `double_click`: Double-click the left mouse button at a specified (x, y) pixel coordinate on the screen.
* `triple_click`: Triple-click the left mouse button at a specified (x, y) pixel coordinate on the screen (simulated as double-click since it's the closest action).
* `scroll`: Performs a scroll of the mouse scroll wheel.
* `hscroll`: Performs a horizontal scroll (mapped to regular scroll).
* `wait`: Wait specified seconds for the change to happen.
* `terminate`: Terminate the current task and report its completion status.
* `answer`: Answer a question.""",
            "enum": list(COMPUTER_ACTIONS),  # the official order
            "type": "string",
        },
        "keys": {"description": "Required only by `action=key`.", "type": "array"},
        "text": _TYPE_TEXT,
        "coordinate": {
            "description": "(x, y): The x (pixels from the left edge) and y (pixels from the top edge) coordinates to move the mouse to.",
            "type": "array",
        },
        "pixels": {
            "description": "The amount of scrolling to perform. Positive values scroll up, negative values scroll down. Required only by `action=scroll` and `action=hscroll`.",
            "type": "number",
        },
        "time": {"description": "The seconds to wait. Required only by `action=wait`.", "type": "number"},
        "status": _STATUS,
    },
    "required": ["action"],
    "type": "object",
}

MOBILE_USE_DESCRIPTION = f"""Use a touchscreen to interact with a mobile device, and take screenshots.
* This is an interface to a mobile device with touchscreen. You can perform actions like clicking, typing, swiping, etc.
* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions.
* The screen's resolution is {GRID}x{GRID}.
* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element. Don't click boxes on their edges unless asked."""

MOBILE_USE_PARAMETERS: dict[str, Any] = {
    "properties": {
        "action": {
            "description": """The action to perform. The available actions are:
* `click`: Click the point on the screen with coordinate (x, y).
* `long_press`: Press the point on the screen with coordinate (x, y) for specified seconds.
* `swipe`: Swipe from the starting point with coordinate (x, y) to the end point with coordinates2 (x2, y2).
* `type`: Input the specified text into the activated input box.
* `answer`: Output the answer.
* `system_button`: Press the system button.
* `wait`: Wait specified seconds for the change to happen.
* `terminate`: Terminate the current task and report its completion status.""",
            "enum": ["click", "long_press", "swipe", "type", "answer", "system_button", "wait", "terminate"],
            "type": "string",
        },
        "coordinate": {
            "description": "(x, y): The x (pixels from the left edge) and y (pixels from the top edge) coordinates to move the mouse to. Required only by `action=click`, `action=long_press`, and `action=swipe`.",
            "type": "array",
        },
        "coordinate2": {
            "description": "(x, y): The x (pixels from the left edge) and y (pixels from the top edge) coordinates to move the mouse to. Required only by `action=swipe`.",
            "type": "array",
        },
        "text": _TYPE_TEXT,
        "time": {
            "description": "The seconds to wait. Required only by `action=long_press` and `action=wait`.",
            "type": "number",
        },
        "button": {
            "description": "Back means returning to the previous interface, Home means returning to the desktop, Menu means opening the application background menu, and Enter means pressing the enter. Required only by `action=system_button`",
            "enum": ["Back", "Home", "Menu", "Enter"],
            "type": "string",
        },
        "status": _STATUS,
    },
    "required": ["action"],
    "type": "object",
}
"""Qwen's mobile agent offers no ``key`` or ``open``; the environment still takes them (``MOBILE_ACTIONS``)."""

# pixelpilot's first wording, kept byte for byte: pixelpilot-nano was trained on it (prompt style ``pixelpilot``).

_COORD = {
    "type": "array",
    "items": {"type": "integer"},
    "description": "(x, y): x pixels from the left edge and y pixels from the top edge, on the 1000x1000 screen.",
}

PIXELPILOT_COMPUTER_USE_DESCRIPTION = """Use a mouse and keyboard to interact with a computer, and take screenshots.
* This is an interface to a desktop GUI. You do not have access to a terminal or applications menu. You must click on desktop icons to start applications.
* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions.
* The screen's resolution is 1000x1000.
* Whenever you intend to move the cursor to click on an element, consult a screenshot to determine the coordinates of the element before moving the cursor.
* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element."""

PIXELPILOT_COMPUTER_USE_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {
            "type": "string",
            "enum": list(COMPUTER_ACTIONS),
            "description": (
                "The action to perform: key (press keys in order, release in reverse), type (type a string), "
                "mouse_move, left_click, left_click_drag (drag from the cursor to coordinate), right_click, "
                "middle_click, double_click, triple_click, scroll / hscroll (by pixels; positive is up/right), "
                "wait (seconds), terminate (end the task with a status), answer (give the answer to the user)."
            ),
        },
        "keys": {"type": "array", "items": {"type": "string"}, "description": "Required only by action=key."},
        "text": {"type": "string", "description": "Required only by action=type and action=answer."},
        "coordinate": _COORD,
        "pixels": {
            "type": "integer",
            "description": "Scroll amount; positive scrolls up (or right). Required only by action=scroll and action=hscroll.",
        },
        "time": {"type": "number", "description": "Seconds to wait. Required only by action=wait."},
        "status": {
            "type": "string",
            "enum": ["success", "failure"],
            "description": "Required only by action=terminate.",
        },
    },
    "required": ["action"],
}

PIXELPILOT_MOBILE_USE_DESCRIPTION = """Use a touchscreen to interact with a mobile device, and take screenshots.
* This is an interface to a mobile device with touchscreen. You can perform actions like clicking, typing, swiping, etc.
* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions.
* The screen's resolution is 1000x1000.
* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element."""

PIXELPILOT_MOBILE_USE_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {
            "type": "string",
            "enum": list(MOBILE_ACTIONS),
            "description": (
                "The action to perform: key (a key event, text), click, long_press (for time seconds), "
                "swipe (from coordinate to coordinate2), type, system_button (Back, Home, Menu, Enter), "
                "open (an app by name), wait, terminate, answer."
            ),
        },
        "coordinate": _COORD,
        "coordinate2": {**_COORD, "description": "(x, y) where a swipe ends. Required only by action=swipe."},
        "text": {
            "type": "string",
            "description": "Required only by action=key, action=type, action=open and action=answer.",
        },
        "time": {"type": "number", "description": "Seconds. Required only by action=long_press and action=wait."},
        "button": {
            "type": "string",
            "enum": ["Back", "Home", "Menu", "Enter"],
            "description": "Required only by action=system_button.",
        },
        "status": {
            "type": "string",
            "enum": ["success", "failure"],
            "description": "Required only by action=terminate.",
        },
    },
    "required": ["action"],
}


StepOutcome = tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]
"""The five values of a gymnasium ``step``."""


class GUITool(Tool):
    """A GUI tool whose calls become ``env.step`` actions on one environment.

    A call has two halves around the environment's step: ``action`` validates the arguments and
    ``result`` turns the step's outcome into what the model sees. ``run`` joins them with a local
    ``env.step``; a rollout over remote environments runs the halves itself and steps in between.
    """

    timeout = None  # environments own their timeouts; their resources are bound to this thread

    def __init__(self, env: gym.Env) -> None:
        self.env = env

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        action = self.action(arguments)
        return self.result(action, self.env.step(action))

    def action(self, arguments: dict[str, Any]) -> Action:
        return action_from_arguments(arguments, tool=self.name)

    def result(self, action: Action, outcome: StepOutcome) -> ToolResult:
        observation, reward, terminated, truncated, info = outcome
        step = EnvStep(action, float(reward), bool(terminated), bool(truncated), info)
        error = info.get("action_error")
        if error:
            return ToolResult(error=error, step=step)
        screenshot = Image.fromarray(observation["screenshot"])
        return ToolResult(text=_done(action, info), images=(screenshot,), step=step)


def _done(action: Action, info: dict[str, Any]) -> str:
    """What the model reads besides the screenshot: the action, then the environment's ``notes`` (what a
    screenshot alone does not tell, such as a browser tab that opened or closed)."""
    return " ".join([f"{action.action} done.", *info.get("notes", ())])


class ComputerUseTool(GUITool):
    name = "computer_use"
    description = COMPUTER_USE_DESCRIPTION
    parameters = COMPUTER_USE_PARAMETERS
    wordings = MappingProxyType(
        {"pixelpilot": (PIXELPILOT_COMPUTER_USE_DESCRIPTION, PIXELPILOT_COMPUTER_USE_PARAMETERS)}
    )


class MobileUseTool(GUITool):
    name = "mobile_use"
    description = MOBILE_USE_DESCRIPTION
    parameters = MOBILE_USE_PARAMETERS
    wordings = MappingProxyType({"pixelpilot": (PIXELPILOT_MOBILE_USE_DESCRIPTION, PIXELPILOT_MOBILE_USE_PARAMETERS)})


def gui_tool_for(env: gym.Env) -> GUITool:
    """The GUI tool an environment speaks: ``env.unwrapped.gui_tool`` names it (computer_use by default)."""
    kind = getattr(env.unwrapped, "gui_tool", "computer_use")
    return MobileUseTool(env) if kind == "mobile_use" else ComputerUseTool(env)
