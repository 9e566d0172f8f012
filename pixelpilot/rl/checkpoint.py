"""Checkpoints a killed run resumes from: weights, optimizer, scheduler, each rank's RNG, the data position.

A checkpoint is written into a temporary directory and renamed into place with ``os.replace``,
so ``checkpoints/step-NNNNNN`` either exists whole or not at all: a run killed mid-save leaves
only a ``.tmp-`` directory, which the next save clears. The weights are a regular Hugging Face
checkpoint (``step-NNNNNN/model``, processor included; a LoRA run's adapter and processor), loadable by
``load_model("hf:...")``.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pixelpilot.errors import ConfigError
from pixelpilot.rl.dist import (
    DistContext,
    barrier,
    full_model_state,
    full_optimizer_state,
    load_optimizer_state,
)

CHECKPOINTS = "checkpoints"
MODEL_DIR = "model"
TRAINER_STATE = "trainer_state.json"
OPTIMIZER = "optimizer.pt"
EXTRA = "extra.pt"
"""Weights the policy trains outside its ``model`` (a reading head): not part of the Hugging Face checkpoint."""
_STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoints_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / CHECKPOINTS


def step_dir(output_dir: str | Path, step: int) -> Path:
    return checkpoints_dir(output_dir) / f"step-{step:06d}"


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints, oldest first."""
    root = checkpoints_dir(output_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), path) for path in root.iterdir() if (m := _STEP_DIR.match(path.name))]
    return sorted(found)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def capture_rng() -> dict[str, Any]:
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _strip(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {key[len(prefix) :] if key.startswith(prefix) else key: value for key, value in state.items()}


def save_checkpoint(
    output_dir: str | Path,
    step: int,
    *,
    ctx: DistContext,
    policy: nn.Module,
    hf_model: Any,
    processor: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    trainer_state: dict[str, Any],
    keep: int,
    adapter: Any = None,
) -> Path:
    """Write ``step-NNNNNN`` atomically (a collective: every rank calls it) and keep the newest ``keep``.

    ``policy`` is the module the optimizer trains (unwrapped from DDP, or the FSDP root); its keys
    carry the ``model.`` prefix of ``TokenLogprobs``, which the saved Hugging Face weights drop; any others
    (a reading head) go to ``extra.pt``. A LoRA run passes its PeftModel as ``adapter``: only the adapter is
    saved (it names its base).
    """
    model_state = full_model_state(policy) if adapter is None else {}
    optimizer_state = full_optimizer_state(policy, optimizer)
    final = step_dir(output_dir, step)
    staging = final.with_name(f".tmp-{final.name}")
    if ctx.is_main:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with _no_progress_bars():  # a bar per checkpoint would bury the run's own log
            if adapter is not None:
                adapter.save_pretrained(staging / MODEL_DIR)
            else:
                weights = {key: value for key, value in model_state.items() if key.startswith("model.")}
                hf_model.save_pretrained(staging / MODEL_DIR, state_dict=_strip(weights, "model."))
                extra = {key: value for key, value in model_state.items() if not key.startswith("model.")}
                if extra:
                    torch.save(extra, staging / EXTRA)
            processor.save_pretrained(staging / MODEL_DIR)
        torch.save({"optimizer": optimizer_state, "scheduler": scheduler.state_dict()}, staging / OPTIMIZER)
        (staging / TRAINER_STATE).write_text(json.dumps({"step": step, **trainer_state}, indent=1), encoding="utf-8")
    barrier(ctx)
    torch.save(capture_rng(), staging / f"rng-rank{ctx.rank}.pt")
    barrier(ctx)
    if ctx.is_main:
        if final.exists():
            shutil.rmtree(final)
        staging.replace(final)
        for _, old in list_checkpoints(output_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    barrier(ctx)
    return final


def load_checkpoint(
    path: Path,
    *,
    ctx: DistContext,
    policy: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> dict[str, Any]:
    """Restore the optimizer, scheduler and this rank's RNG (the weights were loaded with the model).

    Returns the trainer state (step, data position, ...) saved with it.
    """
    saved = torch.load(path / OPTIMIZER, map_location="cpu", weights_only=False)
    held, wanted = len(saved["optimizer"]["param_groups"]), len(optimizer.param_groups)
    if held != wanted:
        raise ConfigError(
            f"{path} holds {held} optimizer group(s) and the config asks for {wanted} (optim.vision_tower_lr): "
            "start a new output_dir with model.path set to that checkpoint instead"
        )
    load_optimizer_state(policy, optimizer, saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    rng = path / f"rng-rank{ctx.rank}.pt"
    if rng.exists():
        restore_rng(torch.load(rng, weights_only=False))
    return json.loads((path / TRAINER_STATE).read_text(encoding="utf-8"))
