"""How much WebEnv costs over raw Playwright doing the same work on the same MiniWoB task.

Per iteration, interleaved so that both sides see the same machine load:
  pixelpilot: ``env.reset(seed)`` then ``env.step(left_click on the right button)``;
  raw:        ``page.goto`` + seed and start the episode + screenshot decoded to numpy, then
              ``page.mouse.click`` + screenshot decoded to numpy.
Both use the same Chromium build, flags, viewport and device scale factor. The first iteration
(browser launch) is left out. Run: ``python bench/web_env.py --runs 30``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import gymnasium as gym
import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.envs.browser import CHROMIUM_ARGS, chromium_executable, shared_playwright
from pixelpilot.envs.miniwob import DEVICE_SCALE_FACTOR, START_EPISODE_JS, TASK_AREA, MiniWoBTask

TASK = "click-button"
_TARGET_JS = """() => {
  const wanted = document.querySelector('#query').textContent.match(/"(.*)"/)[1];
  const button = [...document.querySelectorAll('#area button')].find(b => b.textContent === wanted);
  const r = button.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2];
}"""


def _decode(png: bytes) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(png)).convert("RGB"))


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def run(runs: int) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {
        "pixelpilot": {"reset": [], "step": []},
        "raw": {"reset": [], "step": []},
    }
    url = MiniWoBTask(name=TASK).url
    env = gym.make(f"pixelpilot/miniwob-{TASK}-v0")
    with shared_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
        width, height = TASK_AREA
        page = browser.new_context(
            viewport={"width": width, "height": height}, device_scale_factor=DEVICE_SCALE_FACTOR
        ).new_page()
        try:
            for i in range(runs + 1):
                start = time.perf_counter()
                env.reset(seed=i)
                reset_s = time.perf_counter() - start
                x, y = env.unwrapped.page.evaluate(_TARGET_JS)
                action = {"action": "left_click", "coordinate": list(env.unwrapped.to_grid(x, y))}
                start = time.perf_counter()
                _, reward, *_ = env.step(action)
                step_s = time.perf_counter() - start
                assert reward == 1.0, "pixelpilot's click missed the button"

                start = time.perf_counter()
                page.goto(url)
                page.evaluate(START_EPISODE_JS, [i, "train"])
                _decode(page.screenshot())
                raw_reset_s = time.perf_counter() - start
                x, y = page.evaluate(_TARGET_JS)
                start = time.perf_counter()
                page.mouse.click(x, y)
                _decode(page.screenshot())
                raw_step_s = time.perf_counter() - start
                assert page.evaluate("WOB_RAW_REWARD_GLOBAL") > 0, "the raw click missed the button"

                if i > 0:
                    times["pixelpilot"]["reset"].append(reset_s)
                    times["pixelpilot"]["step"].append(step_s)
                    times["raw"]["reset"].append(raw_reset_s)
                    times["raw"]["step"].append(raw_step_s)
        finally:
            browser.close()
            env.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    times = run(args.runs)
    table = Table(title=f"WebEnv vs raw Playwright on MiniWoB {TASK} ({args.runs} runs, milliseconds)")
    for column in ("phase", "pixelpilot median", "pixelpilot p90", "raw median", "raw p90", "ratio (median)"):
        table.add_column(column, justify="right")
    for phase in ("reset", "step"):
        ours = _percentiles(times["pixelpilot"][phase])
        raw = _percentiles(times["raw"][phase])
        table.add_row(
            phase,
            f"{ours[0] * 1e3:.1f}",
            f"{ours[1] * 1e3:.1f}",
            f"{raw[0] * 1e3:.1f}",
            f"{raw[1] * 1e3:.1f}",
            f"{ours[0] / raw[0]:.2f}x",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
