"""The action schema shared by every environment: Qwen3-VL's ``computer_use`` and ``mobile_use``.

Actions are validated on the way in so that a model's mistake (a missing argument, a coordinate
off the 0–1000 grid, an unknown action) becomes an ``ActionError`` naming the field, which the
agent hands back to the model. Coordinates stay on the 0–1000 grid until an environment calls
``to_pixels``, the single place where they become pixels.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from pixelpilot.envs.core.toolcall import ToolCall, extract_tool_calls
from pixelpilot.errors import ActionError, PixelpilotError

GRID = 1000
"""Qwen3-VL's coordinate grid: integers in [0, 1000] on each axis, whatever the image size."""

Coordinate = tuple[int, int]

COMPUTER_ACTIONS = (
    "key",
    "type",
    "mouse_move",
    "left_click",
    "left_click_drag",
    "right_click",
    "middle_click",
    "double_click",
    "triple_click",
    "scroll",
    "hscroll",
    "wait",
    "terminate",
    "answer",
)
MOBILE_ACTIONS = (
    "key",
    "click",
    "long_press",
    "swipe",
    "type",
    "system_button",
    "open",
    "wait",
    "terminate",
    "answer",
)


def to_pixels(coordinate: Coordinate, width: int, height: int) -> tuple[int, int]:
    """Map a 0–1000 grid point onto a width×height screen (clamped inside it)."""
    x, y = coordinate
    x_px = min(max(round(x / GRID * width), 0), width - 1)
    y_px = min(max(round(y / GRID * height), 0), height - 1)
    return x_px, y_px


def to_grid(x: float, y: float, width: float, height: float) -> tuple[int, int]:
    """The 0–1000 grid point where a point of a width×height screen appears (clamped to the grid)."""
    return min(max(round(x / width * GRID), 0), GRID), min(max(round(y / height * GRID), 0), GRID)


def _coerce_coordinate(value: Any, field: str) -> Coordinate | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [
            part
            for part in value.replace("(", "")
            .replace(")", "")
            .replace("[", "")
            .replace("]", "")
            .replace(",", " ")
            .split()
        ]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{field} must be a pair [x, y], got {value!r}")
    point = []
    for v in value:
        try:
            number = float(v)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{field} must hold two numbers, got {value!r}") from None
        if not 0 <= number <= GRID:
            raise ValueError(f"{field} {list(value)} is outside the 0-{GRID} grid")
        point.append(round(number))
    return point[0], point[1]


class _Action(BaseModel):
    """Fields and checks common to both GUI tools."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    tool: ClassVar[str]
    required: ClassVar[dict[str, tuple[str, ...]]]

    text: str | None = None
    coordinate: Coordinate | None = None
    time: float | None = None
    status: Literal["success", "failure"] | None = None

    @field_validator("coordinate", mode="before")
    @classmethod
    def _grid_point(cls, value: Any) -> Coordinate | None:
        return _coerce_coordinate(value, "coordinate")

    @field_validator("time")
    @classmethod
    def _non_negative_time(cls, value: float | None) -> float | None:
        if value is not None and value < 0:
            raise ValueError("time must be >= 0 seconds")
        return value

    @model_validator(mode="after")
    def _required_arguments(self) -> _Action:
        action = self.action  # type: ignore[attr-defined]
        missing = [name for name in self.required.get(action, ()) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"action '{action}' needs argument(s): {', '.join(missing)}")
        return self

    @property
    def is_final(self) -> bool:
        """Whether the action ends the episode (terminate or answer)."""
        return self.action in ("terminate", "answer")  # type: ignore[attr-defined]

    def to_tool_call(self) -> ToolCall:
        """The call a model would emit for this action."""
        arguments = self.model_dump(exclude_none=True, mode="json")
        return ToolCall(name=self.tool, arguments={"action": arguments.pop("action"), **arguments})


class ComputerAction(_Action):
    """One ``computer_use`` action: desktop and web screens, addressed on the 0–1000 grid."""

    tool: ClassVar[str] = "computer_use"
    required: ClassVar[dict[str, tuple[str, ...]]] = {
        "key": ("keys",),
        "type": ("text",),
        "mouse_move": ("coordinate",),
        "left_click": ("coordinate",),
        "left_click_drag": ("coordinate",),
        "right_click": ("coordinate",),
        "middle_click": ("coordinate",),
        "double_click": ("coordinate",),
        "triple_click": ("coordinate",),
        "scroll": ("pixels",),
        "hscroll": ("pixels",),
        "wait": ("time",),
        "terminate": ("status",),
        "answer": ("text",),
    }

    action: Literal[COMPUTER_ACTIONS]  # type: ignore[valid-type]  # a tuple subscript spreads into the Literal
    keys: list[str] | None = None
    pixels: int | None = None

    @field_validator("keys", mode="before")
    @classmethod
    def _key_list(cls, value: Any) -> list[str] | None:
        if isinstance(value, str):
            value = [k for k in value.split("+") if k] if value != "+" else ["+"]
        if isinstance(value, list) and not value:
            raise ValueError("keys must name at least one key")
        return value


class MobileAction(_Action):
    """One ``mobile_use`` action: Android screens, addressed on the 0–1000 grid."""

    tool: ClassVar[str] = "mobile_use"
    required: ClassVar[dict[str, tuple[str, ...]]] = {
        "key": ("text",),
        "click": ("coordinate",),
        "long_press": ("coordinate",),
        "swipe": ("coordinate", "coordinate2"),
        "type": ("text",),
        "system_button": ("button",),
        "open": ("text",),
        "wait": ("time",),
        "terminate": ("status",),
        "answer": ("text",),
    }

    action: Literal[MOBILE_ACTIONS]  # type: ignore[valid-type]
    coordinate2: Coordinate | None = None
    button: Literal["Back", "Home", "Menu", "Enter"] | None = None

    @field_validator("coordinate2", mode="before")
    @classmethod
    def _grid_point2(cls, value: Any) -> Coordinate | None:
        return _coerce_coordinate(value, "coordinate2")


Action = ComputerAction | MobileAction
ACTION_TYPES: dict[str, type[_Action]] = {"computer_use": ComputerAction, "mobile_use": MobileAction}


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "arguments"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(message if field == "arguments" or field in message else f"{field}: {message}")
    return "; ".join(parts)


def action_from_call(call: ToolCall) -> Action:
    """Validate a GUI tool call; an ActionError names what is wrong."""
    if call.name not in ACTION_TYPES:
        raise ActionError(f"unknown GUI tool '{call.name}' (expected one of {sorted(ACTION_TYPES)})")
    return action_from_arguments(call.arguments, tool=call.name)


def action_from_arguments(arguments: dict[str, Any], tool: str = "computer_use") -> Action:
    """Validate the arguments of a ``computer_use``/``mobile_use`` call."""
    model = ACTION_TYPES[tool]
    if "action" not in arguments:
        raise ActionError(f"{tool} needs an 'action' argument")
    allowed = model.required.keys()
    if not isinstance(arguments["action"], str) or arguments["action"] not in allowed:
        raise ActionError(f"unknown {tool} action {arguments['action']!r}; expected one of {', '.join(allowed)}")
    try:
        return model.model_validate(arguments)
    except ValidationError as error:
        raise ActionError(f"invalid {tool} call: {_describe(error)}") from None


def parse_action(action: Action | ToolCall | dict[str, Any] | str, tool: str = "computer_use") -> Action:
    """Accept what ``env.step`` accepts: an Action, a ToolCall, a dict of arguments, or a model's raw text.

    Raw text must hold exactly one ``<tool_call>`` for a GUI tool.
    """
    if isinstance(action, (ComputerAction, MobileAction)):
        return action
    if isinstance(action, ToolCall):
        return action_from_call(action)
    if isinstance(action, dict):
        if "name" in action and "arguments" in action:
            return action_from_call(ToolCall.model_validate(action))
        return action_from_arguments(action, tool=tool)
    if isinstance(action, str):
        try:
            calls = extract_tool_calls(action)
        except PixelpilotError as error:
            raise ActionError(str(error)) from None
        if len(calls) != 1:
            raise ActionError(f"expected exactly one <tool_call> in the text, found {len(calls)}")
        return action_from_call(calls[0])
    raise ActionError(f"cannot read an action from {type(action).__name__}")
