"""DesktopEnv on real Xvfb displays: every computer_use action on a real Tk window, errors, recovery, cleanup."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pydantic import PrivateAttr
from Xlib import display as xlib_display

from pixelpilot.agent import Trajectory
from pixelpilot.envs.core.actions import ComputerAction
from pixelpilot.envs.core.task import TaskStatus
from pixelpilot.envs.desktop.env import AppHandle, Desktop, DesktopEnv
from pixelpilot.envs.desktop.tasks import DesktopTask
from pixelpilot.envs.desktop.xserver import DamageWatch, XDisplay, XServer, marked_processes
from pixelpilot.errors import EnvError


class RecorderTask(DesktopTask):
    """Opens the input recorder; typing "done" into its entry (or answering "done") ends the episode with success."""

    name: str = "recorder"
    _app: AppHandle | None = PrivateAttr(default=None)

    def setup(self, desktop: Desktop, seed: int) -> str:
        self._app = desktop.start_app("recorder", {"position": [40, 30]})
        return "Type done."

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        if answer is not None:
            return TaskStatus(float(answer == "done"), True, f"answered {answer}")
        done = self.app.state().get("text") == "done"
        return TaskStatus(float(done), done, "typed done" if done else "")

    @property
    def app(self) -> AppHandle:
        assert self._app is not None
        return self._app


ANIMATOR = """
import json, sys, tkinter as tk
root = tk.Tk()
root.geometry("240x160+200+150")
canvas = tk.Canvas(root, width=240, height=160, background="#000000", highlightthickness=0)
canvas.pack()
FRAMES = [f"#{v:02x}{v:02x}00" for v in range(40, 240, 20)] + ["#00c800"]
def frame(i):
    canvas.configure(background=FRAMES[i])
    if i + 1 < len(FRAMES):
        root.after(30, frame, i + 1)
canvas.bind("<ButtonPress-1>", lambda event: root.after(40, frame, 0))
root.wait_visibility(canvas)
rect = [canvas.winfo_rootx(), canvas.winfo_rooty(), canvas.winfo_width(), canvas.winfo_height()]
with open(sys.argv[1] + ".part", "w") as out:
    json.dump(rect, out)
import os; os.replace(sys.argv[1] + ".part", sys.argv[1])
root.mainloop()
"""
"""A program that answers a click late (40 ms) and then keeps drawing: eleven frames 30 ms apart, the last green."""

FINAL_COLOUR = (0, 200, 0)


class AnimatorTask(DesktopTask):
    """Shows ANIMATOR's canvas; never done (the tests read the screen, not a verdict)."""

    name: str = "animator"
    _canvas: tuple[int, int, int, int] | None = PrivateAttr(default=None)

    def setup(self, desktop: Desktop, seed: int) -> str:
        script, ready = desktop.root / "animator.py", desktop.root / "animator.json"
        script.write_text(ANIMATOR)
        process = desktop.launch([sys.executable, str(script), str(ready)])
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the animator did not start"
            time.sleep(0.02)
        x, y, width, height = json.loads(ready.read_text())
        self._canvas = (x, y, width, height)
        return "Click the canvas."

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        return TaskStatus(0.0, False, "")

    @property
    def centre(self) -> tuple[float, float]:
        assert self._canvas is not None
        x, y, width, height = self._canvas
        return x + width / 2, y + height / 2


class Painter(threading.Thread):
    """Fills a corner of a display's root window with a new colour every gap_s, frames times or until stopped."""

    def __init__(self, display: XDisplay, frames: int | None, gap_s: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.frames, self.gap_s, self.drawn = frames, gap_s, 0
        self.first, self.stop = threading.Event(), threading.Event()
        with display.authorized():
            self._connection = xlib_display.Display(display.name)

    def run(self) -> None:
        root = self._connection.screen().root
        gc = root.create_gc()
        while (self.frames is None or self.drawn < self.frames) and not self.stop.is_set():
            gc.change(foreground=0x203040 + 0x102030 * self.drawn % 0xFFFFFF)
            root.fill_rectangle(gc, 0, 0, 64, 64)
            self._connection.sync()
            self.drawn += 1
            self.first.set()
            time.sleep(self.gap_s)
        self._connection.close()


def call(**arguments: Any) -> str:
    """A model's reply holding one computer_use call, as Qwen3-VL writes it."""
    return f"Let me act.\n<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


@pytest.fixture(scope="module")
def env() -> Iterator[DesktopEnv]:
    environment = DesktopEnv(RecorderTask(), render_mode="rgb_array")
    yield environment
    environment.close()
    assert marked_processes(environment.marker) == []


@pytest.fixture
def recorder(env: DesktopEnv) -> AppHandle:
    env.reset(seed=0)
    return env.task.app  # type: ignore[attr-defined]


def grid(env: DesktopEnv, x: float, y: float) -> list[int]:
    return list(env.to_grid(x, y))


def pad_point(app: AppHandle, fx: float = 0.5, fy: float = 0.5) -> tuple[float, float]:
    x, y, width, height = app.widget("pad")
    return x + width * fx, y + height * fy


def events(app: AppHandle, *types: str) -> list[dict[str, Any]]:
    return [e for e in app.state()["events"] if not types or e["type"] in types]


def test_check_env_passes() -> None:
    environment = DesktopEnv(RecorderTask(), screen_size=(800, 600))
    try:
        check_env(environment)
    finally:
        environment.close()


def test_reset_gives_a_screenshot_the_instruction_and_timings(env: DesktopEnv) -> None:
    obs, info = env.reset(seed=3)
    assert obs["screenshot"].dtype == np.uint8 and obs["screenshot"].shape == (800, 1280, 3)
    assert obs["instruction"] == "Type done." and info["seed"] == 3 and info["success"] is False
    assert set(info["timings"]) == {"launch", "setup", "settle", "observe"}
    assert obs["screenshot"].std() > 0  # a real picture: a window on a desktop, not a blank frame
    assert np.array_equal(env.render(), obs["screenshot"])


@pytest.mark.parametrize(("action", "button"), [("left_click", 1), ("middle_click", 2), ("right_click", 3)])
def test_clicks_land_where_the_grid_points(env: DesktopEnv, recorder: AppHandle, action: str, button: int) -> None:
    x, y = pad_point(recorder, 0.3, 0.6)
    _, reward, terminated, truncated, info = env.step(call(action=action, coordinate=grid(env, x, y)))
    assert "action_error" not in info and (reward, terminated, truncated) == (0.0, False, False)
    assert set(info["timings"]) == {"action", "settle", "observe", "validate"}
    presses = events(recorder, "ButtonPress")
    assert [e["button"] for e in presses] == [button]
    assert abs(presses[0]["x"] - x) <= 1 and abs(presses[0]["y"] - y) <= 1


@pytest.mark.parametrize(("action", "kind"), [("double_click", "Double-Button"), ("triple_click", "Triple-Button")])
def test_double_and_triple_clicks(env: DesktopEnv, recorder: AppHandle, action: str, kind: str) -> None:
    env.step({"action": action, "coordinate": grid(env, *pad_point(recorder))})
    assert len(events(recorder, kind)) == 1
    assert len(events(recorder, "ButtonPress", "Double-Button", "Triple-Button")) == (
        2 if kind == "Double-Button" else 3
    )


def test_mouse_move_then_drag_from_the_cursor(env: DesktopEnv, recorder: AppHandle) -> None:
    start, end = pad_point(recorder, 0.2, 0.2), pad_point(recorder, 0.7, 0.8)
    env.step(call(action="mouse_move", coordinate=grid(env, *start)))
    assert events(recorder) == []  # moving alone presses nothing
    _, _, _, _, info = env.step(call(action="left_click_drag", coordinate=grid(env, *end)))
    assert "action_error" not in info
    press, release = events(recorder, "ButtonPress")[0], events(recorder, "ButtonRelease")[0]
    assert abs(press["x"] - start[0]) <= 1 and abs(press["y"] - start[1]) <= 1
    assert abs(release["x"] - end[0]) <= 1 and abs(release["y"] - end[1]) <= 1
    motion = events(recorder, "B1-Motion")
    assert len(motion) >= 3 and motion[0]["x"] < motion[-1]["x"]  # the pointer travelled with the button held


def test_scroll_and_hscroll_turn_pixels_into_wheel_notches(env: DesktopEnv, recorder: AppHandle) -> None:
    at = grid(env, *pad_point(recorder))
    for action, pixels in (("scroll", 200), ("scroll", -100), ("hscroll", 100), ("hscroll", -300)):
        env.step({"action": action, "pixels": pixels, "coordinate": at})
    # Tk reports quick repeats of a button as double and triple presses, and X11's horizontal wheel
    # (buttons 6 left, 7 right) as Shift with the vertical one (4 and 5).
    presses = events(recorder, "ButtonPress", "Double-Button", "Triple-Button")
    shift = 1
    wheel = [(e["button"], bool(e["state"] & shift)) for e in presses]
    up, down, right, left = (4, False), (5, False), (5, True), (4, True)
    assert wheel == [up, up, down, right, left, left, left]  # one notch per 100 pixels


def test_type_unicode_and_more_distinct_characters_than_spare_keys(env: DesktopEnv, recorder: AppHandle) -> None:
    x, y, width, height = recorder.widget("entry")
    env.step(call(action="left_click", coordinate=grid(env, x + width / 2, y + height / 2)))
    text = "naïve café ☃ — αβγδεζηθικλμνξοπρστυφχψω Ωmega ✓ 日本"
    assert len({c for c in text if ord(c) > 126}) > env._keyboard.keymap.capacity()  # several key bindings in a row
    _, _, _, _, info = env.step(call(action="type", text=text))
    assert "action_error" not in info
    assert recorder.state()["text"] == text


def test_typing_done_ends_the_episode_with_success(env: DesktopEnv, recorder: AppHandle) -> None:
    x, y, width, height = recorder.widget("entry")
    env.step({"action": "left_click", "coordinate": grid(env, x + width / 2, y + height / 2)})
    _, reward, terminated, _, info = env.step({"action": "type", "text": "done"})
    assert (reward, terminated, info["success"], info["message"]) == (1.0, True, True, "typed done")
    _, _, _, _, info = env.step({"action": "type", "text": "more"})
    assert "episode is over" in info["action_error"]


def test_key_combinations_press_in_order_and_release_in_reverse(env: DesktopEnv, recorder: AppHandle) -> None:
    env.step(call(action="left_click", coordinate=grid(env, *pad_point(recorder))))
    for keys in (["ctrl", "a"], ["ctrl+shift+t"], ["Return"], ["alt", "F4"], ["é"], ["+"], ["shift", "Tab"]):
        _, _, _, _, info = env.step(call(action="key", keys=keys))
        assert "action_error" not in info, keys
    pressed = [(e["keysym"], e["state"]) for e in events(recorder, "KeyPress")]
    control, shift = 4, 1
    assert ("a", control) in pressed and ("T", control | shift) in pressed
    assert [k for k, _ in pressed if k in ("Return", "F4", "eacute", "plus", "ISO_Left_Tab")] == [
        "Return",
        "F4",
        "eacute",
        "plus",
        "ISO_Left_Tab",
    ]
    assert pressed[0] == ("Control_L", 0) and pressed[1] == ("a", control)


def test_wait_answer_and_terminate(env: DesktopEnv, recorder: AppHandle) -> None:
    started = time.monotonic()
    _, reward, terminated, _, info = env.step(call(action="wait", time=0.3))
    assert time.monotonic() - started >= 0.3 and not terminated and "action_error" not in info
    _, reward, terminated, _, info = env.step(call(action="answer", text="forty-two"))
    assert terminated and reward == 0.0 and info["answer"] == "forty-two" and info["message"] == "answered forty-two"
    env.reset(seed=1)
    _, reward, terminated, _, info = env.step(call(action="answer", text="done"))  # the task reads the answer
    assert terminated and reward == 1.0 and info["success"] is True
    env.reset(seed=2)
    _, reward, terminated, _, info = env.step(ComputerAction(action="terminate", status="failure"))
    assert terminated and info["status"] == "failure" and info["success"] is False


def test_keys_typed_right_after_a_click_reach_the_box_it_focused_even_with_no_quiet_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The window manager holds every click until it has handled it; keys sent meanwhile would go astray.

    Pausing the manager (SIGSTOP) for the click makes the race certain: without the wait for the
    release, the keys reach the window before the click that focuses its entry, and the entry stays empty.
    """
    environment = DesktopEnv(RecorderTask(), screen_size=(640, 480), settle_quiet_s=0.0, settle_timeout_s=2.0)
    try:
        for episode in range(3):
            environment.reset(seed=episode)
            app = environment.task.app  # type: ignore[attr-defined]
            manager = environment.server.window_manager_pid  # type: ignore[union-attr]
            x, y, width, height = app.widget("entry")
            entry = grid(environment, x + width / 2, y + height / 2)
            os.kill(manager, signal.SIGSTOP)
            resume = threading.Timer(0.2, os.kill, (manager, signal.SIGCONT))
            resume.start()
            try:
                environment.step({"action": "left_click", "coordinate": entry})
                _, reward, _, _, info = environment.step({"action": "type", "text": "done"})
            finally:
                resume.join()
            assert (reward, info["message"]) == (1.0, "typed done"), app.state()
        environment.reset(seed=0)
        manager = environment.server.window_manager_pid  # type: ignore[union-attr]
        os.kill(manager, signal.SIGSTOP)
        try:
            caplog.set_level(logging.WARNING, logger="pixelpilot.envs.desktop.env")
            _, _, _, truncated, info = environment.step({"action": "left_click", "coordinate": [500, 500]})
        finally:
            os.kill(manager, signal.SIGCONT)
        assert not truncated and "action_error" not in info  # a stuck manager is reported, not waited for forever
        assert "has not let the click through" in caplog.text
    finally:
        environment.close()
    assert marked_processes(environment.marker) == []


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("no tool call here", "expected exactly one <tool_call>"),
        (call(action="key", keys=["hyperdrive"]), "unknown key 'hyperdrive'"),
        (call(action="left_click", coordinate=[1500, 20]), "outside the 0-1000 grid"),
        (call(action="type", text="bell\x07"), "control character"),
        (call(action="wait", time=3600), "over this environment's limit"),
        ({"name": "mobile_use", "arguments": {"action": "click", "coordinate": [1, 1]}}, "takes computer_use"),
        (call(action="left_click"), "needs argument(s): coordinate"),
    ],
)
def test_invalid_actions_come_back_as_errors(env: DesktopEnv, recorder: AppHandle, action: Any, expected: str) -> None:
    before = recorder.state()["events"]
    obs, reward, terminated, truncated, info = env.step(action)
    assert expected in info["action_error"] and (reward, terminated, truncated) == (0.0, False, False)
    assert obs["screenshot"].shape == (800, 1280, 3) and recorder.state()["events"] == before


def test_random_action_space_samples_are_handled(env: DesktopEnv, recorder: AppHandle) -> None:
    env.action_space.seed(0)
    for _ in range(5):
        _, _, _, truncated, info = env.step(env.action_space.sample())
        assert "action_error" in info and not truncated


def test_foreign_display_needs_an_explicit_opt_in() -> None:
    with pytest.raises(EnvError, match="allow_foreign_display=True"):
        DesktopEnv(RecorderTask(), display=":0")
    server = XServer(size=(800, 600))
    display = server.start()
    try:
        environment = DesktopEnv(
            RecorderTask(), display=display.name, xauthority=display.xauthority, allow_foreign_display=True
        )
        try:
            obs, _ = environment.reset(seed=0)
            assert obs["screenshot"].shape == (600, 800, 3) and environment.server is None
            app = environment.task.app  # type: ignore[attr-defined]
            environment.step({"action": "left_click", "coordinate": grid(environment, *pad_point(app))})
            assert [e["type"] for e in events(app, "ButtonPress")] == ["ButtonPress"]
        finally:
            environment.close()
        assert server.alive  # the user's display outlives the environment that borrowed it
        assert marked_processes(environment.marker) == []  # but the programs it started do not
    finally:
        server.stop()


def test_own_display_ignores_the_callers_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":4242")  # a display that does not exist: nothing may try to use it
    monkeypatch.delenv("XAUTHORITY", raising=False)
    environment = DesktopEnv(RecorderTask(), screen_size=(640, 480))
    try:
        environment.reset(seed=0)
        assert environment.display.name != ":4242" and environment.display.owned
        _, _, _, _, info = environment.step({"action": "left_click", "coordinate": [500, 500]})
        assert "action_error" not in info
    finally:
        environment.close()


def test_killed_x_server_truncates_the_step_and_reset_starts_a_new_one() -> None:
    environment = DesktopEnv(RecorderTask(), screen_size=(640, 480))
    try:
        environment.reset(seed=0)
        server = environment.server
        assert server is not None and server.pid is not None
        first = server.pid
        os.kill(first, signal.SIGKILL)
        _, reward, terminated, truncated, info = environment.step({"action": "left_click", "coordinate": [500, 500]})
        assert truncated and not terminated and reward == 0.0 and "display is gone" in info["action_error"]
        obs, _ = environment.reset(seed=0)
        assert server.pid not in (None, first) and obs["instruction"] == "Type done."
        _, _, _, truncated, info = environment.step({"action": "left_click", "coordinate": [500, 500]})
        assert not truncated and "action_error" not in info
    finally:
        environment.close()
    assert marked_processes(environment.marker) == []


def test_fifty_episodes_and_crashed_apps_leave_no_process_behind() -> None:
    environment = DesktopEnv(RecorderTask(), screen_size=(640, 480))
    try:
        for episode in range(50):
            environment.reset(seed=episode)
            app = environment.task.app  # type: ignore[attr-defined]
            if episode % 5 == 0:  # the program crashes mid-episode
                os.killpg(app.process.pid, signal.SIGKILL)
                _, _, _, truncated, info = environment.step({"action": "left_click", "coordinate": [500, 500]})
                assert not truncated and "action_error" not in info
            # Only the server, its window manager and this episode's program are running.
            assert len(environment.processes()) == (2 if episode % 5 == 0 else 3)
        server_pid = environment.server.pid  # type: ignore[union-attr]
    finally:
        environment.close()
    assert marked_processes(environment.marker) == []
    assert not os.path.exists(f"/proc/{server_pid}")
    assert not environment._root.exists()


def test_each_vector_sub_environment_has_its_own_display() -> None:
    envs = gym.vector.AsyncVectorEnv(
        [lambda: gym.make("pixelpilot/desktop-notes-type-v0", screen_size=(640, 480)) for _ in range(2)]
    )
    try:
        obs, _ = envs.reset(seed=[0, 1])
        assert obs["screenshot"].shape == (2, 480, 640, 3) and obs["instruction"][0] != obs["instruction"][1]
        displays = envs.get_attr("display")
        markers = envs.get_attr("marker")
        assert displays[0].name != displays[1].name and all(d.owned for d in displays)
        _, _, _, truncated, infos = envs.step((call(action="wait", time=0.1),) * 2)
        assert not truncated.any() and "action_error" not in infos
    finally:
        envs.close()
    assert all(marked_processes(marker) == [] for marker in markers)


def test_tiny_checkpoint_drives_the_desktop_for_three_steps(tiny_checkpoint: Path) -> None:
    import torch

    from pixelpilot.agent import Agent
    from pixelpilot.model import load_model

    torch.set_num_threads(1)
    model = load_model(f"hf:{tiny_checkpoint}")  # built by pixelpilot.model.tiny.build_tiny_checkpoint (conftest)
    environment = DesktopEnv(RecorderTask(), screen_size=(640, 480))
    try:
        trajectory = Agent(model, max_steps=3).run(environment, seed=0)
    finally:
        environment.close()
        model.close()
    assert 1 <= len(trajectory.steps) <= 3 and trajectory.end_reason is not None
    assert len(trajectory.steps) == 3 or trajectory.end_reason != "max_steps"
    assert marked_processes(environment.marker) == []


def test_damage_watch_waits_until_drawing_stops_and_gives_up_at_the_timeout() -> None:
    server = XServer(size=(320, 240), window_manager=None)
    display = server.start()
    watch = DamageWatch.open(display)
    try:
        assert watch is not None
        assert watch.wait_until_quiet(0.05, 5.0)  # nothing draws: quiet after the grace window
        painter = Painter(display, frames=8)
        painter.start()
        assert painter.first.wait(5.0)
        assert watch.wait_until_quiet(0.3, 10.0)
        assert painter.drawn == 8  # quiet only once the last frame was drawn
        painter.join()
        endless = Painter(display, frames=None)
        endless.start()
        try:
            assert endless.first.wait(5.0)
            assert not watch.wait_until_quiet(0.3, 1.0)  # never quiet: the timeout ends the wait
        finally:
            endless.stop.set()
            endless.join()
    finally:
        if watch is not None:
            watch.close()
        server.stop()


@pytest.mark.parametrize("damage", [True, False], ids=["damage", "polling-without-damage"])
def test_a_step_waits_for_a_program_that_answers_late_and_keeps_drawing(
    damage: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The screenshot shows the animation's last frame, on a display with DAMAGE and on one without it."""
    server = XServer(size=(640, 480), server_args=() if damage else ("-extension", "DAMAGE"))
    display = server.start()
    caplog.set_level(logging.WARNING, logger="pixelpilot.envs.desktop.env")
    environment = DesktopEnv(
        AnimatorTask(),
        display=display.name,
        xauthority=display.xauthority,
        allow_foreign_display=True,
        settle_quiet_s=0.15,
    )
    try:
        obs, _ = environment.reset(seed=0)
        assert environment.settle_method == ("damage" if damage else "screenshots")
        assert ("has no DAMAGE extension" in caplog.text) != damage
        grabs = []
        real_grab = environment._screen.grab  # type: ignore[union-attr]
        monkeypatch.setattr(environment._screen, "grab", lambda: grabs.append(1) or real_grab())
        x, y = environment.task.centre  # type: ignore[attr-defined]
        assert tuple(obs["screenshot"][round(y), round(x)]) == (0, 0, 0)
        obs, _, _, _, info = environment.step({"action": "left_click", "coordinate": grid(environment, x, y)})
        assert "action_error" not in info
        assert tuple(obs["screenshot"][round(y), round(x)]) == FINAL_COLOUR
        if damage:
            assert len(grabs) == 1  # no screenshot while waiting: one when the screen is still
        else:
            assert len(grabs) > 1
    finally:
        environment.close()
        server.stop()
    assert marked_processes(environment.marker) == []


def test_run_gives_an_instruction_on_a_fresh_desktop_with_a_program(tmp_path: Path, capsys) -> None:
    from pixelpilot.cli import main

    assert main(["run", "--desktop", "--model", "random", "--out", str(tmp_path)]) == 2
    assert "--desktop needs --task" in capsys.readouterr().out
    command = ["run", "--desktop", "--task", "Type hello in the editor.", "--app", "mousepad", "--model", "random"]
    assert main([*command, "--max-steps", "1", "--viewport", "640", "480", "--out", str(tmp_path)]) == 0
    trajectory = Trajectory.load(tmp_path)
    assert trajectory.instruction == "Type hello in the editor." and trajectory.steps
    assert np.asarray(trajectory.steps[0].screenshot).shape == (480, 640, 3)
