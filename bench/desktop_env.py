"""How much DesktopEnv costs over the raw XTEST input + mss grab it wraps, per action kind, and how it scales.

Per episode of the sign-up form, interleaved so that all sides see the same machine load, on the same display:
  click:  a left click that switches the plan radio button;
  type:   typing TEXT (upper case and a shifted symbol among it) into the focused name entry;
  key:    one BackSpace, len(TEXT) times, which deletes what was typed.
Each action is done three ways:
  pixelpilot:   ``env.step`` (parse, XTEST input, wait until nothing has been drawn for ``settle_quiet_s`` as
                X DAMAGE reports it, one screenshot, read the app's state); its ``action`` phase alone is the
                input itself, its ``settle`` phase the wait and the screenshot;
  raw XTEST:    the same input as python-xlib XTEST requests, then one mss grab decoded to a numpy RGB array
                (no settling: the program may not have redrawn yet);
  raw xdotool:  the same with one xdotool process instead (``mousemove X Y click 1``, ``type``, ``key``), how
                scripts drive a desktop.
Every action is checked against the app's state. Resets (end the last app, start the form, wait for its
window, settle) are timed too. Then steps per second of 1, 2 and 4 environments stepping together in
``gymnasium.vector.AsyncVectorEnv``, each with its own Xvfb. Run: ``python bench/desktop_env.py --runs 30``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable

import gymnasium as gym
import mss
import numpy as np
from rich.console import Console
from rich.table import Table
from Xlib import XK, X
from Xlib import display as xlib_display
from Xlib.ext import xtest

from pixelpilot.envs.core.actions import ComputerAction
from pixelpilot.envs.desktop.env import DesktopEnv
from pixelpilot.envs.desktop.tasks import env_id
from pixelpilot.envs.desktop.xserver import require_program

TASK = "form-fill"
PLANS = ("Basic", "Pro")
TEXT = "Pilot_42"
ACTIONS = ("click", "key", "type")
SIDES = ("pixelpilot", "raw XTEST", "raw xdotool")

Samples = dict[str, dict[str, list[float]]]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def _centre(env: DesktopEnv, widget: str) -> tuple[int, int]:
    x, y, width, height = env.task.handle.widget(widget)  # type: ignore[attr-defined]
    return round(x + width / 2), round(y + height / 2)


def _expect(env: DesktopEnv, field: str, value: object, who: str, timeout_s: float = 2.0) -> None:
    """Wait until the form shows value in field (a raw side never waits for the program to catch up)."""
    deadline = time.monotonic() + timeout_s
    while env.task.state()[field] != value:  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise AssertionError(f"{who}: the form's {field} is {env.task.state()[field]!r}, expected {value!r}")  # type: ignore[attr-defined]
        time.sleep(0.01)


class RawInput:
    """The raw sides: XTEST requests on an open connection, or one xdotool process per action; then one grab."""

    def __init__(self, env: DesktopEnv) -> None:
        self._env = env
        self._xdotool = require_program("xdotool")
        with env.display.authorized():
            self._grabber = mss.MSS(display=env.display.name)
            self._connection = xlib_display.Display(env.display.name)
        width, height = env.screen_size
        self._region = {"left": 0, "top": 0, "width": width, "height": height}
        self._shift = self._connection.keysym_to_keycode(XK.XK_Shift_L)

    def click(self, side: str, x: int, y: int) -> None:
        if side == "raw XTEST":
            xtest.fake_input(self._connection, X.MotionNotify, x=x, y=y)
            xtest.fake_input(self._connection, X.ButtonPress, 1)
            xtest.fake_input(self._connection, X.ButtonRelease, 1)
            self._connection.sync()
        else:
            self._run("mousemove", str(x), str(y), "click", "1")
        self._grab()

    def type(self, side: str, text: str) -> None:
        if side == "raw XTEST":
            self._xtest_keys([ord(char) for char in text])  # printable ASCII: the keysym is the code point
        else:
            self._run("type", "--delay", str(self._env.type_delay_ms), "--", text)
        self._grab()

    def key(self, side: str, keysym_name: str) -> None:
        if side == "raw XTEST":
            self._xtest_keys([XK.string_to_keysym(keysym_name)])
        else:
            self._run("key", keysym_name)
        self._grab()

    def close(self) -> None:
        self._grabber.close()
        self._connection.close()

    def _xtest_keys(self, keysyms: list[int]) -> None:
        """Each keysym pressed and released in turn, shift held for those on a key's shifted level."""
        for keysym in keysyms:
            code = self._connection.keysym_to_keycode(keysym)
            shifted = self._connection.keycode_to_keysym(code, 0) != keysym
            if shifted:
                xtest.fake_input(self._connection, X.KeyPress, self._shift)
            xtest.fake_input(self._connection, X.KeyPress, code)
            xtest.fake_input(self._connection, X.KeyRelease, code)
            if shifted:
                xtest.fake_input(self._connection, X.KeyRelease, self._shift)
        self._connection.sync()

    def _run(self, *args: str) -> None:
        subprocess.run([self._xdotool, *args], env=self._env.display.client_env(), check=True)

    def _grab(self) -> np.ndarray:
        shot = self._grabber.grab(self._region)
        width, height = self._region["width"], self._region["height"]
        return np.frombuffer(shot.raw, np.uint8).reshape(height, width, 4)[:, :, 2::-1].copy()


class Recorder:
    """Step times by action and side, pixelpilot's phases by action, and how its steps settled."""

    def __init__(self) -> None:
        self.times: Samples = {action: {side: [] for side in SIDES} for action in ACTIONS}
        self.phases: dict[str, dict[str, list[float]]] = {action: {} for action in ACTIONS}
        self.settle = ""

    def step(self, env: DesktopEnv, action: str, arguments: dict[str, object]) -> None:
        start = time.perf_counter()
        _, _, _, _, info = env.step(arguments)
        self.times[action]["pixelpilot"].append(time.perf_counter() - start)
        assert "action_error" not in info, info["action_error"]
        for phase, seconds in info["timings"].items():
            self.phases[action].setdefault(phase, []).append(seconds)

    def raw(self, action: str, side: str, call: Callable[..., None], *args: object) -> None:
        start = time.perf_counter()
        call(side, *args)
        self.times[action][side].append(time.perf_counter() - start)


def single(runs: int) -> tuple[Recorder, list[float]]:
    """Interleaved pixelpilot and raw clicks, typing and keys on one form; the reset times."""
    record, resets = Recorder(), []
    env = gym.make(env_id(TASK)).unwrapped
    try:
        env.reset(seed=0)  # starts the X server: not counted
        record.settle = f"settled by {env.settle_method}, quiet window {env.settle_quiet_s * 1e3:g} ms"
        raw = RawInput(env)
        for i in range(runs):
            start = time.perf_counter()
            env.reset(seed=i)
            resets.append(time.perf_counter() - start)
            ours, theirs = _centre(env, f"plan:{PLANS[0]}"), _centre(env, f"plan:{PLANS[1]}")
            env.step({"action": "left_click", "coordinate": list(env.to_grid(*_centre(env, "name")))})
            for side in SIDES[1:]:
                # pixelpilot selects one plan, the raw side the other: every click changes the screen.
                record.step(env, "click", {"action": "left_click", "coordinate": list(env.to_grid(*ours))})
                _expect(env, "plan", PLANS[0], "pixelpilot click")
                record.raw("click", side, raw.click, *theirs)
                _expect(env, "plan", PLANS[1], f"{side} click")
                # Clicking a radio button leaves the keyboard focus in the name entry.
                for who in ("pixelpilot", side):
                    time.sleep(0.1)  # a raw side never waits for the redraw: let it finish before the next step
                    if who == "pixelpilot":
                        record.step(env, "type", {"action": "type", "text": TEXT})
                    else:
                        record.raw("type", side, raw.type, TEXT)
                    _expect(env, "name", TEXT, f"{who} type")
                    for n in range(len(TEXT)):
                        if who == "pixelpilot":
                            record.step(env, "key", {"action": "key", "keys": ["BackSpace"]})
                        else:
                            record.raw("key", side, raw.key, "BackSpace")
                        _expect(env, "name", TEXT[: len(TEXT) - n - 1], f"{who} key")
                time.sleep(0.1)
        raw.close()
    finally:
        env.close()
    return record, resets


def parallel(counts: tuple[int, ...], steps: int) -> dict[int, float]:
    """Steps per second of n environments stepping together (each its own Xvfb)."""
    probe = gym.make(env_id(TASK)).unwrapped
    try:
        probe.reset(seed=0)
        # The form's layout is the same in every episode.
        clicks = [probe.to_grid(*_centre(probe, f"plan:{plan}")) for plan in PLANS]
    finally:
        probe.close()
    rates = {}
    for n in counts:
        envs = gym.vector.AsyncVectorEnv([lambda: gym.make(env_id(TASK)) for _ in range(n)])
        try:
            envs.reset(seed=list(range(n)))
            start = time.perf_counter()
            for i in range(steps):
                text = ComputerAction(action="left_click", coordinate=clicks[i % 2]).to_tool_call().to_text()
                _, _, _, _, infos = envs.step((text,) * n)
                assert "action_error" not in infos, infos.get("action_error")
            rates[n] = n * steps / (time.perf_counter() - start)
        finally:
            envs.close()
    return rates


def _cell(samples: list[float]) -> str:
    median, p90 = _percentiles(samples)
    return f"{median * 1e3:.1f} / {p90 * 1e3:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="episodes for the single-environment comparison")
    parser.add_argument("--steps", type=int, default=20, help="steps per environment in the parallel runs")
    args = parser.parse_args()
    record, resets = single(args.runs)
    rates = parallel((1, 2, 4), args.steps)
    times, phases = record.times, record.phases

    console = Console(width=max(Console().width, 110))
    table = Table(
        title=f"DesktopEnv vs the raw input it wraps, on {TASK} ({args.runs} episodes; ms, median / p90)",
        caption=f"type: {TEXT!r} ({len(TEXT)} characters); key: one BackSpace. Raw sides: input + one mss grab.",
    )
    for column in ("action", "pixelpilot step", "pixelpilot input", "raw XTEST", "raw xdotool", "samples"):
        table.add_column(column, justify="right")
    for action in ACTIONS:
        table.add_row(
            action,
            _cell(times[action]["pixelpilot"]),
            _cell(phases[action]["action"]),
            _cell(times[action]["raw XTEST"]),
            _cell(times[action]["raw xdotool"]),
            str(len(times[action]["pixelpilot"])),
        )
    table.add_row("reset", _cell(resets), "", "", "", str(len(resets)))
    console.print(table)

    breakdown = Table(
        title="Where a pixelpilot step goes (ms, median)",
        caption=f"Steps {record.settle}; settle includes the one screenshot.",
    )
    names = list(phases["click"])
    for column in ("action", *names):
        breakdown.add_column(column, justify="right")
    for action in ACTIONS:
        breakdown.add_row(action, *(f"{statistics.median(phases[action][name]) * 1e3:.1f}" for name in names))
    console.print(breakdown)

    scaling = Table(title=f"AsyncVectorEnv throughput ({args.steps} steps per environment)")
    for column in ("environments", "steps/s (all)", "steps/s per environment"):
        scaling.add_column(column, justify="right")
    for n, rate in rates.items():
        scaling.add_row(str(n), f"{rate:.2f}", f"{rate / n:.2f}")
    console.print(scaling)


if __name__ == "__main__":
    main()
