"""pixelpilot-nano: its untrained shape, its recipe (run at reduced size), and the shipped checkpoint's skill."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import gymnasium as gym
import torch
from safetensors import safe_open

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.agent import Agent
from pixelpilot.agent.prompt import gui_system_texts
from pixelpilot.cli import main
from pixelpilot.model import load_model
from pixelpilot.model.spec import nano_checkpoint
from pixelpilot.model.tiny import NANO, build_tiny_checkpoint
from pixelpilot.rl.eval_run import read_results
from pixelpilot.rl.evaluation import summarize
from pixelpilot.rl.metrics import METRICS_FILE, read_metrics
from pixelpilot.rl.sequences import encode_prompt

ROOT = Path(__file__).resolve().parents[1]
# Five trained tasks, four single-step and one multi-step, on held-out seeds (training used seeds < 10,000), each
# with a floor under what the shipped model scores on the seeds below (20/20, 20/20, 19/20, 14/20 and 18/20; README:
# 100%, 100%, 90%, 74% and 86% on seeds 10,000-10,049): a checkpoint or an eval path that regresses fails here.
# click-test can only be solved from the screenshot (its instruction never changes); click-dialog needs the
# dialog's small close button found wherever the dialog is; click-test-2 needs the label read (ONE or TWO:
# random clicks score 14%, nano before its tower learnt to read 54%).
HELD_OUT_FLOORS = {"click-test": 0.9, "click-tab": 0.9, "click-dialog": 0.8, "click-test-2": 0.6, "enter-text": 0.6}


def test_untrained_nano_reads_a_miniwob_screen_at_its_budget(tmp_path: Path) -> None:
    path = build_tiny_checkpoint(tmp_path / "nano", size="nano", corpus=gui_system_texts("pixelpilot"))
    model = load_model(f"hf:{path}")
    try:
        assert model.default_sampling.temperature == 0.0  # nano decodes greedily unless told otherwise
        assert model.prompt_style == "pixelpilot"  # and is prompted in the wording it is trained on
        config = model.model.config
        assert (config.text_config.hidden_size, config.text_config.num_hidden_layers) == (NANO.hidden, NANO.layers)
        assert config.vision_config.depth == NANO.vision_depth and config.vision_config.spatial_merge_size == 2
        weights = sum(p.numel() for p in model.model.parameters())
        assert 5_000_000 < weights < 15_000_000  # bf16 files well under 60 MB
        env = gym.make("pixelpilot/miniwob-click-button-v0")
        try:
            episode = Agent(model).episode(env)
            episode.reset(seed=10000)
            ids, images = encode_prompt(model.processor, episode.messages())
        finally:
            env.close()
        image_tokens = ids.count(config.image_token_id)
        # The 480x630 screenshot at the nano budget: 256x352 pixels, 8x11 merged tokens (docs/nano.md).
        assert images[0].size == (480, 630) and image_tokens == 88
        # Its tokenizer learned the system prompt it reads on every turn: a few long tokens, not 700 short ones.
        system = model.tokenizer.encode(gui_system_texts("pixelpilot")[0], add_special_tokens=False)
        assert len(system) < 200 and len(ids) < 320
        coordinate = model.tokenizer.encode("[125, 402]", add_special_tokens=False)
        assert [model.tokenizer.decode([t]) for t in coordinate][1:4] == ["1", "2", "5"]  # digit by digit
    finally:
        model.close()


def test_train_nano_script_runs_every_stage_at_reduced_size(tmp_path: Path) -> None:
    runs, ship = tmp_path / "runs", tmp_path / "ship"
    env = {**os.environ, "RUNS": str(runs), "SHIP": str(ship), "SMOKE": "1"}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "train_nano.sh")], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sft = read_metrics(runs / "sft" / METRICS_FILE)
    assert [r["step"] for r in sft] == [1, 2] and all(r["loss"] > 0 for r in sft)
    sft3 = read_metrics(runs / "sft3" / METRICS_FILE)
    assert [r["step"] for r in sft3] == [1]
    # Each stage reads the sources it shares with the one before from the carried demos: sft2 records its 3
    # new sources beside stage 1's 9, sft3 its 5 new ones beside those 12.
    assert [len(list((runs / stage / "demos").glob("*.pkl"))) for stage in ("sft", "sft2", "sft3")] == [9, 12, 17]
    for stage in ("rl", "rl2"):
        rl = read_metrics(runs / stage / METRICS_FILE)
        assert rl[-1]["step"] == 1 and rl[-1]["episodes"] == 2 and "reward/format" in rl[-1]
    read = read_metrics(runs / "read" / METRICS_FILE)
    assert [r["step"] for r in read] == [1] and read[0]["read_loss"] > 0
    sft4 = read_metrics(runs / "sft4" / METRICS_FILE)
    assert [r["step"] for r in sft4] == [1] and sft4[0]["loss"] > 0
    with safe_open(str(ship / "model.safetensors"), "pt") as shipped:
        assert {shipped.get_tensor(name).dtype for name in shipped.keys()} == {torch.bfloat16}  # noqa: SIM118
    model = load_model(f"hf:{ship}")
    try:
        assert model.default_sampling.temperature == 0.0
        assert model.prompt_style == "pixelpilot"  # named by the base, carried through SFT, RL and export
    finally:
        model.close()


def test_shipped_nano_solves_held_out_seeds_of_trained_tasks(tmp_path: Path) -> None:
    assert (nano_checkpoint() / "model.safetensors").stat().st_size < 60 * 2**20
    out = tmp_path / "eval"
    envs = [arg for task in HELD_OUT_FLOORS for arg in ("--env", f"pixelpilot/miniwob-{task}-v0")]
    command = ["eval", *envs, "--model", "nano", "--seeds", "10000:10020", "--workers", "4", "--max-steps", "5"]
    assert main([*command, "--out", str(out)]) == 0
    summaries = {s.task: s for s in summarize(read_results(out))}
    for task, floor in HELD_OUT_FLOORS.items():
        assert summaries[task].episodes == 20
        assert summaries[task].success_rate >= floor, f"{task}: {summaries[task]}"
    first_clicks = {
        tuple(
            json.loads((out / row.trajectory / "trajectory.json").read_text())["steps"][0]["calls"][0]["call"][
                "arguments"
            ]["coordinate"]
        )
        for row in read_results(out)
        if row.task == "click-test"
    }
    assert len(first_clicks) >= 10  # it looks: the click follows the button (one fixed point scored 58%)
