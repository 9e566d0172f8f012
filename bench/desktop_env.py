"""How much DesktopEnv costs over the raw XTEST action + mss grab it wraps, and how it scales in parallel.

Per iteration, interleaved so that all sides see the same machine load, on the same display:
  pixelpilot:   ``env.step`` of a left click that switches the sign-up form's plan radio button
                (parse, XTEST click, wait until the screen is quiet, screenshot, read the app's state);
  raw XTEST:    the same click as python-xlib XTEST requests, then one mss grab decoded to a numpy
                RGB array (no settling: the program may not have redrawn yet);
  raw xdotool:  the same with one ``xdotool mousemove X Y click 1`` process instead (how scripts click).
Resets (end the last app, start the form, wait for its window, settle) are timed too. Then steps
per second of 1, 2 and 4 environments stepping together in ``gymnasium.vector.AsyncVectorEnv``,
each with its own Xvfb. Run: ``python bench/desktop_env.py --runs 30``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

import gymnasium as gym
import mss
import numpy as np
from rich.console import Console
from rich.table import Table
from Xlib import X
from Xlib import display as xlib_display
from Xlib.ext import xtest

from pixelpilot.envs.actions import ComputerAction
from pixelpilot.envs.desktop import DesktopEnv
from pixelpilot.envs.desktop_tasks import env_id, register_desktop_envs
from pixelpilot.envs.xserver import require_program

TASK = "form-fill"
PLANS = ("Basic", "Pro")


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def _targets(env: DesktopEnv) -> list[tuple[int, int]]:
    """Pixel centres of the two plan radio buttons, where both sides click in turn."""
    handle = env.task.handle  # type: ignore[attr-defined]
    points = []
    for plan in PLANS:
        x, y, width, height = handle.widget(f"plan:{plan}")
        points.append((round(x + width / 2), round(y + height / 2)))
    return points


def single(runs: int) -> tuple[dict[str, dict[str, list[float]]], dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {
        "pixelpilot": {"reset": [], "step": []},
        "raw XTEST": {"step": []},
        "raw xdotool": {"step": []},
    }
    phases: dict[str, list[float]] = {"action": [], "settle": [], "observe": [], "validate": []}
    register_desktop_envs()
    env = gym.make(env_id(TASK)).unwrapped
    try:
        env.reset(seed=0)  # starts the X server: not counted
        xdotool = require_program("xdotool")
        with env.display.authorized():
            grabber = mss.MSS(display=env.display.name)
            connection = xlib_display.Display(env.display.name)
        width, height = env.screen_size
        region = {"left": 0, "top": 0, "width": width, "height": height}

        def grab() -> np.ndarray:
            shot = grabber.grab(region)
            return np.frombuffer(shot.raw, np.uint8).reshape(height, width, 4)[:, :, 2::-1].copy()

        def xtest_click(x: int, y: int) -> None:
            xtest.fake_input(connection, X.MotionNotify, x=x, y=y)
            xtest.fake_input(connection, X.ButtonPress, 1)
            xtest.fake_input(connection, X.ButtonRelease, 1)
            connection.sync()

        def xdotool_click(x: int, y: int) -> None:
            argv = [xdotool, "mousemove", str(x), str(y), "click", "1"]
            subprocess.run(argv, env=env.display.client_env(), check=True)

        for i in range(runs):
            start = time.perf_counter()
            env.reset(seed=i)
            times["pixelpilot"]["reset"].append(time.perf_counter() - start)
            (x, y), (x_raw, y_raw) = _targets(env)
            # pixelpilot selects one plan, a raw click the other: every click changes the screen.
            for raw_name, raw_click in (("raw XTEST", xtest_click), ("raw xdotool", xdotool_click)):
                start = time.perf_counter()
                _, _, _, _, info = env.step({"action": "left_click", "coordinate": list(env.to_grid(x, y))})
                times["pixelpilot"]["step"].append(time.perf_counter() - start)
                assert "action_error" not in info, info["action_error"]
                assert env.task.state()["plan"] == PLANS[0], "pixelpilot's click missed the radio button"
                for phase, seconds in info["timings"].items():
                    phases[phase].append(seconds)

                start = time.perf_counter()
                raw_click(x_raw, y_raw)
                grab()
                times[raw_name]["step"].append(time.perf_counter() - start)
                time.sleep(0.2)  # the raw side never waits for the redraw: let it finish before the next step
                assert env.task.state()["plan"] == PLANS[1], f"the {raw_name} click missed the radio button"
        grabber.close()
        connection.close()
    finally:
        env.close()
    return times, phases


def parallel(counts: tuple[int, ...], steps: int) -> dict[int, float]:
    """Steps per second of n environments stepping together (each its own Xvfb)."""
    register_desktop_envs()
    probe = gym.make(env_id(TASK)).unwrapped
    try:
        probe.reset(seed=0)
        clicks = [probe.to_grid(x, y) for x, y in _targets(probe)]  # the form's layout is the same in every episode
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="episodes for the single-environment comparison")
    parser.add_argument("--steps", type=int, default=20, help="steps per environment in the parallel runs")
    args = parser.parse_args()
    times, phases = single(args.runs)
    rates = parallel((1, 2, 4), args.steps)

    console = Console()
    table = Table(title=f"DesktopEnv vs the raw calls it wraps, on {TASK} ({args.runs} episodes, milliseconds)")
    for column in ("what", "median", "p90", "median vs pixelpilot"):
        table.add_column(column, justify="right")
    ours = _percentiles(times["pixelpilot"]["reset"])
    table.add_row("pixelpilot reset", f"{ours[0] * 1e3:.1f}", f"{ours[1] * 1e3:.1f}", "")
    step = _percentiles(times["pixelpilot"]["step"])
    table.add_row("pixelpilot step", f"{step[0] * 1e3:.1f}", f"{step[1] * 1e3:.1f}", "1.00x")
    for name in ("raw XTEST", "raw xdotool"):
        raw = _percentiles(times[name]["step"])
        table.add_row(f"{name} click + grab", f"{raw[0] * 1e3:.1f}", f"{raw[1] * 1e3:.1f}", f"{raw[0] / step[0]:.2f}x")
    console.print(table)

    breakdown = Table(title="Where a pixelpilot step goes (milliseconds, median)")
    for phase in phases:
        breakdown.add_column(phase, justify="right")
    breakdown.add_row(*(f"{statistics.median(samples) * 1e3:.1f}" for samples in phases.values()))
    console.print(breakdown)

    scaling = Table(title=f"AsyncVectorEnv throughput ({args.steps} steps per environment)")
    for column in ("environments", "steps/s (all)", "steps/s per environment"):
        scaling.add_column(column, justify="right")
    for n, rate in rates.items():
        scaling.add_row(str(n), f"{rate:.2f}", f"{rate / n:.2f}")
    console.print(scaling)


if __name__ == "__main__":
    main()
