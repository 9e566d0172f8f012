"""Training metrics: one JSON object per step in ``metrics.jsonl``, the trackers named, a PNG of the curves.

JSON lines are the record of a run (appendable, greppable, readable by pandas); the trackers
(TensorBoard, W&B: ``trackers``) and the plot are views of it. A resumed run first drops the lines
written after its checkpoint, so the file reads as one uninterrupted run.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pixelpilot.rl.trackers import Tracker

METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "curves.png"
DEFAULT_CURVES = ("reward_mean", "success_rate", "loss", "eval_success_rate", "anchor", "read_accuracy")


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a metrics file (a missing file has none)."""
    file = Path(path)
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]


class MetricsLogger:
    """Writes metrics on the main process only; other ranks hold a logger that does nothing."""

    def __init__(self, output_dir: str | Path, *, enabled: bool = True, trackers: Sequence[Tracker] = ()) -> None:
        self.path = Path(output_dir) / METRICS_FILE
        self.enabled = enabled
        self._trackers = list(trackers) if enabled else []
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def truncate_after(self, step: int) -> None:
        """Forget records of steps after ``step``: a killed run wrote them after its last checkpoint."""
        if not self.enabled or not self.path.exists():
            return
        kept = [record for record in read_metrics(self.path) if record.get("step", 0) <= step]
        self.path.write_text("".join(json.dumps(record) + "\n" for record in kept), encoding="utf-8")

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        record = {"step": step, "time": time.time(), **{k: _plain(v) for k, v in metrics.items()}}
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
        for tracker in self._trackers:
            tracker.log(step, metrics)

    def close(self) -> None:
        for tracker in self._trackers:
            tracker.close()
        self._trackers = []


def _plain(value: Any) -> Any:
    """Floats that JSON can hold: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def plot_curves(
    metrics_path: str | Path, out: str | Path | None = None, keys: Sequence[str] = DEFAULT_CURVES
) -> Path | None:
    """One panel per metric present in the file, against the step; None when there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(metrics_path)
    present = [key for key in keys if any(isinstance(r.get(key), (int, float)) for r in records)]
    if not present:
        return None
    target = Path(out) if out is not None else Path(metrics_path).with_name(PLOT_FILE)
    figure, axes = plt.subplots(1, len(present), figsize=(4 * len(present), 3), squeeze=False)
    for axis, key in zip(axes[0], present, strict=True):
        points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
        steps, values = zip(*points, strict=True)
        axis.plot(steps, values, marker="o" if len(points) < 30 else None, markersize=3)
        axis.set_title(key)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    plt.close(figure)
    return target
