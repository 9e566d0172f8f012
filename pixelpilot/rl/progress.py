"""How a training run shows its progress: a live bar on a terminal, plain step lines anywhere else.

Under ``nohup``, a batch scheduler or ``| tee``, a live bar writes nothing readable, so there the run
prints one self-contained line every few steps (and at the last), with the time per step and the
time left, that ``tail -f`` and ``grep`` can read; it is never cut to a terminal's width.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

STATUS_KEYS = (
    ("loss", "loss"),
    ("reward_mean", "reward"),
    ("success_rate", "success"),
    ("eval_success_rate", "eval"),
)
"""Metrics a step line shows, with their short names, when the step has them."""


def status_text(metrics: dict[str, float]) -> str:
    return " ".join(
        f"{short} {metrics[key]:.4g}" for key, short in STATUS_KEYS if isinstance(metrics.get(key), (int, float))
    )


def duration_text(seconds: float) -> str:
    """``42s``, ``12m``, ``3h05m``: what is left of a run, to the precision that matters."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m"


class StepReporter:
    """Reports each finished step of a run going from ``start`` to ``total`` steps.

    ``enabled`` is false on every rank but the main one, and where the config turns progress off.
    """

    def __init__(
        self,
        name: str,
        total: int,
        start: int,
        *,
        enabled: bool = True,
        every: int = 10,
    ) -> None:
        self.name, self.total, self.step, self.every = name, total, start, max(1, every)
        self.enabled = enabled
        console = Console()
        self._started = time.monotonic()
        self._first = start
        self._progress: Progress | None = None
        if enabled and console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=console,
            )
            self._task = self._progress.add_task(name, total=total, completed=start, status="")

    def __enter__(self) -> StepReporter:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, metrics: dict[str, float]) -> None:
        """One more step done, with its metrics."""
        self.step += 1
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.update(self._task, advance=1, status=status_text(metrics))
            return
        if self.step % self.every and self.step != self.total:
            return
        print(self.line(metrics), flush=True)

    def line(self, metrics: dict[str, float]) -> str:
        """``sft step 12/200 loss 0.41 eval 0.39 3.1 s/step ETA 9m``: the plain report of the last step."""
        done = self.step - self._first
        per_step = (time.monotonic() - self._started) / max(1, done)
        parts = [f"{self.name} step {self.step}/{self.total}", status_text(metrics), f"{per_step:.3g} s/step"]
        parts.append(f"ETA {duration_text(per_step * (self.total - self.step))}")
        return " ".join(part for part in parts if part)
