"""A run killed with SIGKILL resumes from its last checkpoint and continues exactly as if never stopped.

The killed run is a real subprocess running the real trainer; the test waits for its first
checkpoint, kills it mid-training, resumes in the same output directory and compares every later
step's loss (and the final weights) with an uninterrupted run of the same config.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.errors import ConfigError
from pixelpilot.rl.checkpoint import EXTRA, MODEL_DIR, step_dir
from pixelpilot.rl.config import SFTConfig, load_config
from pixelpilot.rl.metrics import read_metrics
from pixelpilot.rl.reading import run_reading
from pixelpilot.rl.sft import run_sft
from pixelpilot.rl.trainer import run_train

CLICK = "pixelpilot/synthetic-click-button-v0"
STEPS = 6
RUNNERS = {
    "sft": "pixelpilot.rl.sft:run_sft",
    "rl": "pixelpilot.rl.trainer:run_train",
    "read": "pixelpilot.rl.reading:run_reading",
}


def common(tiny_checkpoint: Path, out: Path) -> dict:
    return {
        "model": {"path": str(tiny_checkpoint)},
        "output_dir": str(out),
        "seed": 3,
        "steps": STEPS,
        "agent": {"max_steps": 1, "role_prompt": "You are a GUI agent."},
        "checkpoint": {"every": 2, "keep": 5},
        "logging": {"progress": False, "plot": False},
    }


def sft_config(tiny_checkpoint: Path, out: Path) -> dict:
    return {
        **common(tiny_checkpoint, out),
        "batch_size": 3,
        "demos": [{"oracle": {"env_id": CLICK, "env_kwargs": {"shuffle": True}, "num_seeds": 7}}],
        "optim": {"lr": 0.005, "micro_batch_size": 2, "warmup_steps": 3, "schedule": "cosine"},
    }


def read_config(tiny_checkpoint: Path, out: Path) -> dict:
    return {
        **common(tiny_checkpoint, out),
        "batch_size": 3,
        "pages": [{"env_id": "pixelpilot/miniwob-click-test-2-v0", "num_seeds": 4}],
        "optim": {"lr": 0.005, "micro_batch_size": 2, "warmup_steps": 3, "schedule": "cosine"},
    }


def rl_config(tiny_checkpoint: Path, out: Path) -> dict:
    # A random policy never succeeds, so nothing but the KL term can give a loss: weight decay moves the
    # weights away from the reference every step, which makes each step's loss depend on all that came before.
    return {
        **common(tiny_checkpoint, out),
        "tasks": [{"env_id": CLICK, "num_seeds": 9}],
        "rollout": {
            "group_size": 2,
            "queries_per_step": 2,
            "sampling": {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "max_new_tokens": 12},
        },
        "filter": None,
        "loss": {"kl_coef": 0.5},
        "optim": {"lr": 0.01, "weight_decay": 0.5, "micro_batch_size": 4},
    }


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def start(kind: str, config: Path) -> subprocess.Popen:
    module, function = RUNNERS[kind].split(":")
    code = f"from {module} import {function}\n{function}({str(config)!r})"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_after_first_checkpoint(process: subprocess.Popen, out: Path, timeout_s: float = 300.0) -> None:
    first = step_dir(out, 2)
    deadline = time.monotonic() + timeout_s
    try:
        while not first.exists():
            if process.poll() is not None:
                raise AssertionError(f"the run ended before its first checkpoint: {process.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise AssertionError("no checkpoint within the time limit")
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()


def weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(step_dir(out, STEPS) / MODEL_DIR / "model.safetensors")


CONFIGS = {"sft": (sft_config, run_sft), "rl": (rl_config, run_train), "read": (read_config, run_reading)}
EXTRA_METRICS = {"sft": (), "rl": ("reward_mean", "kl", "generated_tokens"), "read": ("read_loss", "anchor")}


@pytest.mark.parametrize("kind", ["sft", "rl", "read"])
def test_killed_run_resumes_where_it_stopped(kind: str, tiny_checkpoint: Path, tmp_path: Path) -> None:
    make, run = CONFIGS[kind]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    run(write(tmp_path / "straight.yaml", make(tiny_checkpoint, straight)))
    config = write(tmp_path / "killed.yaml", make(tiny_checkpoint, killed))
    kill_after_first_checkpoint(start(kind, config), killed)
    assert not step_dir(killed, STEPS).exists(), "the run was not killed mid-training"
    run(config)

    expected = {r["step"]: r for r in read_metrics(straight / "metrics.jsonl")}
    resumed = read_metrics(killed / "metrics.jsonl")
    assert [r["step"] for r in resumed] == list(range(1, STEPS + 1))  # no step twice, none missing
    losses = [(r["step"], r["loss"], expected[r["step"]]["loss"]) for r in resumed]
    assert all(abs(ours - theirs) <= 1e-6 * max(1.0, abs(theirs)) for _, ours, theirs in losses), losses
    assert any(abs(theirs) > 1e-4 for step, _, theirs in losses if step > 2), "the losses after the kill are all 0"
    for key in ("grad_norm", "lr", *EXTRA_METRICS[kind]):
        assert [r.get(key) for r in resumed] == pytest.approx([expected[r["step"]].get(key) for r in resumed])
    ours, theirs = weights(killed), weights(straight)
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[name], theirs[name]) for name in ours)
    if kind == "read":  # the head, which lives outside the model, resumed too
        ours, theirs = (torch.load(step_dir(out, STEPS) / EXTRA) for out in (killed, straight))
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[name], theirs[name]) for name in ours)


def test_a_run_killed_before_its_first_checkpoint_starts_over_with_its_records(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 99.0}) + "\n", encoding="utf-8")
    run_sft(write(tmp_path / "sft.yaml", {**sft_config(tiny_checkpoint, out), "steps": 2}))
    records = read_metrics(out / "metrics.jsonl")
    assert [record["step"] for record in records] == [1, 2] and records[0]["loss"] != 99.0


def test_the_run_folder_keeps_its_config_and_a_changed_one_is_refused_or_applied(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    data = sft_config(tiny_checkpoint, out)
    data.update(steps=2, optim={**data["optim"], "schedule": "constant", "warmup_steps": 0})
    path = write(tmp_path / "sft.yaml", data)
    run_sft(path)
    saved = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert SFTConfig.model_validate(saved) == load_config(path, SFTConfig)  # every default written out
    assert saved["optim"]["betas"] == [0.9, 0.999] and saved["checkpoint"]["resume"] is True

    with pytest.raises(ConfigError, match=r"optim\.lr: 0\.005 -> 0\.5"):
        run_sft(path, ["steps=3", "optim.lr=0.5"])
    run_sft(path, ["steps=3"])  # a longer run changes nothing a step computes
    run_sft(path, ["steps=4", "optim.lr=0.5"], allow_config_change=True)
    assert [r["lr"] for r in read_metrics(out / "metrics.jsonl")] == [0.005, 0.005, 0.005, 0.5]
    assert yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))["optim"]["lr"] == 0.5
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert [start["from_step"] for start in record["starts"]] == [0, 2, 3]
    assert torch.__version__.startswith(record["torch"])
    assert record["pixelpilot"] and record["starts"][0]["host"]
