"""Rollout throughput: environments in process vs in Ray actors, beside gymnasium's AsyncVectorEnv.

Same task (``pixelpilot/miniwob-click-button-v0``), same policy, same machine, same run:
  pixelpilot EnvPool:  ``collect_rollouts`` with the environments in this process, stepped one after another;
  pixelpilot RayEnvs:  ``collect_rollouts`` with each environment in a Ray actor, a turn's steps all in flight;
  raw AsyncVectorEnv:  the same number of environments in gymnasium subprocesses, a batched reset and then
                       every turn's random move and click as batched steps, no agent and no prompt: the floor
                       of the environment side (it plays every turn, where an agent's episode may end early).
The policy is ``RandomClickModel`` (a move to a random point and a click there, per turn), so the numbers
are the environment side of a rollout, not the model's; the pixelpilot rows also encode each prompt with
the tiny checkpoint's Qwen3-VL processor (screenshots included), as a rollout's records need. Each setting
runs one rollout first (browser launches) and then times ``--rounds`` rollouts of ``--queries`` queries x
``--group`` episodes, up to ``--max-steps`` turns each. Env steps/s counts every ``env.step`` over all
environments.
Run: ``python bench/rollout.py --queries 2 --group 2 --rounds 3``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import ray
from rich.console import Console
from rich.table import Table
from transformers import AutoProcessor

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.agent import Agent
from pixelpilot.envs.ray_pool import LOCAL_RAY
from pixelpilot.model.base import Conversation
from pixelpilot.model.random_click import RandomClickModel
from pixelpilot.model.tiny import build_tiny_checkpoint
from pixelpilot.rl.ray_envs import RayEnvs
from pixelpilot.rl.rollout import Environments, EnvPool, EpisodeRecord, Query, collect_rollouts
from pixelpilot.rl.sequences import encode_prompt

ENV_ID = "pixelpilot/miniwob-click-button-v0"


def env_steps(records: list[EpisodeRecord]) -> int:
    return sum(len(step.calls) for record in records for step in record.trajectory.steps)


def rollouts(envs: Environments, processor: Any, args: argparse.Namespace) -> tuple[float, float, float]:
    """Episodes/s, env steps/s and seconds per rollout over the timed rounds."""
    agent = Agent(RandomClickModel(processor.tokenizer), max_steps=args.max_steps)

    def encoder(conversation: Conversation) -> list[int]:
        return encode_prompt(processor, conversation)[0]

    def play(round_: int) -> list[EpisodeRecord]:
        queries = [Query(env_id=ENV_ID, seed=round_ * args.queries + q) for q in range(args.queries)]
        return collect_rollouts(agent, queries, args.group, envs, sampling_seed=round_, encoder=encoder)

    play(0)
    start = time.perf_counter()
    played = [play(round_) for round_ in range(1, args.rounds + 1)]
    seconds = time.perf_counter() - start
    episodes = sum(len(records) for records in played)
    steps = sum(env_steps(records) for records in played)
    return episodes / seconds, steps / seconds, seconds / args.rounds


def raw(n: int, args: argparse.Namespace) -> tuple[float, float, float]:
    """The same rounds on ``n`` AsyncVectorEnv environments: a seeded batched reset, then a move and a click
    per turn for ``--max-steps`` turns (episodes that end are reset by the next step, as gymnasium does)."""
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(ENV_ID)] * n)
    rng = np.random.default_rng(0)
    try:

        def play(round_: int) -> int:
            envs.reset(seed=[round_ * n + i for i in range(n)])
            for _ in range(args.max_steps):
                points = rng.integers(0, 1000, size=(n, 2)).tolist()
                for action in ("mouse_move", "left_click"):
                    envs.step([{"action": action, "coordinate": point} for point in points])
            return 2 * args.max_steps * n

        play(0)
        start = time.perf_counter()
        steps = sum(play(round_) for round_ in range(1, args.rounds + 1))
        seconds = time.perf_counter() - start
        return n * args.rounds / seconds, steps / seconds, seconds / args.rounds
    finally:
        envs.close()


def timed(make: Callable[[], Environments], processor: Any, args: argparse.Namespace) -> tuple[float, float, float]:
    envs = make()
    try:
        return rollouts(envs, processor, args)
    finally:
        envs.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=2)
    parser.add_argument("--group", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=3)
    args = parser.parse_args()
    n = args.queries * args.group
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=n, log_to_driver=False, **LOCAL_RAY)  # logical CPUs: one actor per environment
    with tempfile.TemporaryDirectory() as directory:
        # The tiny checkpoint's processor encodes the prompts, as a rollout's records need.
        processor = AutoProcessor.from_pretrained(build_tiny_checkpoint(Path(directory) / "tiny"))
    try:
        local = timed(EnvPool, processor, args)
        remote = timed(lambda: RayEnvs(num_cpus=1.0), processor, args)
        floor = raw(n, args)
    finally:
        ray.shutdown()
    table = Table(
        title=f"{ENV_ID}: {args.queries} queries x {args.group} episodes ({n} browsers), {args.rounds} timed "
        f"rollouts of up to {args.max_steps} turns, random clicks, {os.cpu_count()} cores"
    )
    for column in ("setting", "episodes/s", "env steps/s", "s per rollout"):
        table.add_column(column, justify="right")
    table.add_row("pixelpilot EnvPool (in process)", f"{local[0]:.2f}", f"{local[1]:.1f}", f"{local[2]:.2f}")
    table.add_row("pixelpilot RayEnvs (Ray actors)", f"{remote[0]:.2f}", f"{remote[1]:.1f}", f"{remote[2]:.2f}")
    table.add_row("raw AsyncVectorEnv (no agent)", f"{floor[0]:.2f}", f"{floor[1]:.1f}", f"{floor[2]:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
