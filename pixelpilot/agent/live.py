"""Watching an episode as it runs, for ``pixelpilot run``: on the console, and as its report page.

Steps print as they finish (not in a redrawn ``Live`` region), so the output stays readable when
piped to a file or a CI log. ``ReportWriter`` rewrites the episode's HTML report after each step,
and the page reloads itself until the episode ends (``pixelpilot run --watch`` opens it).
"""

from __future__ import annotations

import json
import webbrowser
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.status import Status
from rich.text import Text

from pixelpilot.agent.episode import Callback
from pixelpilot.agent.report import write_report
from pixelpilot.agent.trajectory import CallRecord, Step, Trajectory


def _snippet(text: str | None, limit: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _describe(record: CallRecord) -> str:
    if record.call is None:
        return "(unreadable call)"
    arguments = dict(record.call.arguments)
    action = arguments.pop("action", None)
    head = f"{record.call.name}.{action}" if isinstance(action, str) else record.call.name
    return f"{head} {json.dumps(arguments, ensure_ascii=False, default=str)}" if arguments else head


class LiveView(Callback):
    """An episode callback printing one block per step: number, thought, actions, reward, errors.

    Used as a context manager it also shows a spinner while the model is thinking (``spinner=False``
    when something else needs the terminal between steps, such as a person approving actions).
    """

    def __init__(self, console: Console | None = None, thought_chars: int = 160, *, spinner: bool = True) -> None:
        self.console = console or Console()
        self.thought_chars = thought_chars
        self.spinner = spinner
        self._status: Status | None = None

    def __enter__(self) -> LiveView:
        if self.spinner:
            self._status = self.console.status("step 0: waiting for the model")
            self._status.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop_spinner()

    def _stop_spinner(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def on_step(self, step: Step) -> None:
        if self._status is not None:
            self._status.update(f"step {step.index + 1}: waiting for the model")
        line = Text(f"step {step.index:>2} ", style="bold")
        line.append("✗ " if step.failed else "✓ ", style="red" if step.failed else "green")
        line.append("; ".join(_describe(c) for c in step.calls) or "(no call)", style="cyan")
        line.append(f"  reward {step.reward:g}", style="magenta")
        if "model" in step.timings:
            line.append(f"  {step.timings['model']:.1f} s", style="dim")
        self.console.print(line)
        if step.thought:
            self.console.print(Text("   " + _snippet(step.thought, self.thought_chars), style="italic dim"))
        for error in step.errors:
            self.console.print(Text("   error: " + _snippet(error, self.thought_chars), style="red"))

    def on_end(self, trajectory: Trajectory) -> None:
        self._stop_spinner()
        body = Text()
        body.append(
            "success" if trajectory.success else "failure", style="bold green" if trajectory.success else "bold red"
        )
        body.append(
            f" · ended by {trajectory.end_reason} · {len(trajectory.steps)} steps · reward {trajectory.reward:g}"
        )
        if trajectory.answer is not None:
            body.append("\nanswer: " + _snippet(trajectory.answer, 200))
        if trajectory.error:
            body.append("\nerror: " + _snippet(trajectory.error, 200), style="red")
        title = Text(_snippet(trajectory.instruction, 80) or "episode")
        self.console.print(Panel(body, title=title, expand=False))


class ReportWriter(Callback):
    """Writes the episode's report at its start and after every step, reloading itself every
    ``refresh_s`` seconds in a browser until the last write (at the end) leaves a still page.

    ``open_browser`` opens the page in the user's web browser once it first exists.
    """

    def __init__(self, path: str | Path, refresh_s: float = 2.0, *, open_browser: bool = False) -> None:
        self.path = Path(path)
        self.refresh_s = refresh_s
        self.open_browser = open_browser
        self._trajectory: Trajectory | None = None

    def on_start(self, trajectory: Trajectory) -> None:
        first = self._trajectory is None
        self._trajectory = trajectory
        write_report(trajectory, self.path, self.refresh_s)
        if first and self.open_browser:
            webbrowser.open(self.path.resolve().as_uri())

    def on_step(self, step: Step) -> None:
        if self._trajectory is not None:
            write_report(self._trajectory, self.path, self.refresh_s)

    def on_end(self, trajectory: Trajectory) -> None:
        write_report(trajectory, self.path)
