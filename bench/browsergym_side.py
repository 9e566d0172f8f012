"""BrowserGym's side of ``bench/web_env.py``: reset and step timings of its MiniWoB click-button, as JSON.

It runs in a virtual environment of its own (``.bench-venv/browsergym``): BrowserGym pins Playwright
1.44, which the pixelpilot install would not share. Same task pages (the ``miniwob`` package's HTML),
same Chromium binary (BrowserGym's task browser and the chat-window browser it also starts); the
flags are Playwright's defaults plus BrowserGym's own, since BrowserGym sets ``args`` itself. Each
step is ``mouse_click`` on the right button's centre, BrowserGym's coordinate action, and its
observation is BrowserGym's default (screenshot, DOM and accessibility tree).

Run by ``bench/web_env.py``; alone: ``.bench-venv/browsergym/bin/python bench/browsergym_side.py --runs 5``.
With ``--throughput STEPS`` it is one of several environments stepping at once: it resets, prints
``ready``, waits for a line on stdin, then takes STEPS ``mouse_move`` steps and prints their seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

TARGET_JS = """(wanted) => {
  const button = [...document.querySelectorAll('#area button')].find(b => b.textContent === wanted);
  const r = button.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2];
}"""


def point_playwright_at(chromium: str) -> None:
    """Make this Playwright's own Chromium revision resolve to ``chromium``: BrowserGym also starts a chat
    window's browser, whose executable it does not let callers choose, and browser downloads fail here."""
    import playwright

    package = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    revision = next(b["revision"] for b in json.loads(package.read_text())["browsers"] if b["name"] == "chromium")
    root = Path(tempfile.mkdtemp(prefix="pw-browsers-"))
    target = root / f"chromium-{revision}" / "chrome-linux" / "chrome"
    target.parent.mkdir(parents=True)
    target.symlink_to(chromium)
    os.environ["PLAYWRIGHT_BROWSERS_PATH"] = str(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--miniwob-html", required=True, help="the miniwob package's html/miniwob folder")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--throughput", type=int, metavar="STEPS", help="step STEPS times after a go on stdin")
    args = parser.parse_args()
    os.environ["MINIWOB_URL"] = Path(args.miniwob_html).resolve().as_uri() + "/"
    point_playwright_at(args.chromium)
    import browsergym.miniwob  # noqa: F401  (registers browsergym/miniwob.* ids)
    import gymnasium as gym
    from browsergym.core.action.highlevel import HighLevelActionSet

    actions = HighLevelActionSet(subsets=["coord"], strict=False, multiaction=False)
    env = gym.make(
        "browsergym/miniwob.click-button",
        action_mapping=actions.to_python_code,
        pw_chromium_kwargs={"executable_path": args.chromium},
    )
    if args.throughput:
        try:
            throughput(env, args.throughput)
        finally:
            env.close()
        return
    times: dict[str, list[float]] = {"reset": [], "step": []}
    try:
        for i in range(args.runs + 1):
            start = time.perf_counter()
            observation, _ = env.reset(seed=i)
            reset_s = time.perf_counter() - start
            # BrowserGym moves the instruction from the page into its chat: read it from the goal.
            wanted = observation["goal"].split('"')[1]
            x, y = env.unwrapped.page.evaluate(TARGET_JS, wanted)
            # Its coordinate actions are in screenshot pixels, which it maps back to the page by its scale.
            scale = getattr(env.unwrapped.page, "_bgym_scale_factor", 1.0)
            x, y = x * scale, y * scale
            start = time.perf_counter()
            observation, reward, *_ = env.step(f"mouse_click({x}, {y})")
            step_s = time.perf_counter() - start
            if reward <= 0:
                raise AssertionError(f"BrowserGym's click missed the button: {observation['last_action_error']!r}")
            if i > 0:  # the first one launches the browser
                times["reset"].append(reset_s)
                times["step"].append(step_s)
    finally:
        env.close()
    print(json.dumps(times))


def throughput(env: object, steps: int) -> None:
    """Reset, say ready, wait for the go, then time ``steps`` pointer moves (none ends the episode)."""
    env.reset(seed=0)
    print("ready", flush=True)
    input()
    start = time.perf_counter()
    for i in range(steps):
        env.step(f"mouse_move({40 + 40 * (i % 2)}, 100)")
    print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)


if __name__ == "__main__":
    main()
