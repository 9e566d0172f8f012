"""``computer_use`` and ``mobile_use``: the GUI tools Qwen3-VL was trained on, bound to an environment.

A call is validated into an Action, then carried out by ``env.step``; the new screenshot goes
back to the model and the step's reward and termination go to the agent in ``ToolResult.data``.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from PIL import Image

from pixelpilot.envs.actions import COMPUTER_ACTIONS, MOBILE_ACTIONS, Action, action_from_arguments
from pixelpilot.tools.base import Tool, ToolContext, ToolResult

_COORD = {
    "type": "array",
    "items": {"type": "integer"},
    "description": "(x, y): x pixels from the left edge and y pixels from the top edge, on the 1000x1000 screen.",
}

COMPUTER_USE_DESCRIPTION = """Use a mouse and keyboard to interact with a computer, and take screenshots.
* This is an interface to a desktop GUI. You do not have access to a terminal or applications menu. You must click on desktop icons to start applications.
* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions.
* The screen's resolution is 1000x1000.
* Whenever you intend to move the cursor to click on an element, consult a screenshot to determine the coordinates of the element before moving the cursor.
* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element.""".strip()

COMPUTER_USE_PARAMETERS: dict[str, Any] = {
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

MOBILE_USE_DESCRIPTION = """Use a touchscreen to interact with a mobile device, and take screenshots.
* This is an interface to a mobile device with touchscreen. You can perform actions like clicking, typing, swiping, etc.
* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions.
* The screen's resolution is 1000x1000.
* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element.""".strip()

MOBILE_USE_PARAMETERS: dict[str, Any] = {
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
        data = {
            "reward": float(reward),
            "terminated": bool(terminated),
            "truncated": bool(truncated),
            "info": info,
            "observation": observation,
        }
        error = info.get("action_error")
        if error:
            return ToolResult(error=error, data=data)
        screenshot = Image.fromarray(observation["screenshot"])
        return ToolResult(text=_done(action, info), images=(screenshot,), data={**data, "action": action})


def _done(action: Action, info: dict[str, Any]) -> str:
    """What the model reads besides the screenshot: the action, and tabs that opened or closed (which a
    screenshot alone does not tell apart from the page changing)."""
    text = f"{action.action} done."
    opened, closed = info.get("page_opened") or [], info.get("page_closed") or []
    if closed:
        text += f" Closed: {', '.join(closed)}."
    if opened:
        text += f" A new page opened in front: {opened[-1]}."
    return text


class ComputerUseTool(GUITool):
    name = "computer_use"
    description = COMPUTER_USE_DESCRIPTION
    parameters = COMPUTER_USE_PARAMETERS


class MobileUseTool(GUITool):
    name = "mobile_use"
    description = MOBILE_USE_DESCRIPTION
    parameters = MOBILE_USE_PARAMETERS


def gui_tool_for(env: gym.Env) -> GUITool:
    """The GUI tool an environment speaks: ``env.unwrapped.gui_tool`` names it (computer_use by default)."""
    kind = getattr(env.unwrapped, "gui_tool", "computer_use")
    return MobileUseTool(env) if kind == "mobile_use" else ComputerUseTool(env)
