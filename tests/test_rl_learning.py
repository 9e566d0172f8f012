"""The whole recipe learns: cold-start SFT on oracle demonstrations, then SAPO RL, on held-out seeds.

The task family is ``synthetic-click-button`` with two buttons: "Click the green button." and one
click decides. The tiny_checkpoint random Qwen3-VL starts at 0% (it cannot even write a tool call). A short
SFT teaches it the call, but sampled at temperature 1 it still often breaks the format or picks
the wrong button; SAPO on task success, with query filtering and group advantages, then raises
the success rate further. Rates are measured on 64 held-out seeds with seeded sampling, so the
run is deterministic; it takes a few CPU minutes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.rl.checkpoint import MODEL_DIR
from pixelpilot.rl.metrics import read_metrics
from pixelpilot.rl.sft import run_sft
from pixelpilot.rl.trainer import run_train

TASK = {"env_id": "pixelpilot/synthetic-click-button-v0", "env_kwargs": {"buttons": 2}}
SAMPLING = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "max_new_tokens": 40}
AGENT = {"max_steps": 1, "role_prompt": "You are a GUI agent."}
HELD_OUT = {"tasks": [{**TASK, "seed_start": 10_000, "num_seeds": 64}], "sampling": SAMPLING}


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def eval_rates(out: Path) -> list[float]:
    return [r["eval_success_rate"] for r in read_metrics(out / "metrics.jsonl") if "eval_success_rate" in r]


@pytest.mark.slow
def test_sft_then_sapo_raise_success_on_held_out_seeds(tiny_checkpoint: Path, tmp_path: Path) -> None:
    sft = {
        "model": {"path": str(tiny_checkpoint)},
        "output_dir": str(tmp_path / "sft"),
        "steps": 70,
        "batch_size": 8,
        "agent": AGENT,
        "demos": [{"oracle": {**TASK, "num_seeds": 64}}],
        "optim": {"lr": 0.03, "micro_batch_size": 8},
        "checkpoint": {"every": 0},
        "logging": {"progress": False},
        "eval": HELD_OUT,
    }
    sft_final = run_sft(write(tmp_path / "sft.yaml", sft))
    start, after_sft = eval_rates(tmp_path / "sft")

    rl = {
        "model": {"path": str(sft_final / MODEL_DIR)},
        "output_dir": str(tmp_path / "rl"),
        "steps": 8,
        "agent": AGENT,
        "tasks": [{**TASK, "num_seeds": 500}],
        "rollout": {"group_size": 8, "queries_per_step": 4, "sampling": SAMPLING},
        "loss": {"algorithm": "sapo"},
        "optim": {"lr": 0.001, "micro_batch_size": 16},
        "checkpoint": {"every": 0},
        "logging": {"progress": False},
        "eval": HELD_OUT,
    }
    run_train(write(tmp_path / "rl.yaml", rl))
    before_rl, after_rl = eval_rates(tmp_path / "rl")
    steps = [r for r in read_metrics(tmp_path / "rl" / "metrics.jsonl") if r["step"] > 0]
    print(f"held-out success: start {start:.3f}, after SFT {after_sft:.3f}, after RL {after_rl:.3f}")

    assert before_rl == after_sft  # the RL run starts from exactly the SFT checkpoint
    assert start == 0.0
    assert after_sft > start
    assert after_rl > after_sft
    assert all("skipped_update" not in r for r in steps) and sum(r["kept_queries"] for r in steps) >= 16
