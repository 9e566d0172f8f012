"""Rollouts whose environments live in Ray actors: the same episodes as in process, steps sent all at once.

The policy here is ``RandomClickModel``: the tiny checkpoint's random weights almost never write a
valid call, so its episodes would never step an environment. The clicker writes real
``computer_use`` calls (a move, then a click, in one turn) whose places depend only on the
sampling seed, so a rollout in Ray and one in process must play identical episodes. Ray, the
actors, the synthetic environments and MiniWoB's Chromium pages are all real.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from support import rl_config  # noqa: E402

import pixelpilot  # noqa: E402,F401  (registers the environment ids)
from pixelpilot.agent import Agent  # noqa: E402
from pixelpilot.envs.synthetic import ZoomReadEnv  # noqa: E402
from pixelpilot.model.hf import HFModel  # noqa: E402
from pixelpilot.model.random_click import RandomClickModel  # noqa: E402
from pixelpilot.rl.ray_envs import RayEnvs  # noqa: E402
from pixelpilot.rl.rollout import EnvPool, EpisodeRecord, Query, collect_rollouts  # noqa: E402
from pixelpilot.rl.sequences import encode_prompt  # noqa: E402

CLICK = "pixelpilot/synthetic-click-button-v0"
MINIWOB = "pixelpilot/miniwob-click-button-v0"
ROLE = "You are a GUI agent."
RAY_INIT = {"include_dashboard": False, "_node_ip_address": "127.0.0.1", "num_cpus": 2}


@pytest.fixture(scope="module")
def processor(tiny_checkpoint: Path) -> Iterator[Any]:
    backend = HFModel(str(tiny_checkpoint))
    yield backend.processor
    backend.close()


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started = not ray.is_initialized()
    if started:
        ray.init(**RAY_INIT)
    yield
    if started:
        ray.shutdown()


def rollout(
    envs: Any, processor: Any, queries: list[Query], group: int, seed: int, mode: str = "sync", **agent: Any
) -> list[EpisodeRecord]:
    options = {"max_steps": 3, "max_failures": 3, "role_prompt": ROLE, **agent}
    policy = Agent(RandomClickModel(processor.tokenizer), **options)
    encoder = lambda conversation: encode_prompt(processor, conversation)[0]  # noqa: E731
    return collect_rollouts(policy, queries, group, envs, sampling_seed=seed, encoder=encoder, mode=mode)


def played(record: EpisodeRecord) -> dict[str, Any]:
    """What an episode did, as comparable values (screens as bytes)."""
    trajectory = record.trajectory
    return {
        "query": record.query.key,
        "sample": record.sample,
        "turns": [(turn.prompt_ids, turn.token_ids) for turn in record.turns],
        "calls": [
            [(c.call.model_dump() if c.call else None, c.text, c.error, c.reward) for c in s.calls]
            for s in trajectory.steps
        ],
        "screens": [np.asarray(s.screenshot).tobytes() for s in trajectory.steps],
        "final": np.asarray(trajectory.final_screenshot).tobytes(),
        "end": (trajectory.end_reason, trajectory.reward, trajectory.success),
    }


class Watching(RayEnvs):
    """RayEnvs that notes how many calls are in flight whenever the rollout waits for outcomes."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.in_flight: list[int] = []

    def recv(self, timeout: float | None = None) -> list[tuple[Any, Any]]:
        self.in_flight.append(sum(len(pool.pending) for pool in self.pools))
        return super().recv(timeout)


def test_ray_rollouts_play_the_episodes_of_local_ones(local_ray: None, processor: Any, tmp_path: Path) -> None:
    picture = ZoomReadEnv(size=(128, 128))
    picture.reset(seed=3)
    picture.question.image.save(tmp_path / "word.png")
    queries = [
        Query(env_id=CLICK, seed=1, env_kwargs={"shuffle": True}),
        Query(env_id=CLICK, seed=2, env_kwargs={"shuffle": True}),
        Query(image=str(tmp_path / "word.png"), question="Which word?", answer=picture.question.answer),
    ]
    with EnvPool() as local:
        expected = [played(r) for r in rollout(local, processor, queries, 3, seed=11)]
    with Watching(envs_per_actor=3, num_cpus=0.5) as remote:
        got = [played(r) for r in rollout(remote, processor, queries, 3, seed=11)]
        # Six click episodes in one pool of the one kind; the image question stayed in this process.
        assert [pool.num_envs for pool in remote.pools] == [6]
        # Every turn's first actions were all in flight before the rollout waited for any of them.
        assert remote.in_flight[0] == 6 and max(remote.in_flight) == 6
        again = [played(r) for r in rollout(remote, processor, queries, 3, seed=11)]
        assert len(remote.pools) == 1, "the second rollout reuses the idle environments"
        # Per episode, whatever arrives first plays on: other batches, other samples, the same bookkeeping.
        driven = rollout(remote, processor, queries, 3, seed=11, mode="async")
    assert got == expected
    assert again == expected
    assert [(r.query, r.sample) for r in driven] == [(q, s) for q in queries for s in range(3)]
    assert all(r.trajectory.end_reason and len(r.turns) == len(r.trajectory.steps) for r in driven)
    assert any(len(r["calls"][0]) == 2 for r in expected), "turns with two env steps were played"
    assert {r["end"][0] for r in expected} >= {"env_terminated"}


def test_miniwob_pages_in_ray_actors_match_local_pages(local_ray: None, processor: Any) -> None:
    queries = [Query(env_id=MINIWOB, seed=4)]
    with EnvPool() as local:
        expected = [played(r) for r in rollout(local, processor, queries, 2, seed=5, max_steps=2)]
    with RayEnvs(envs_per_actor=2, num_cpus=1.0) as remote:
        got = [played(r) for r in rollout(remote, processor, queries, 2, seed=5, max_steps=2)]
    assert got == expected
    assert all(len(r["screens"]) >= 1 for r in expected)


class KillingFirstStep(RayEnvs):
    """Kills the worker of the first environment just before the rollout's first step reaches it."""

    killed = False

    def send(self, episode: Any, action: Any) -> None:
        if not self.killed:
            self.killed = True
            actor = episode.env.pool.actors[0]
            ray.kill(actor)
            # ray.kill is asynchronous: wait until the actor refuses calls, or a loaded machine lets
            # the first step through before the worker dies.
            for _ in range(200):
                try:
                    ray.get(actor.__ray_ready__.remote(), timeout=5)
                except ray.exceptions.RayActorError:
                    break
                except ray.exceptions.GetTimeoutError:
                    continue
                time.sleep(0.05)
        super().send(episode, action)


def test_a_worker_killed_mid_rollout_ends_its_episodes_and_the_next_rollout_runs(
    local_ray: None, processor: Any
) -> None:
    queries = [Query(env_id=CLICK, seed=s) for s in (1, 2)]
    with KillingFirstStep(envs_per_actor=2, num_cpus=0.5, call_timeout_s=60.0) as envs:
        records = rollout(envs, processor, queries, 2, seed=3)
        lost = [r for r in records if r.trajectory.end_reason == "env_truncated"]
        # The killed actor held two environments: both episodes ended, the other actor's played on.
        assert len(lost) == 2
        for record in lost:
            (step,) = record.trajectory.steps
            assert "Ray worker" in (step.calls[0].error or "")
        assert all(r.trajectory.end_reason != "env_truncated" for r in records if r not in lost)
        after = rollout(envs, processor, queries, 2, seed=3)
        assert all(r.trajectory.end_reason != "env_truncated" for r in after)
        assert [info.restarts for pool in envs.pools for info in pool.worker_info()] == [1, 0]


def test_the_trainer_steps_the_same_with_its_environments_in_ray(
    local_ray: None, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from pixelpilot.rl.config import RLConfig
    from pixelpilot.rl.trainer import RLTrainer

    def step(envs: dict[str, Any]) -> dict[str, float]:
        config = rl_config(tiny_checkpoint, tmp_path / envs["backend"], steps=1, filter=None)
        config["agent"]["max_steps"] = 2
        config["rollout"].update(group_size=2, envs=envs)
        config["reward"] = {"components": [{"kind": "task"}, {"kind": "format", "weight": 0.5}]}
        trainer = RLTrainer(RLConfig.model_validate(config))
        try:
            return trainer.train_step(1)
        finally:
            trainer.close()

    local = step({"backend": "local"})
    remote = step({"backend": "ray", "num_cpus": 0.5, "envs_per_actor": 4})
    timings = {key for key in local if key.startswith("time") or key.endswith("_s") or "per_s" in key}
    assert {k: v for k, v in remote.items() if k not in timings} == {k: v for k, v in local.items() if k not in timings}
    assert local["episodes"] == 4
