"""Throughput of RayEnvPool beside gymnasium's AsyncVectorEnv, with 1, 2 and 4 MiniWoB environments.

Same task (``pixelpilot/miniwob-click-button-v0``), same machine, same run, one setting after the other:
  AsyncVectorEnv:   one process and one Chromium per env; batched ``step``;
  RayEnvPool batch: one Ray actor and one Chromium per env on a local Ray; batched ``step``;
  RayEnvPool free:  the same pool, each env sent its next action as soon as its last step came back
                    (``send``/``recv``), as an RL rollout drives it.
Every step is a ``mouse_move`` across the page, which never ends an episode. One batched ``reset``
(browser launch) and one step per env are left out before timing. Steps/s counts every env's steps.
Run: ``python bench/ray_pool.py --envs 1 2 4 --steps 30``.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections.abc import Callable

import gymnasium as gym
import ray
from rich.console import Console
from rich.table import Table

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.envs.ray_pool import LOCAL_RAY, RayEnvPool

ENV_ID = "pixelpilot/miniwob-click-button-v0"


def _move(step: int, env: int) -> dict[str, object]:
    return {"action": "mouse_move", "coordinate": [100 + (37 * step + 211 * env) % 800, 300 + (53 * step) % 600]}


def _batched(envs: gym.vector.VectorEnv, steps: int) -> float:
    """Steps/s of ``steps`` batched calls (after a warm-up reset and step)."""
    n = envs.num_envs
    envs.reset(seed=list(range(n)))
    envs.step([_move(0, i) for i in range(n)])
    start = time.perf_counter()
    for k in range(1, steps + 1):
        _, _, terminated, truncated, infos = envs.step([_move(k, i) for i in range(n)])
        if terminated.any() or truncated.any() or any(error for error in infos.get("action_error", []) if error):
            raise RuntimeError("the bench's moves must not end an episode or fail")
    return n * steps / (time.perf_counter() - start)


def _free(pool: RayEnvPool, steps: int) -> float:
    """Steps/s with every env stepped on its own, ``steps`` steps each (after a warm-up reset and step)."""
    n = pool.num_envs
    pool.reset(seed=list(range(n)))
    pool.step([_move(0, i) for i in range(n)])
    done = [0] * n
    start = time.perf_counter()
    for i in range(n):
        pool.send(i, _move(1, i))
    while pool.pending:
        for result in pool.recv():
            if result.terminated or result.truncated or result.info.get("action_error"):
                raise RuntimeError("the bench's moves must not end an episode or fail")
            done[result.index] += 1
            if done[result.index] < steps:
                pool.send(result.index, _move(done[result.index] + 1, result.index))
    return n * steps / (time.perf_counter() - start)


def _timed(make: Callable[[], gym.vector.VectorEnv], measure: Callable[..., float], steps: int) -> float:
    envs = make()
    try:
        return measure(envs, steps)
    finally:
        envs.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per env and setting")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=max(args.envs), log_to_driver=False, **LOCAL_RAY)  # logical CPUs: one actor per env
    make = functools.partial(gym.make, ENV_ID)
    table = Table(title=f"{ENV_ID}: steps/s over all envs ({args.steps} timed steps per env, {os.cpu_count()} cores)")
    for column in ("envs", "AsyncVectorEnv", "RayEnvPool batch", "RayEnvPool free"):
        table.add_column(column, justify="right")
    try:
        for n in args.envs:
            local = _timed(lambda n=n: gym.vector.AsyncVectorEnv([make] * n), _batched, args.steps)
            batch = _timed(lambda n=n: RayEnvPool.from_id(ENV_ID, n), _batched, args.steps)
            free = _timed(lambda n=n: RayEnvPool.from_id(ENV_ID, n), _free, args.steps)
            table.add_row(str(n), f"{local:.1f}", f"{batch:.1f}", f"{free:.1f}")
    finally:
        ray.shutdown()
    Console().print(table)


if __name__ == "__main__":
    main()
