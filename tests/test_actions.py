"""The action schema: what a model may ask for, and the errors it gets back when it asks wrongly."""

from __future__ import annotations

import pytest

from pixelpilot.envs.core.actions import (
    COMPUTER_ACTIONS,
    MOBILE_ACTIONS,
    ComputerAction,
    MobileAction,
    action_from_arguments,
    parse_action,
    to_grid,
    to_pixels,
)
from pixelpilot.envs.core.toolcall import ToolCall
from pixelpilot.errors import ActionError

VALID_COMPUTER = {
    "key": {"keys": ["ctrl", "a"]},
    "type": {"text": "héllo wörld"},
    "mouse_move": {"coordinate": [10, 20]},
    "left_click": {"coordinate": [500, 500]},
    "left_click_drag": {"coordinate": [900, 100]},
    "right_click": {"coordinate": [0, 0]},
    "middle_click": {"coordinate": [1000, 1000]},
    "double_click": {"coordinate": [1, 2]},
    "triple_click": {"coordinate": [3, 4]},
    "scroll": {"pixels": -300},
    "hscroll": {"pixels": 120, "coordinate": [500, 500]},
    "wait": {"time": 0.5},
    "terminate": {"status": "success"},
    "answer": {"text": "42"},
}

VALID_MOBILE = {
    "key": {"text": "volume_up"},
    "click": {"coordinate": [100, 200]},
    "long_press": {"coordinate": [100, 200], "time": 1.5},
    "swipe": {"coordinate": [500, 800], "coordinate2": [500, 200]},
    "type": {"text": "hi"},
    "system_button": {"button": "Back"},
    "open": {"text": "Settings"},
    "wait": {"time": 1},
    "terminate": {"status": "failure"},
    "answer": {"text": "yes"},
}


def test_every_action_of_both_tools_is_covered():
    assert set(VALID_COMPUTER) == set(COMPUTER_ACTIONS)
    assert set(VALID_MOBILE) == set(MOBILE_ACTIONS)


@pytest.mark.parametrize("name", COMPUTER_ACTIONS)
def test_computer_actions_validate_and_round_trip(name):
    action = action_from_arguments({"action": name, **VALID_COMPUTER[name]}, tool="computer_use")
    assert isinstance(action, ComputerAction) and action.action == name
    assert parse_action(action.to_tool_call().to_text()) == action
    assert action.is_final == (name in ("terminate", "answer"))


@pytest.mark.parametrize("name", MOBILE_ACTIONS)
def test_mobile_actions_validate_and_round_trip(name):
    action = action_from_arguments({"action": name, **VALID_MOBILE[name]}, tool="mobile_use")
    assert isinstance(action, MobileAction)
    assert parse_action(action.to_tool_call().to_text(), tool="mobile_use") == action


@pytest.mark.parametrize(
    ("tool", "arguments", "needle"),
    [
        ("computer_use", {"action": "left_click"}, "coordinate"),
        ("computer_use", {"action": "key"}, "keys"),
        ("computer_use", {"action": "type"}, "text"),
        ("computer_use", {"action": "scroll"}, "pixels"),
        ("computer_use", {"action": "terminate", "status": "done"}, "status"),
        ("computer_use", {"action": "left_click", "coordinate": [1001, 5]}, "coordinate"),
        ("computer_use", {"action": "left_click", "coordinate": [-1, 5]}, "0-1000"),
        ("computer_use", {"action": "left_click", "coordinate": [5]}, "coordinate"),
        ("computer_use", {"action": "left_click", "coordinate": ["a", "b"]}, "coordinate"),
        ("computer_use", {"action": "wait", "time": -2}, "time"),
        ("computer_use", {"action": "fly"}, "unknown"),
        ("computer_use", {"coordinate": [1, 1]}, "action"),
        ("mobile_use", {"action": "swipe", "coordinate": [1, 1]}, "coordinate2"),
        ("mobile_use", {"action": "system_button", "button": "Power"}, "button"),
        ("mobile_use", {"action": "left_click", "coordinate": [1, 1]}, "unknown"),
    ],
)
def test_bad_actions_name_the_field(tool, arguments, needle):
    with pytest.raises(ActionError, match=needle):
        action_from_arguments(arguments, tool=tool)


def test_lenient_coercions_models_need():
    assert action_from_arguments({"action": "key", "keys": "ctrl+shift+t"}).keys == ["ctrl", "shift", "t"]
    assert action_from_arguments({"action": "left_click", "coordinate": [499.6, "20"]}).coordinate == (500, 20)
    assert action_from_arguments({"action": "left_click", "coordinate": "(12, 34)"}).coordinate == (12, 34)
    extra = action_from_arguments({"action": "left_click", "coordinate": [1, 2], "button": "left"})
    assert extra.coordinate == (1, 2)


def test_parse_action_accepts_every_input_form():
    action = ComputerAction(action="left_click", coordinate=(10, 20))
    call = ToolCall(name="computer_use", arguments={"action": "left_click", "coordinate": [10, 20]})
    assert parse_action(action) is action
    assert parse_action(call) == action
    assert parse_action({"action": "left_click", "coordinate": [10, 20]}) == action
    assert parse_action(call.model_dump()) == action
    assert parse_action("I will click.\n" + call.to_text()) == action


@pytest.mark.parametrize(
    "text",
    [
        "no call at all",
        "<tool_call>not json</tool_call>",
        '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click"}}</tool_call>',
        '<tool_call>{"name": "shell", "arguments": {"cmd": "rm -rf /"}}</tool_call>',
        '<tool_call>{"name": "computer_use", "arguments": {"action": "wait", "time": 1}}</tool_call>' * 2,
    ],
)
def test_parse_action_rejects_text_without_exactly_one_valid_gui_call(text):
    with pytest.raises(ActionError):
        parse_action(text)


def test_parse_action_rejects_other_objects():
    with pytest.raises(ActionError):
        parse_action(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("coordinate", "size", "expected"),
    [
        ((0, 0), (1280, 800), (0, 0)),
        ((500, 500), (1280, 800), (640, 400)),
        ((1000, 1000), (1280, 800), (1279, 799)),
        ((250, 750), (480, 630), (120, 472)),
    ],
)
def test_to_pixels_maps_the_grid_onto_the_screen(coordinate, size, expected):
    assert to_pixels(coordinate, *size) == expected


def test_to_grid_is_the_inverse_of_to_pixels_and_clamps():
    for x, y in ((0, 0), (640, 400), (1279, 799), (37, 512)):
        assert to_pixels(to_grid(x, y, 1280, 800), 1280, 800) == pytest.approx((x, y), abs=1)
    assert to_grid(-5, 900, 1280, 800) == (0, 1000) and to_grid(120, 472.5, 480, 630) == (250, 750)


@pytest.mark.parametrize(
    "arguments",
    [
        {"action": ["left_click"]},
        {"action": {"a": 1}},
        {"action": "left_click", "coordinate": [10**400, 1]},
    ],
)
def test_absurd_argument_types_are_action_errors(arguments):
    with pytest.raises(ActionError):
        action_from_arguments(arguments)
