"""Two processes (torchrun, gloo on CPU) train exactly as one: same losses, same weights, DDP and FSDP.

Each rank plays its shard of the queries; losses are normalised by counts summed over ranks and
gradients summed, so the two-process run must match the single-process run to float tolerance.
Rollouts use per-query seeds, so both runs sample the very same episodes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.rl.checkpoint import MODEL_DIR, latest_checkpoint
from pixelpilot.rl.metrics import read_metrics
from pixelpilot.rl.sft import run_sft
from pixelpilot.rl.trainer import run_train

CLICK = "pixelpilot/synthetic-click-button-v0"
LAUNCH = """import sys, torch
torch.set_num_threads(1)
from pixelpilot.rl.sft import run_sft
from pixelpilot.rl.trainer import run_train
(run_sft if sys.argv[1] == "sft" else run_train)(sys.argv[2])
"""


def sft_config(tiny_checkpoint: Path, out: Path, strategy: str) -> dict:
    return {
        "model": {"path": str(tiny_checkpoint)},
        "output_dir": str(out),
        "steps": 3,
        "batch_size": 5,  # odd: the ranks get different numbers of sequences and micro-batches
        "agent": {"max_steps": 1, "role_prompt": "You are a GUI agent."},
        "demos": [{"oracle": {"env_id": CLICK, "env_kwargs": {"shuffle": True}, "num_seeds": 9}}],
        "optim": {"lr": 0.01, "micro_batch_size": 2},
        "checkpoint": {"every": 0},
        "logging": {"progress": False, "plot": False},
        "distributed": {"strategy": strategy},
    }


def rl_config(tiny_checkpoint: Path, out: Path, strategy: str) -> dict:
    return {
        "model": {"path": str(tiny_checkpoint)},
        "output_dir": str(out),
        "steps": 3,
        "agent": {"max_steps": 2, "max_failures": 2, "role_prompt": "You are a GUI agent."},
        "tasks": [{"env_id": CLICK, "num_seeds": 20}],
        "rollout": {
            "group_size": 2,
            "queries_per_step": 3,
            "per_query_seed": True,
            "sampling": {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "max_new_tokens": 12},
        },
        # A random policy never succeeds: the KL term (with weight decay moving the policy) gives the loss.
        "filter": None,
        "loss": {"kl_coef": 0.5},
        "old_logprobs": "recompute",
        "optim": {"lr": 0.01, "weight_decay": 0.5, "micro_batch_size": 2},
        "checkpoint": {"every": 0},
        "logging": {"progress": False, "plot": False},
        "distributed": {"strategy": strategy},
    }


def torchrun(kind: str, config: dict, tmp_path: Path) -> None:
    script, path = tmp_path / "launch.py", tmp_path / "config.yaml"
    script.write_text(LAUNCH, encoding="utf-8")
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*command, str(script), kind, str(path)], env=env, capture_output=True, timeout=500)
    assert done.returncode == 0, done.stderr.decode()[-4000:]


def single(kind: str, config: dict, tmp_path: Path) -> None:
    path = tmp_path / "single.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    (run_sft if kind == "sft" else run_train)(path)


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    checkpoint = latest_checkpoint(out)
    assert checkpoint is not None
    return load_file(checkpoint / MODEL_DIR / "model.safetensors")


@pytest.mark.parametrize(
    ("kind", "strategy"),
    [("sft", "ddp"), ("rl", "ddp"), ("rl", "fsdp")],
    ids=["sft-ddp", "rl-ddp", "rl-fsdp"],
)
def test_two_processes_train_like_one(kind: str, strategy: str, tiny_checkpoint: Path, tmp_path: Path) -> None:
    make = sft_config if kind == "sft" else rl_config
    one, two = tmp_path / "one", tmp_path / "two"
    single(kind, make(tiny_checkpoint, one, "none"), tmp_path)
    torchrun(kind, make(tiny_checkpoint, two, strategy), tmp_path)
    alone, split = read_metrics(one / "metrics.jsonl"), read_metrics(two / "metrics.jsonl")
    assert [r["step"] for r in split] == [1, 2, 3]
    keys = ["loss", "grad_norm", "tokens_trained"]
    if kind == "rl":
        keys += ["kl", "reward_mean", "generated_tokens", "episodes", "sequences"]
        assert all(r["episodes"] == 6 for r in split)
    for key in keys:
        assert [r[key] for r in split] == pytest.approx([r[key] for r in alone], rel=1e-5, abs=1e-7), key
    assert any(abs(r["loss"]) > 1e-4 for r in alone)
    ours, theirs = final_weights(two), final_weights(one)
    assert ours.keys() == theirs.keys()
    # The losses agree to ~1e-7; the weights to ~1e-5, at worst ~1e-4 (a hundredth of one Adam step at lr
    # 0.01): Adam divides by the root of near-zero second moments, which lifts the float noise of a different
    # summation order.
    assert all(torch.allclose(ours[k], theirs[k], atol=2e-4) for k in ours)
