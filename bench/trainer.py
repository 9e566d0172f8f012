"""Tokens per second of pixelpilot's RL step beside TRL's ``GRPOTrainer``, same model, batch and group size.

Both train the same tiny Qwen3-VL (built fresh, random weights) on the same single-turn task,
``synthetic-click-button`` with two buttons, with the same prompts (pixelpilot's system turn with
the ``computer_use`` schema, the instruction and the screenshot), the same sampling (T = 1, no
top-k/top-p, 40 new tokens), the same reward (the environment's verdict on the completion), the
same loss (SAPO, τ+ = 1, τ- = 1.05, no KL) and the same batch: Q queries x G samples, one
optimizer step per batch. Generation is transformers' ``generate`` on both sides.

Throughput is (prompt + completion tokens of the step's episodes) / the step's wall time, the
first step (warm-up) left out. TRL's count is its ``num_input_tokens_seen``. Each run has a fresh
process of its own (spawned one after the other, each with ``torch.set_num_threads(--threads)``), so
its peak RSS is its own. The LoRA row is pixelpilot's same step training rank-``--lora-r`` adapters on
the language model (``model.lora``) instead of every weight; the token-budget row packs each forward
pass up to ``--token-budget`` tokens (``optim.micro_batch_tokens``) instead of one pass for the batch.

A second table compares rollout drivers on a mix of fast and slow environments: half the queries are
the click task, half the same task behind a wait on every reset and step (as a page load or an app
launch takes), drawn from an exponential distribution of mean ``--env-delay`` seconds, seeded by the
episode (page loads have a long tail: most are quick, a few take several times the mean), each
environment on a thread of its own
(``rollout.envs.backend: threads``), episodes of up to ``--turns`` turns. ``sync`` plays turn by
turn, every turn waiting for every environment; ``async`` drives each episode on its own
(``rollout.mode``); ``async, 1 step off-policy`` also plays the next step's rollout while this step
trains (``rollout.off_policy_steps``). Same runs otherwise, one after the other, in the same bench run.

Run: ``python bench/trainer.py --steps 4 --queries 4 --group 8``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from rich.console import Console
from rich.table import Table

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.envs.synthetic import ClickButtonEnv
from pixelpilot.model import build_tiny_checkpoint
from pixelpilot.model.lora import trainable_parameters
from pixelpilot.rl.config import RLConfig
from pixelpilot.rl.trainer import RLTrainer

TASK = {"env_id": "pixelpilot/synthetic-click-button-v0", "env_kwargs": {"buttons": 2}}
SLOW_ENV = "bench/slow-click-button-v0"
ROLE = "You are a GUI agent."
MAX_NEW_TOKENS = 40


class Slow(gym.Wrapper):
    """An environment whose every reset and step first waits as a browser loading a page does: an
    exponential draw of mean ``delay`` seconds, from a generator seeded by the reset's seed and the
    environment's number (a group's episodes share a seed but not their waits), so every driver meets
    the same waits."""

    made = itertools.count()

    def __init__(self, env: gym.Env, delay: float) -> None:
        super().__init__(env)
        self.delay = delay
        self.number = next(Slow.made)
        self.waits = random.Random(self.number)

    def _wait(self) -> None:
        time.sleep(self.waits.expovariate(1.0 / self.delay))

    def reset(self, *, seed: int | None = None, **kwargs: Any) -> Any:
        self.waits = random.Random(f"{seed}/{self.number}")
        self._wait()
        return self.env.reset(seed=seed, **kwargs)

    def step(self, action: Any) -> Any:
        self._wait()
        return self.env.step(action)


gym.register(SLOW_ENV, entry_point=lambda delay, **kwargs: Slow(ClickButtonEnv(**kwargs), delay))


def pixelpilot_run(
    checkpoint: Path,
    out: Path,
    steps: int,
    queries: int,
    group: int,
    lr: float,
    model: dict | None = None,
    optim: dict | None = None,
    rollout: dict | None = None,
    env_delay: float = 0.0,
    turns: int = 1,
) -> tuple[list[dict], int]:
    """pixelpilot's steps; ``model`` / ``optim`` / ``rollout`` add keys to those sections (a variant: LoRA,
    token budget, a rollout driver); ``env_delay`` > 0 makes half the queries slow."""
    tasks = [{**TASK, "num_seeds": 1000}]
    if env_delay:
        slow = {"env_id": SLOW_ENV, "env_kwargs": {**TASK["env_kwargs"], "delay": env_delay}, "num_seeds": 1000}
        tasks = [{**tasks[0], "name": "fast"}, {**slow, "name": "slow"}]
    config = RLConfig.model_validate(
        {
            "model": {"path": str(checkpoint), **(model or {})},
            "output_dir": str(out),
            "steps": steps,
            "agent": {"max_steps": turns, "max_failures": turns, "role_prompt": ROLE},
            "tasks": tasks,
            "rollout": {
                "group_size": group,
                "queries_per_step": queries,
                "sampling": {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "max_new_tokens": MAX_NEW_TOKENS},
                **(rollout or {}),
            },
            "filter": None,  # TRL keeps every group too
            "optim": {"lr": lr, "micro_batch_size": queries * group, **(optim or {})},
            "logging": {"progress": False, "plot": False},
        }
    )
    trainer = RLTrainer(config)
    trained, _ = trainable_parameters(trainer.hf.model)
    results = []
    try:
        for step in range(1, steps + 1):
            started = time.perf_counter()
            metrics = trainer.train_step(step)
            seconds = time.perf_counter() - started
            results.append(
                {
                    "seconds": seconds,
                    "tokens": metrics["rollout_tokens"],
                    "reward": metrics["reward_mean"],
                    "turns": metrics["turns_mean"],
                    "lag": metrics["policy_lag"],
                    "batch": metrics["generate_batch_mean"],
                }
            )
    finally:
        trainer.close()
    return results, trained


def trl_prompts(count: int, checkpoint: Path) -> Any:
    """The same first prompts the pixelpilot agent builds, as a TRL conversational dataset with images."""
    from datasets import Dataset

    from pixelpilot.agent import Agent
    from pixelpilot.model.hf import HFModel

    agent = Agent(HFModel(str(checkpoint)), max_steps=1, role_prompt=ROLE)
    rows: dict[str, list] = {"prompt": [], "images": [], "seed": []}
    for seed in range(count):
        episode = agent.episode(ClickButtonEnv(buttons=2))
        episode.reset(seed=seed)
        messages, images = [], []
        for message in episode.messages():
            content = []
            for part in message["content"]:
                if part["type"] == "image":
                    images.append(part["image"])
                    content.append({"type": "image", "text": None})
                else:
                    content.append({"type": "text", "text": part["text"]})
            messages.append({"role": message["role"], "content": content})
        rows["prompt"].append(messages)
        rows["images"].append(images)
        rows["seed"].append(seed)
    return Dataset.from_dict(rows)


def click_reward(completions: list, seed: list[int], **_: Any) -> list[float]:
    """The environment's verdict on each completion, as pixelpilot's task reward gives it."""
    env = ClickButtonEnv(buttons=2)
    rewards = []
    for completion, episode_seed in zip(completions, seed, strict=True):
        text = completion[-1]["content"] if isinstance(completion, list) else completion
        env.reset(seed=episode_seed)
        _, reward, _, _, _ = env.step(text)
        rewards.append(float(reward))
    return rewards


def trl_run(checkpoint: Path, out: Path, steps: int, queries: int, group: int, lr: float) -> tuple[list[dict], int]:
    from transformers import AutoModelForImageTextToText, AutoProcessor, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.started = 0.0
            self.steps: list[dict] = []
            self.seen = 0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            tokens = state.num_input_tokens_seen - self.seen
            self.seen = state.num_input_tokens_seen
            self.steps.append({"seconds": time.perf_counter() - self.started, "tokens": tokens})

    config = GRPOConfig(
        output_dir=str(out),
        max_steps=steps,
        per_device_train_batch_size=queries * group,
        num_generations=group,
        gradient_accumulation_steps=1,
        max_completion_length=MAX_NEW_TOKENS,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        loss_type="sapo",
        sapo_temperature_pos=1.0,
        sapo_temperature_neg=1.05,
        beta=0.0,
        learning_rate=lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        max_grad_norm=1.0,
        use_cpu=True,
        bf16=False,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        seed=0,
    )
    model = AutoModelForImageTextToText.from_pretrained(str(checkpoint), dtype=torch.float32)
    clock = Clock()
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=click_reward,
        args=config,
        train_dataset=trl_prompts(1000, checkpoint),
        processing_class=AutoProcessor.from_pretrained(str(checkpoint)),
        callbacks=[clock],
    )
    trained, _ = trainable_parameters(model)
    trainer.train()
    rewards = [log["reward"] for log in trainer.state.log_history if "reward" in log]
    return [{**step, "reward": reward} for step, reward in zip(clock.steps, rewards, strict=False)], trained


def _child(run: Any, threads: int, args: tuple) -> tuple[list[dict], int, float]:
    torch.set_num_threads(threads)
    steps, trained = run(*args)
    return steps, trained, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measured(run: Any, threads: int, *args: Any) -> dict[str, float]:
    """``run(*args)`` in a fresh process: its step timings, trained weight count and peak RSS (MiB)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        steps, trained, peak = pool.apply(_child, (run, threads, args))
    return {**summarise(steps), "trained_weights": trained, "peak_rss_mb": peak}


def summarise(steps: list[dict]) -> dict[str, float]:
    timed = steps[1:] or steps
    summary = {
        "tokens_per_s": sum(s["tokens"] for s in timed) / sum(s["seconds"] for s in timed),
        "median_step_s": statistics.median(s["seconds"] for s in timed),
        "tokens_per_step": statistics.mean(s["tokens"] for s in timed),
        "mean_reward": statistics.mean(s["reward"] for s in steps),
    }
    if "lag" in steps[0]:
        summary["turns_per_episode"] = statistics.mean(s["turns"] for s in timed)
        summary["policy_lag"] = statistics.mean(s["lag"] for s in timed)
        summary["generate_batch"] = statistics.mean(s["batch"] for s in timed)
    return summary


DRIVERS = {
    "sync": {"mode": "sync"},
    "async": {"mode": "async"},
    "async, 1 step off-policy": {"mode": "async", "off_policy_steps": 1},
}
"""The rollout drivers of the second table, as ``rollout`` keys (environments on threads for all)."""


def driver_rows(args: argparse.Namespace, checkpoint: Path, root: Path) -> dict[str, dict[str, float]]:
    """Each driver's run on the mix of fast and slow environments, one after the other."""
    shape = (args.steps, args.queries, args.group, args.lr)
    rows = {}
    for name, keys in DRIVERS.items():
        rollout = {**keys, "envs": {"backend": "threads"}}
        variant = (None, None, rollout, args.env_delay, args.turns)
        rows[name] = measured(pixelpilot_run, args.threads, checkpoint, root / name, *shape, *variant)
    return rows


def trainer_rows(args: argparse.Namespace, checkpoint: Path, root: Path) -> dict[str, dict[str, float]]:
    """pixelpilot's step, its variants (LoRA, token budget) and TRL's, one after the other."""
    shape = (args.steps, args.queries, args.group, args.lr)
    rows = {"pixelpilot": measured(pixelpilot_run, args.threads, checkpoint, root / "pixelpilot", *shape)}
    if args.lora_r:
        lora = {"lora": {"r": args.lora_r, "alpha": 2.0 * args.lora_r}}
        rows[f"pixelpilot LoRA r={args.lora_r}"] = measured(
            pixelpilot_run, args.threads, checkpoint, root / "lora", *shape, lora
        )
    if args.token_budget:
        budget = (checkpoint, root / "budget", *shape, None, {"micro_batch_tokens": args.token_budget})
        rows[f"pixelpilot {args.token_budget}-token passes"] = measured(pixelpilot_run, args.threads, *budget)
    rows["trl"] = measured(trl_run, args.threads, checkpoint, root / "trl", *shape)
    return rows


def trainer_table(args: argparse.Namespace, results: dict[str, dict[str, float]]) -> Table:
    table = Table(title=f"RL step, tiny Qwen3-VL, {args.queries} queries x {args.group} samples, CPU")
    columns = ("trainer", "tokens/s", "median step (s)", "tokens/step", "mean reward", "trained weights", "peak RSS")
    for column in columns:
        table.add_column(column, justify="right")
    for name, summary in results.items():
        table.add_row(
            name,
            f"{summary['tokens_per_s']:.0f}",
            f"{summary['median_step_s']:.2f}",
            f"{summary['tokens_per_step']:.0f}",
            f"{summary['mean_reward']:.3f}",
            f"{summary['trained_weights']:,.0f}",
            f"{summary['peak_rss_mb']:.0f} MiB",
        )
    return table


def driver_table(args: argparse.Namespace, drivers: dict[str, dict[str, float]]) -> Table:
    title = (
        f"Rollout drivers: half the queries wait {args.env_delay:g} s on average (exponential) per reset and step;"
        f" up to {args.turns} turns"
    )
    table = Table(title=title)
    columns = (
        "rollouts",
        "tokens/s",
        "median step (s)",
        "speed-up",
        "turns/episode",
        "sequences/generate",
        "policy lag",
        "peak RSS",
    )
    for column in columns:
        table.add_column(column, justify="right")
    base = drivers["sync"]["median_step_s"]
    for name, summary in drivers.items():
        table.add_row(
            name,
            f"{summary['tokens_per_s']:.0f}",
            f"{summary['median_step_s']:.2f}",
            f"{base / summary['median_step_s']:.2f}x",
            f"{summary['turns_per_episode']:.2f}",
            f"{summary['generate_batch']:.1f}",
            f"{summary['policy_lag']:.2f}",
            f"{summary['peak_rss_mb']:.0f} MiB",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--queries", type=int, default=4)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lora-r", type=int, default=16, help="rank of the LoRA row's adapters (0: no LoRA row)")
    parser.add_argument(
        "--token-budget", type=int, default=4096, help="tokens per pass of the dynamic-batching row (0: no such row)"
    )
    parser.add_argument(
        "--env-delay", type=float, default=4.0, help="mean wait per reset and step of the slow envs, s (0: none)"
    )
    parser.add_argument("--turns", type=int, default=3, help="turns per episode at most, in the driver rows")
    parser.add_argument("--only-drivers", action="store_true", help="run the driver rows alone")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    drivers: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        checkpoint = build_tiny_checkpoint(root / "tiny")
        if args.env_delay:
            drivers = driver_rows(args, checkpoint, root / "drivers")
        if not args.only_drivers:
            results = trainer_rows(args, checkpoint, root)
    console = Console()
    if results:
        console.print(trainer_table(args, results))
    if drivers:
        console.print(driver_table(args, drivers))
    if args.json:
        args.json.write_text(json.dumps({**results, **drivers}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
