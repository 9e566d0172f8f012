"""How much WebEnv costs over raw Playwright doing the same work on the same MiniWoB task.

Per iteration, interleaved so that both sides see the same machine load:
  pixelpilot: ``env.reset(seed)`` then ``env.step(left_click on the right button)``;
  raw:        ``page.goto`` + seed and start the episode + screenshot decoded to numpy, then
              ``page.mouse.click`` + screenshot decoded to numpy.
Both use the same Chromium build, flags, viewport and device scale factor. The first iteration
(browser launch) is left out.

BrowserGym (``browsergym-miniwob``, the peer most RL work on MiniWoB uses) runs the same task pages
with the same Chromium binary right after, in a process of its own (``bench/browsergym_side.py``):
it pins Playwright 1.44, so it lives in a virtual environment beside pixelpilot's rather than in an
extra of it. Set it up once with ``bash bench/setup_browsergym.sh``; without it the table has no
BrowserGym columns and says so.

Run: ``python bench/web_env.py --runs 30``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import time
from pathlib import Path

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


BROWSERGYM_PYTHON = Path(__file__).resolve().parents[1] / ".bench-venv" / "browsergym" / "bin" / "python"


def browsergym_times(runs: int, python: Path) -> dict[str, list[float]]:
    """BrowserGym's reset and step timings, from its own interpreter."""
    import miniwob

    html = Path(miniwob.__file__).parent / "html" / "miniwob"
    side = Path(__file__).with_name("browsergym_side.py")
    command = [str(python), str(side), "--runs", str(runs), "--miniwob-html", str(html)]
    done = subprocess.run(
        [*command, "--chromium", chromium_executable()], capture_output=True, text=True, timeout=3600, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--browsergym-python", type=Path, default=BROWSERGYM_PYTHON)
    args = parser.parse_args()
    console = Console()
    times = run(args.runs)
    if args.browsergym_python.exists():
        times["browsergym"] = browsergym_times(args.runs, args.browsergym_python)
    else:
        console.print(f"no BrowserGym column: {args.browsergym_python} is missing (bash bench/setup_browsergym.sh)")
    table = Table(title=f"WebEnv vs raw Playwright and BrowserGym on MiniWoB {TASK} ({args.runs} runs, ms)")
    sides = [name for name in ("pixelpilot", "raw", "browsergym") if name in times]
    table.add_column("phase")
    for side in sides:
        table.add_column(f"{side} median", justify="right")
        table.add_column(f"{side} p90", justify="right")
    table.add_column("pixelpilot / raw", justify="right")
    if "browsergym" in times:
        table.add_column("browsergym / pixelpilot", justify="right")
    for phase in ("reset", "step"):
        stats = {side: _percentiles(times[side][phase]) for side in sides}
        cells = [f"{value * 1e3:.1f}" for side in sides for value in stats[side]]
        ratios = [f"{stats['pixelpilot'][0] / stats['raw'][0]:.2f}x"]
        if "browsergym" in stats:
            ratios.append(f"{stats['browsergym'][0] / stats['pixelpilot'][0]:.1f}x")
        table.add_row(phase, *cells, *ratios)
    console.print(table)


if __name__ == "__main__":
    main()
