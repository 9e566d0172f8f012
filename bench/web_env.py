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

Then 1, 2 and 4 environments step at once, each in a process of its own (as a vector env or a Ray
pool runs them): every process resets, then all take ``--steps`` pointer moves together (moves end no
episode), and the table gives the steps per second of all of them, for each side.

Run: ``python bench/web_env.py --runs 30 --steps 40``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import gymnasium as gym
import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.envs.web.browser import CHROMIUM_ARGS, chromium_executable, shared_playwright
from pixelpilot.envs.web.miniwob.suite import DEVICE_SCALE_FACTOR, START_EPISODE_JS, TASK_AREA, MiniWoBTask

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


@contextmanager
def _mover(side: str) -> Iterator[Callable[[int], object]]:
    """A started episode of side, as the function that takes its i-th pointer move."""
    if side == "pixelpilot":
        env = gym.make(f"pixelpilot/miniwob-{TASK}-v0")
        try:
            env.reset(seed=0)
            yield lambda i: env.step({"action": "mouse_move", "coordinate": [250 + 500 * (i % 2), 500]})
        finally:
            env.close()
        return
    with shared_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
        try:
            width, height = TASK_AREA
            context = browser.new_context(
                viewport={"width": width, "height": height}, device_scale_factor=DEVICE_SCALE_FACTOR
            )
            page = context.new_page()
            page.goto(MiniWoBTask(name=TASK).url)
            page.evaluate(START_EPISODE_JS, [0, "train"])

            def move(i: int) -> None:
                page.mouse.move(40 + 80 * (i % 2), 105)
                _decode(page.screenshot())

            yield move
        finally:
            browser.close()


def throughput_worker(side: str, steps: int) -> None:
    """One of several environments stepping at once: ready, wait for the go on stdin, time the steps."""
    with _mover(side) as move:
        print("ready", flush=True)
        input()
        start = time.perf_counter()
        for i in range(steps):
            move(i)
        print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)


def steps_per_second(commands: list[list[str]], steps: int) -> float:
    """Start every command, let them all step at once when each is ready, and count all their steps."""
    workers = [subprocess.Popen(c, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for c in commands]
    try:
        for worker in workers:
            assert worker.stdout is not None
            while worker.stdout.readline().strip() != "ready":
                if worker.poll() is not None:
                    raise RuntimeError(f"{commands[0]} exited before it was ready")
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        seconds = [json.loads(worker.stdout.readline())["seconds"] for worker in workers]  # type: ignore[union-attr]
    finally:
        for worker in workers:
            worker.wait(timeout=120)
    return len(commands) * steps / max(seconds)


def parallel(counts: tuple[int, ...], steps: int, browsergym_python: Path | None) -> dict[str, dict[int, float]]:
    """Steps per second of 1, 2, 4 ... environments at once, for each side."""
    import miniwob

    this = [sys.executable, __file__, "--steps", str(steps), "--worker"]
    sides = {"pixelpilot": [*this, "pixelpilot"], "raw": [*this, "raw"]}
    if browsergym_python is not None:
        html = Path(miniwob.__file__).parent / "html" / "miniwob"
        side = [str(browsergym_python), str(Path(__file__).with_name("browsergym_side.py"))]
        sides["browsergym"] = [*side, "--miniwob-html", str(html), "--chromium", chromium_executable()]
        sides["browsergym"] += ["--throughput", str(steps)]
    return {name: {n: steps_per_second([command] * n, steps) for n in counts} for name, command in sides.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--steps", type=int, default=40, help="pointer moves per environment in the parallel table")
    parser.add_argument("--parallel", type=int, nargs="+", default=(1, 2, 4), help="environments at once")
    parser.add_argument("--browsergym-python", type=Path, default=BROWSERGYM_PYTHON)
    parser.add_argument("--worker", choices=("pixelpilot", "raw"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        throughput_worker(args.worker, args.steps)
        return
    console = Console()
    times = run(args.runs)
    browsergym = args.browsergym_python if args.browsergym_python.exists() else None
    if browsergym is not None:
        times["browsergym"] = browsergym_times(args.runs, browsergym)
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
    rates = parallel(tuple(args.parallel), args.steps, browsergym)
    table = Table(title=f"Environments stepping at once: steps per second of all of them ({args.steps} moves each)")
    table.add_column("environments", justify="right")
    for side in rates:
        table.add_column(side, justify="right")
    table.add_column("pixelpilot / raw", justify="right")
    if "browsergym" in rates:
        table.add_column("pixelpilot / browsergym", justify="right")
    for n in args.parallel:
        ratios = [f"{rates['pixelpilot'][n] / rates['raw'][n]:.2f}x"]
        if "browsergym" in rates:
            ratios.append(f"{rates['pixelpilot'][n] / rates['browsergym'][n]:.1f}x")
        table.add_row(str(n), *(f"{rates[side][n]:.1f}" for side in rates), *ratios)
    console.print(table)


if __name__ == "__main__":
    main()
