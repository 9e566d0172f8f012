"""Metrics backends named by ``logging.report_to``: TensorBoard and Weights & Biases beside ``metrics.jsonl``.

The JSON lines stay the record of a run; a tracker is a view of the same numbers, fed the same
``(step, metrics)`` calls on the main process. Each is imported only when named (the ``track`` extra),
and a missing one is reported by the config check before the model loads.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pixelpilot.errors import ConfigError

WANDB_RUN_ID = "wandb-run-id"


class Tracker(Protocol):
    def log(self, step: int, metrics: dict[str, float]) -> None: ...

    def close(self) -> None: ...


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        key: float(value)
        for key, value in metrics.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    }


class TensorBoardTracker:
    """Event files under ``output_dir/tensorboard`` (``tensorboard --logdir OUTPUT_DIR``)."""

    def __init__(self, output_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(log_dir=str(output_dir / "tensorboard"))

    def log(self, step: int, metrics: dict[str, float]) -> None:
        for key, value in _scalars(metrics).items():
            self._writer.add_scalar(key, value, step)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class WandbTracker:
    """A W&B run whose files live under ``output_dir/wandb``; a resumed run continues the same W&B run.

    ``WANDB_MODE=offline`` keeps it on disk (``wandb sync`` uploads it later). Steps a killed run logged
    after its last checkpoint are logged again on resume; W&B keeps the first value of a step.
    """

    def __init__(self, output_dir: Path, config: dict[str, Any], project: str | None, name: str | None) -> None:
        import wandb

        id_file = output_dir / WANDB_RUN_ID
        run_id = id_file.read_text(encoding="utf-8").strip() if id_file.exists() else secrets.token_hex(4)
        id_file.write_text(run_id, encoding="utf-8")
        try:
            self._run = wandb.init(
                project=project or "pixelpilot",
                name=name or output_dir.resolve().name,
                id=run_id,
                resume="allow",
                dir=str(output_dir),
                config=config,
            )
        except wandb.Error as error:
            raise ConfigError(
                f"W&B could not start the run: {error} (run `wandb login`, set WANDB_API_KEY, or WANDB_MODE=offline "
                "to keep the run on disk)"
            ) from error

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if step >= self._run.step:
            self._run.log(_scalars(metrics), step=step)

    def close(self) -> None:
        self._run.finish()


def open_trackers(
    names: Sequence[str],
    output_dir: str | Path,
    config: dict[str, Any],
    *,
    project: str | None = None,
    run_name: str | None = None,
) -> list[Tracker]:
    """The trackers ``report_to`` names (``jsonl`` is the metrics file itself, always written)."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    trackers: list[Tracker] = []
    for name in dict.fromkeys(names):
        if name == "tensorboard":
            trackers.append(TensorBoardTracker(folder))
        elif name == "wandb":
            trackers.append(WandbTracker(folder, config, project, run_name))
        elif name != "jsonl":
            raise ValueError(f"unknown metrics backend {name!r}: use jsonl, tensorboard or wandb")
    return trackers
