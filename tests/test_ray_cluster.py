"""Rollouts on a Ray cluster of several nodes: a head and two worker nodes, each its own raylet with its own
resources (``ray.cluster_utils.Cluster``, on this machine's loopback). Environments go where the
``envs`` resource is, the trainer steps as it does in process, and a node lost mid-rollout ends the
episodes it held as truncated while the next rollout runs on the node that is left."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from ray._private import ray_constants  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402
from support import rl_config  # noqa: E402
from test_rl_ray_rollout import processor, rollout  # noqa: E402,F401  (processor is a fixture)

from pixelpilot.rl.ray_envs import RayEnvs  # noqa: E402
from pixelpilot.rl.rollout import Query  # noqa: E402

CLICK = "pixelpilot/synthetic-click-button-v0"
ENVS = {"envs": 4}


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Cluster, list[Any]]]:
    """Three nodes on loopback: a head without the ``envs`` resource and two workers with it.

    Ray would otherwise announce the machine's outside address, which its own processes cannot reach
    here; the setting makes every node (and this driver) use 127.0.0.1.
    """
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv(ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR, "0")
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    assert not ray.is_initialized()
    head = {"num_cpus": 1, "include_dashboard": False}
    built = Cluster(initialize_head=True, head_node_args=head)
    workers = [built.add_node(num_cpus=2, resources=ENVS) for _ in range(2)]
    built.wait_for_nodes()
    yield built, workers
    if ray.is_initialized():
        ray.shutdown()
    built.shutdown()


def node_of(actor: Any) -> str:
    return ray.get(actor.__ray_call__.remote(lambda _: ray.get_runtime_context().get_node_id()), timeout=60)


def pid_of(actor: Any) -> int:
    return ray.get(actor.__ray_call__.remote(lambda _: os.getpid()), timeout=60)


def test_the_trainer_steps_on_the_cluster_as_in_process(
    cluster: tuple[Cluster, list[Any]], tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from pixelpilot.rl.config import RLConfig
    from pixelpilot.rl.trainer import RLTrainer

    built, workers = cluster

    def step(envs: dict[str, Any]) -> tuple[dict[str, float], set[str]]:
        config = rl_config(tiny_checkpoint, tmp_path / envs["backend"], steps=1, filter=None)
        config["rollout"].update(group_size=2, envs=envs)
        config["reward"] = {"components": [{"kind": "task"}, {"kind": "format", "weight": 0.5}]}
        trainer = RLTrainer(RLConfig.model_validate(config))
        try:
            metrics = trainer.train_step(1)
            pools = getattr(trainer.envs, "pools", [])
            return metrics, {node_of(actor) for pool in pools for actor in pool.actors}
        finally:
            trainer.close()

    local, _ = step({"backend": "local"})
    remote_envs = {"backend": "ray", "ray_address": built.address, "resources": {"envs": 1}, "num_cpus": 0.25}
    remote, nodes = step(remote_envs)
    assert nodes and nodes <= {worker.node_id for worker in workers}  # none on the head: it has no "envs"
    timings = {key for key in local if key.startswith("time") or "per_s" in key}
    assert {k: v for k, v in remote.items() if k not in timings} == {k: v for k, v in local.items() if k not in timings}


class LosingNode(RayEnvs):
    """RayEnvs whose cluster loses the worker node of the first environment once the episodes have reset,
    just before the rollout's first step is sent."""

    def __init__(self, built: Cluster, workers: list[Any], **options: Any) -> None:
        super().__init__(**options)
        self.built, self.workers = built, workers
        self.lost: str | None = None

    def send(self, episode: Any, action: Any) -> None:
        if self.lost is None:
            actors = [actor for pool in self.pools for actor in pool.actors]
            self.lost = node_of(actors[0])
            doomed = [pid_of(actor) for actor in actors if node_of(actor) == self.lost]
            self.built.remove_node(next(w for w in self.workers if w.node_id == self.lost), allow_graceful=False)
            deadline = time.monotonic() + 60
            while any(os.path.exists(f"/proc/{pid}") for pid in doomed) and time.monotonic() < deadline:
                time.sleep(0.1)  # its workers notice that their raylet is gone and exit: the node is down
        super().send(episode, action)


def test_a_node_lost_mid_rollout_ends_its_episodes_and_the_next_rollout_runs_on_the_rest(
    cluster: tuple[Cluster, list[Any]],
    processor: Any,  # noqa: F811
) -> None:
    built, workers = cluster
    ray.init(address=built.address)
    queries = [Query(env_id=CLICK, seed=s) for s in (1, 2)]
    options = {"resources": {"envs": 1}, "scheduling_strategy": "SPREAD"}
    with LosingNode(built, workers, num_cpus=0.25, call_timeout_s=60.0, actor_options=options) as envs:
        records = rollout(envs, processor, queries, 2, seed=3)
        ended = [r.trajectory.end_reason for r in records]
        assert len(records) == 4 and None not in ended  # every episode ended with a result
        lost = [r for r in records if r.trajectory.end_reason == "env_truncated"]
        assert lost, ended
        for record in lost:
            assert any("Ray worker" in (call.error or "") for step in record.trajectory.steps for call in step.calls)
        after = rollout(envs, processor, queries, 2, seed=3)
        assert all(r.trajectory.end_reason != "env_truncated" for r in after)
        nodes = {node_of(actor) for pool in envs.pools for actor in pool.actors}
        assert nodes == {w.node_id for w in workers} - {envs.lost}  # replaced on the node that is left
