"""Soak: many episodes of random clicks over a web, a desktop and a simulated-Android task, with their
processes killed (SIGKILL) as they run; what a long rollout job does to memory, processes and episodes.

Episodes cycle over MiniWoB click-button (Chromium), the desktop editor task (Xvfb, a window manager,
a Tk program) and the simulated phone's Wi-Fi task (Chromium), played by the random-click policy
through the agent loop. Every ``--kill-every`` episodes, right after the first step of the next
episode of each kind, SIGKILL goes to its browser, to the phone's browser, and on the desktop to the
X server (odd rounds) or to the program the task started (even rounds): the episode must end with a
clear error and the next reset must bring the environment back.

Reported: the RSS of this process at 0, 25, 50, 75 and 100% of the episodes, the episodes lost (one
that raised instead of ending with a result or a clear error), how episodes ended, the processes left
after ``close()`` (every browser and desktop process carries a marker in its environment), and steps
per second.

Run: ``python bench/soak.py --episodes 1000 --kill-every 100``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
from rich.console import Console
from rich.table import Table

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.agent import Agent, Callback
from pixelpilot.agent.episode import Step
from pixelpilot.envs.desktop.xserver import MARKER_ENV as DESKTOP_MARKER
from pixelpilot.envs.desktop.xserver import marked_processes
from pixelpilot.envs.web.browser import MARKER_ENV as BROWSER_MARKER
from pixelpilot.model.random_click import RandomClickModel

WEB = "pixelpilot/miniwob-click-button-v0"
DESKTOP = "pixelpilot/desktop-editor-append-line-v0"
ANDROID = "pixelpilot/android-settings-wifi-off-v0"
KINDS = (WEB, DESKTOP, ANDROID)
SERVER_PROGRAMS = ("Xvfb", "jwm")


def rss_mb() -> float:
    """This process's resident memory (``VmRSS``), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _program(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def _browser_session(inner: Any) -> Any:
    """The browser session of a web environment or of the simulated phone; None for a desktop."""
    return getattr(inner, "browser", None) or getattr(getattr(inner, "device", None), "session", None)


def _kill(pids: list[int]) -> int:
    killed = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            continue
    return killed


@dataclass
class Markers:
    """Every marker a browser or desktop of the run carried: what to look for once everything is closed."""

    browsers: set[str] = field(default_factory=set)
    desktops: set[str] = field(default_factory=set)

    def note(self, env: gym.Env) -> None:
        inner = env.unwrapped
        if hasattr(inner, "server"):
            self.desktops.add(inner.marker)
        session = _browser_session(inner)
        if session is not None and session.marker:
            self.browsers.add(session.marker)

    def left(self) -> list[int]:
        found = [pid for marker in self.browsers for pid in marked_processes(marker, BROWSER_MARKER)]
        return found + [pid for marker in self.desktops for pid in marked_processes(marker, DESKTOP_MARKER)]


class Killer(Callback):
    """Kills the running episode's processes after its first step, when asked to."""

    def __init__(self) -> None:
        self.env: gym.Env | None = None
        self.round = 0
        self.killed = 0

    def on_step(self, step: Step) -> None:
        if self.env is None or step.index != 0:
            return
        inner, self.env = self.env.unwrapped, None
        if hasattr(inner, "server"):
            programs = [pid for pid in inner.processes() if not _program(pid).endswith(SERVER_PROGRAMS)]
            if self.round % 2:
                self.killed += _kill(programs)
            elif inner.server is not None and inner.server.pid:
                self.killed += _kill([inner.server.pid])
            return
        session = _browser_session(inner)
        if session.pid:
            self.killed += _kill([session.pid])


@dataclass
class SoakReport:
    episodes: int
    steps: int
    seconds: float
    kills: int
    lost: list[str]
    ends: dict[str, int]
    rss_mb: dict[int, float]
    left: list[int]

    @property
    def steps_per_s(self) -> float:
        return self.steps / max(self.seconds, 1e-9)


def soak(
    episodes: int, kill_every: int, max_steps: int = 3, seed: int = 0, console: Console | None = None
) -> SoakReport:
    """Play ``episodes`` episodes over the three kinds, killing processes every ``kill_every`` episodes."""
    envs = {kind: gym.make(kind) for kind in KINDS}
    killer = Killer()
    agent = Agent(RandomClickModel(), max_steps=max_steps, callbacks=[killer])
    markers = Markers()
    marks = {round(episodes * share) for share in (0.25, 0.5, 0.75)}
    memory = {0: rss_mb()}
    ends: Counter[str] = Counter()
    lost: list[str] = []
    steps = 0
    started = time.perf_counter()
    try:
        for number in range(episodes):
            kind = KINDS[number % len(KINDS)]
            if kill_every and number >= kill_every and number % kill_every < len(KINDS):  # one of each kind
                killer.env, killer.round = envs[kind], number // kill_every
            try:
                trajectory = agent.run(envs[kind], seed=seed + number)
                ends[trajectory.end_reason or "unknown"] += 1
                steps += len(trajectory.steps)
            except Exception as error:  # a lost episode: exactly what the soak is here to find
                lost.append(f"episode {number} ({kind}): {type(error).__name__}: {error}")
            markers.note(envs[kind])
            if number + 1 in marks:
                memory[number + 1] = rss_mb()
            if console is not None and (number + 1) % 50 == 0:
                console.print(f"soak {number + 1}/{episodes}  rss {rss_mb():.0f} MiB  lost {len(lost)}")
    finally:
        seconds = time.perf_counter() - started
        memory[episodes] = rss_mb()
        for env in envs.values():
            env.close()
    time.sleep(1.0)  # what close() ended has a moment to be reaped
    return SoakReport(episodes, steps, seconds, killer.killed, lost, dict(ends), memory, markers.left())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--kill-every", type=int, default=100)
    parser.add_argument("--max-steps", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()
    console = Console()
    report = soak(args.episodes, args.kill_every, args.max_steps, console=console)
    table = Table(title=f"soak: {report.episodes} episodes, SIGKILL every {args.kill_every}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for at, value in sorted(report.rss_mb.items()):
        table.add_row(f"RSS after {at} episodes", f"{value:.0f} MiB")
    quarter = min(report.rss_mb, key=lambda at: abs(at - report.episodes / 4))
    growth = report.rss_mb[report.episodes] / report.rss_mb[quarter] - 1
    table.add_row(f"RSS growth {quarter} → {report.episodes}", f"{growth:+.1%}")
    table.add_row("processes killed", str(report.kills))
    table.add_row("episodes lost", str(len(report.lost)))
    table.add_row("processes left after close", str(len(report.left)))
    table.add_row("steps per second", f"{report.steps_per_s:.1f}")
    for reason, count in sorted(report.ends.items()):
        table.add_row(f"ended: {reason}", str(count))
    console.print(table)
    for line in report.lost:
        console.print(f"[red]lost[/] {line}")
    if args.json:
        args.json.write_text(json.dumps({**asdict(report), "steps_per_s": report.steps_per_s}, indent=1))


if __name__ == "__main__":
    main()
