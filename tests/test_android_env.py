"""AndroidEnv on the simulated phone in real Chromium: every mobile_use action, errors, determinism,
gymnasium's checker, vector environments, crash recovery, cleanup, and a real tiny Qwen3-VL driving it."""

from __future__ import annotations

import functools
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from pixelpilot.envs.android import android_task, env_id
from pixelpilot.envs.android.env import AndroidEnv
from pixelpilot.envs.core.toolcall import ToolCall
from pixelpilot.envs.web.browser import MARKER_SWITCH


def call(**arguments: Any) -> str:
    """A model's reply holding one mobile_use call, as Qwen3-VL writes it."""
    return f"Sure.\n<tool_call>\n{json.dumps({'name': 'mobile_use', 'arguments': arguments})}\n</tool_call>"


@pytest.fixture(scope="module")
def env() -> Iterator[AndroidEnv]:
    environment = gym.make(env_id("contacts-favorite"), render_mode="rgb_array").unwrapped
    assert isinstance(environment, AndroidEnv)
    yield environment
    environment.close()


def screen(env: AndroidEnv) -> dict[str, Any]:
    return env.device.current_screen()  # type: ignore[attr-defined]


def centre(env: AndroidEnv, locator: Any) -> list[int]:
    """Where a person would touch an element: the grid point of its box's centre."""
    box = locator.first.bounding_box()
    assert box is not None, f"{locator} is not displayed"
    return list(env.to_grid(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))


def tap(env: AndroidEnv, locator: Any) -> dict[str, Any]:
    *_, info = env.step(call(action="click", coordinate=centre(env, locator)))
    assert "action_error" not in info, info["action_error"]
    return info


def list_scroll(env: AndroidEnv) -> float:
    return env.page.locator(".scroll").first.evaluate("el => el.scrollTop")


def test_check_env_passes(env: AndroidEnv) -> None:
    check_env(env)


def test_reset_shows_the_home_screen_at_phone_resolution(env: AndroidEnv) -> None:
    obs, info = env.reset(seed=0)
    assert obs["screenshot"].shape == (1560, 720, 3) and obs["screenshot"].dtype == np.uint8
    assert obs in env.observation_space
    assert obs["instruction"].startswith("Add ") and "favorite" in obs["instruction"]
    assert info["task"] == "contacts-favorite" and info["seed"] == 0 and not info["success"]
    assert set(info["timings"]) == {"launch", "setup", "settle", "observe"}
    assert screen(env) == {"app": None, "screen": None, "overlay": None}
    assert env.gui_tool == "mobile_use"
    assert np.array_equal(env.render(), obs["screenshot"])


def test_same_seed_same_phone_and_other_seeds_differ(env: AndroidEnv) -> None:
    first, _ = env.reset(seed=7)
    state = env.device.read_state()  # type: ignore[attr-defined]
    again, _ = env.reset(seed=7)
    assert np.array_equal(first["screenshot"], again["screenshot"]) and first["instruction"] == again["instruction"]
    assert env.device.read_state() == state  # type: ignore[attr-defined]
    env.reset(seed=8)
    assert env.device.read_state() != state  # type: ignore[attr-defined]


def test_tap_opens_an_app_from_the_launcher(env: AndroidEnv) -> None:
    env.reset(seed=0)
    info = tap(env, env.page.get_by_role("button", name="Settings", exact=True))
    assert screen(env)["app"] == "settings"
    assert set(info["timings"]) == {"action", "settle", "observe", "validate"}
    assert info["action"]["action"] == "click"


def test_long_press_opens_quick_actions_and_a_tap_opens_the_contact(env: AndroidEnv) -> None:
    env.reset(seed=0)
    env.step(call(action="open", text="Contacts"))
    first = env.page.locator(".row").first
    name = first.locator(".primary").inner_text()
    *_, info = env.step(call(action="long_press", coordinate=centre(env, first)))
    assert "action_error" not in info
    assert screen(env)["overlay"] == "sheet" and env.page.locator(".sheet").inner_text().startswith(name)
    env.step(call(action="system_button", button="Back"))  # Back closes the sheet first
    assert screen(env) == {"app": "contacts", "screen": "root", "overlay": None}
    tap(env, first)
    assert screen(env) == {"app": "contacts", "screen": "detail", "overlay": None}


def test_swipe_scrolls_a_list_both_ways(env: AndroidEnv) -> None:
    env.reset(seed=0)
    env.step(call(action="open", text="Contacts"))
    assert list_scroll(env) == 0
    env.step(call(action="swipe", coordinate=[500, 800], coordinate2=[500, 300]))
    down = list_scroll(env)
    assert down > 200  # a finger moving up by half the screen scrolls the list down
    env.step(call(action="swipe", coordinate=[500, 400], coordinate2=[500, 600]))
    assert 0 <= list_scroll(env) < down - 100


def test_type_and_keys_edit_the_focused_field(env: AndroidEnv) -> None:
    env.reset(seed=0)
    env.step(call(action="open", text="Notes"))
    tap(env, env.page.get_by_role("button", name="New note", exact=True))
    title = env.page.get_by_role("textbox", name="Title", exact=True)
    tap(env, title)
    env.step(call(action="type", text="Shopping lists"))
    env.step(call(action="key", text="KEYCODE_DEL"))
    env.step(call(action="key", text="backspace"))
    env.step(call(action="key", text="S"))  # KEYCODE_S: without Shift, Android types "s"
    assert title.input_value() == "Shopping liss"
    tap(env, env.page.get_by_role("textbox", name="Note", exact=True))
    env.step(call(action="type", text="eggs"))
    env.step(call(action="key", text="Enter"))  # a newline in a multi-line field
    env.step(call(action="type", text="milk"))
    env.step(call(action="system_button", button="Back"))  # leaving the editor saves the note
    notes = env.device.read_state().notes  # type: ignore[attr-defined]
    assert notes[-1].title == "Shopping liss" and notes[-1].body == "eggs\nmilk"
    assert screen(env)["screen"] == "root"


def test_system_buttons_back_home_menu_and_enter(env: AndroidEnv) -> None:
    env.reset(seed=0)
    env.step(call(action="open", text="Settings"))
    tap(env, env.page.get_by_text("Display", exact=True))
    assert screen(env)["screen"] == "display"
    env.step(call(action="system_button", button="Back"))
    assert screen(env)["screen"] == "root"
    env.step(call(action="system_button", button="Back"))  # back from an app's first screen: home
    assert screen(env)["app"] is None
    env.step(call(action="open", text="Messages"))
    tap(env, env.page.locator(".row").first)
    env.step(call(action="system_button", button="Menu"))
    assert screen(env)["overlay"] == "menu" and env.page.get_by_role("menuitem").inner_text() == "Delete conversation"
    env.step(call(action="system_button", button="Menu"))
    assert screen(env)["overlay"] is None
    tap(env, env.page.get_by_role("textbox", name="Text message"))
    env.step(call(action="type", text="See you there"))
    env.step(call(action="system_button", button="Enter"))  # the keyboard's Enter sends
    address = env.page.get_by_role("heading").inner_text()
    thread = env.device.read_state().thread(address)  # type: ignore[attr-defined]
    assert thread is not None and thread.messages[-1].outgoing and thread.messages[-1].text == "See you there"
    env.step(call(action="system_button", button="Home"))
    assert screen(env) == {"app": None, "screen": None, "overlay": None}


def test_open_takes_app_names_and_aliases(env: AndroidEnv) -> None:
    env.reset(seed=0)
    names = (("clock", "clock"), ("Alarm", "clock"), ("com.android.settings", "settings"), ("SMS", "messages"))
    for name, app in names:
        *_, info = env.step(call(action="open", text=name))
        assert "action_error" not in info and screen(env)["app"] == app


def test_volume_keys_and_wait(env: AndroidEnv) -> None:
    env.reset(seed=0)
    before = env.device.read_state().settings.volume  # type: ignore[attr-defined]
    env.step(call(action="key", text="KEYCODE_VOLUME_DOWN"))
    _, reward, terminated, truncated, info = env.step(call(action="wait", time=0.2))
    assert env.device.read_state().settings.volume == max(before - 10, 0)  # type: ignore[attr-defined]
    assert (reward, terminated, truncated) == (0.0, False, False) and "action_error" not in info


def test_terminate_and_answer_end_the_episode(env: AndroidEnv) -> None:
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(call(action="terminate", status="failure"))
    assert terminated and reward == 0.0 and info["status"] == "failure" and not info["success"]
    *_, info = env.step(call(action="wait", time=0.1))
    assert "episode is over" in info["action_error"]
    env.reset(seed=0)
    _, _, terminated, _, info = env.step(call(action="answer", text="I cannot tell"))
    assert terminated and info["answer"] == "I cannot tell"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (
            ToolCall(name="computer_use", arguments={"action": "left_click", "coordinate": [5, 5]}).to_text(),
            "takes mobile_use actions",
        ),
        (call(action="fly"), "unknown mobile_use action"),
        (call(action="click"), "needs argument(s): coordinate"),
        (call(action="click", coordinate=[500, 1200]), "outside the 0-1000 grid"),
        (call(action="swipe", coordinate=[500, 500]), "coordinate2"),
        (call(action="system_button", button="Power"), "button"),
        (call(action="key", text="ctrl+a"), "unknown Android key"),
        (call(action="key", text="KEYCODE_POWER"), "no KEYCODE_POWER key"),
        (call(action="open", text="Photoshop"), "no app named 'Photoshop'"),
        (call(action="wait", time=600), "over this environment's limit"),
        ("I would tap the button.", "found 0"),
        (call(action="wait", time=1) + call(action="wait", time=1), "found 2"),
        (ToolCall(name="zoom", arguments={}), "unknown GUI tool"),
        (42, "cannot read an action"),
    ],
)
def test_invalid_actions_come_back_as_errors(env: AndroidEnv, action: Any, expected: str) -> None:
    obs, _ = env.reset(seed=1)
    after, reward, terminated, truncated, info = env.step(action)
    assert expected in info["action_error"]
    assert (reward, terminated, truncated, info["success"]) == (0.0, False, False, False)
    assert np.array_equal(after["screenshot"], obs["screenshot"])  # refused before anything happened


def test_random_action_space_samples_are_handled(env: AndroidEnv) -> None:
    env.reset(seed=2)
    env.action_space.seed(0)
    for _ in range(5):
        *_, info = env.step(env.action_space.sample())
        assert info["action_error"]


def _browsers_under(ancestors: set[int]) -> list[tuple[int, str]]:
    """(pid, marker) of pixelpilot Chromiums whose process descends from one of ancestors."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            marker = next((a.split("=", 1)[1] for a in args if a.startswith(f"{MARKER_SWITCH}=")), None)
            if marker is None or "--type=" in " ".join(args):
                continue
            pid = int(entry.name)
            for _ in range(6):
                stat = Path(f"/proc/{pid}/stat").read_text()
                pid = int(stat[stat.rindex(")") + 2 :].split()[1])
                if pid in ancestors:
                    found.append((int(entry.name), marker))
                    break
        except (OSError, ValueError):
            continue
    return found


def test_two_phones_under_async_vector_env(no_browser_left: Callable[[int, str], None]) -> None:
    make = functools.partial(gym.make, env_id("settings-wifi-off"))
    envs = gym.vector.AsyncVectorEnv([make, make])
    try:
        obs, infos = envs.reset(seed=[0, 1])
        assert obs["screenshot"].shape == (2, 1560, 720, 3)
        assert tuple(obs["instruction"]) == ("Turn off Wi-Fi.", "Turn off Wi-Fi.")
        obs, rewards, terminated, truncated, infos = envs.step([call(action="open", text="Settings")] * 2)
        assert not infos.get("action_error", np.array([None, None])).any()
        assert list(rewards) == [0.0, 0.0] and not terminated.any() and not truncated.any()
        obs, rewards, *_ = envs.step([call(action="system_button", button="Home"), call(action="wait", time=0.1)])
        assert not np.array_equal(obs["screenshot"][0], obs["screenshot"][1])  # one home screen, one Settings
        browsers = _browsers_under({process.pid for process in envs.processes})
        assert len(browsers) == 2
        for pid, marker in browsers:
            no_browser_left(pid, marker)
    finally:
        envs.close()


def test_killed_browser_truncates_the_episode_and_reset_recovers(no_browser_left: Callable[[int, str], None]) -> None:
    environment = AndroidEnv(android_task("settings-wifi-off"), device_options={"device_scale_factor": 1})
    try:
        obs, _ = environment.reset(seed=0)
        session = environment.device.session  # type: ignore[attr-defined]
        no_browser_left(session.pid, session.marker)
        os.kill(session.pid, signal.SIGKILL)
        _, reward, terminated, truncated, info = environment.step(call(action="click", coordinate=[500, 500]))
        assert truncated and not terminated and reward == 0.0 and "reset() to start again" in info["action_error"]
        obs, info = environment.reset(seed=0)
        assert obs["screenshot"].shape == (780, 360, 3) and session.pid is not None
        no_browser_left(session.pid, session.marker)
        *_, info = environment.step(call(action="open", text="Settings"))
        assert "action_error" not in info
    finally:
        environment.close()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pixelpilot.model import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-qwen3-vl"))


def test_a_real_tiny_qwen3_vl_drives_the_phone(env: AndroidEnv, tiny_checkpoint: Path) -> None:
    import torch

    from pixelpilot import Agent, load_model

    torch.set_num_threads(1)
    model = load_model(f"hf:{tiny_checkpoint}")
    try:
        trajectory = Agent(model, max_steps=3).run(env, seed=0)
    finally:
        model.close()
    assert 1 <= len(trajectory.steps) <= 3 and trajectory.end_reason is not None
    for step in trajectory.steps:
        ids, logprobs = step.generation.token_ids, step.generation.logprobs
        assert ids and len(logprobs) == len(ids) and all(lp <= 0 for lp in logprobs)
