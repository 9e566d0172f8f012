"""Reset and step cost of the simulated Android phone, and throughput with 1, 2 and 4 phones in parallel.

Each setting runs N copies of ``pixelpilot/android-<task>-v0`` under gymnasium's AsyncVectorEnv (one
process and one Chromium per phone). Per episode: one batched ``reset`` (distinct seeds), then a fixed
script of ``mobile_use`` actions (open an app, swipe its list both ways, tap a row, Back, Home, ...),
the same for every phone, none of which can finish the task, so no episode ends early. The first reset
(browser launch) is left out. Times are per batched call; steps/s counts every phone's steps.
Run: ``python bench/android_env.py --envs 1 2 4 --episodes 3``.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time

import gymnasium as gym
from rich.console import Console
from rich.table import Table

from pixelpilot.envs.android import env_id

TASK = "contacts-add"
SCRIPT = (
    {"action": "open", "text": "Contacts"},
    {"action": "swipe", "coordinate": [500, 750], "coordinate2": [500, 300]},
    {"action": "swipe", "coordinate": [500, 300], "coordinate2": [500, 750]},
    {"action": "click", "coordinate": [500, 190]},
    {"action": "system_button", "button": "Back"},
    {"action": "open", "text": "Settings"},
    {"action": "click", "coordinate": [500, 230]},
    {"action": "system_button", "button": "Back"},
    {"action": "system_button", "button": "Home"},
    {"action": "wait", "time": 0.05},
)
"""Actions every phone takes in turn: taps, swipes and system buttons across two apps."""


def _text(arguments: dict[str, object]) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'mobile_use', 'arguments': arguments})}\n</tool_call>"


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def run(n_envs: int, episodes: int, steps: int, scale: float) -> dict[str, list[float]]:
    make = functools.partial(gym.make, env_id(TASK), device_options={"device_scale_factor": scale})
    envs = gym.vector.AsyncVectorEnv([make] * n_envs)
    times: dict[str, list[float]] = {"reset": [], "step": []}
    try:
        envs.reset(seed=list(range(n_envs)))  # launches the browsers: not timed
        for episode in range(episodes):
            start = time.perf_counter()
            envs.reset(seed=[1000 + episode * n_envs + i for i in range(n_envs)])
            times["reset"].append(time.perf_counter() - start)
            for k in range(steps):
                actions = [_text(SCRIPT[k % len(SCRIPT)])] * n_envs
                start = time.perf_counter()
                _, _, terminated, truncated, infos = envs.step(actions)
                times["step"].append(time.perf_counter() - start)
                errors = [error for error in infos.get("action_error", []) if error]
                if errors or terminated.any() or truncated.any():
                    raise RuntimeError(f"the script must run without errors or episode ends: {errors}")
    finally:
        envs.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--steps", type=int, default=len(SCRIPT), help="steps per episode")
    parser.add_argument("--scale", type=float, default=2.0, help="device scale factor (2: 720x1560 screenshots)")
    args = parser.parse_args()
    table = Table(
        title=f"Simulated Android phone, AsyncVectorEnv ({args.episodes} episodes x {args.steps} steps, "
        f"scale {args.scale:g}; milliseconds per batched call)"
    )
    for column in ("phones", "reset median", "reset p90", "step median", "step p90", "steps/s (all phones)"):
        table.add_column(column, justify="right")
    for n_envs in args.envs:
        times = run(n_envs, args.episodes, args.steps, args.scale)
        reset, step = _percentiles(times["reset"]), _percentiles(times["step"])
        rate = n_envs * len(times["step"]) / sum(times["step"])
        table.add_row(
            str(n_envs),
            f"{reset[0] * 1e3:.0f}",
            f"{reset[1] * 1e3:.0f}",
            f"{step[0] * 1e3:.0f}",
            f"{step[1] * 1e3:.0f}",
            f"{rate:.1f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
