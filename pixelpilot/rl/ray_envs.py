"""Rollout environments in Ray actors: every episode's step runs at once, on whichever node has room.

In process, a rollout steps its episodes' environments one after another: G browsers in a group
take G times one step. Here each environment lives in a ``RayEnvPool`` worker, a turn's actions
are all sent before any outcome is awaited, and each episode continues as soon as its own outcome
arrives, so a turn costs about the slowest step instead of the sum. The episodes, prompts and
sampling are those of ``EnvPool``: with the same seeds a rollout gives the same records either way.

Environments are grouped by their query's ``pool_key`` (environment id and arguments) and kept
between rollouts; a batch that needs more of a kind than are idle starts one more pool of the
missing number. Image questions have no screen to host and stay in this process. A worker that
dies ends its episodes as truncated (``info["worker_restarted"]``) and is replaced by the pool.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
from gymnasium.error import AlreadyPendingCallError

from pixelpilot.agent import Episode
from pixelpilot.envs.core.actions import Action
from pixelpilot.envs.ray_pool import EnvResult, PoolEnv, RayEnvPool, recv_any
from pixelpilot.rl.rollout import EnvPool, Query

log = logging.getLogger(__name__)


class RayEnvs:
    """Environments of rollouts in Ray actors (``Environments`` for ``collect_rollouts``).

    ``envs_per_actor``, ``num_cpus`` (per actor), ``call_timeout_s``, ``max_restarts`` and
    ``actor_options`` go to each ``RayEnvPool``; the first pool joins the Ray this process is
    connected to, else ``ray_address``, else starts a local one that ``close`` shuts down.
    """

    def __init__(
        self,
        *,
        envs_per_actor: int = 1,
        num_cpus: float = 1.0,
        ray_address: str | None = None,
        call_timeout_s: float = 300.0,
        max_restarts: int = 3,
        actor_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._options: dict[str, Any] = {
            "envs_per_actor": envs_per_actor,
            "num_cpus": num_cpus,
            "ray_address": ray_address,
            "call_timeout_s": call_timeout_s,
            "max_restarts": max_restarts,
            "actor_options": actor_options,
        }
        self._local = EnvPool()
        self._pools: list[RayEnvPool] = []
        self._idle: dict[str, list[PoolEnv]] = {}
        self._sent: dict[tuple[int, int], Episode] = {}
        self._closed = False

    @property
    def pools(self) -> tuple[RayEnvPool, ...]:
        return tuple(self._pools)

    def acquire(self, queries: Sequence[Query]) -> list[gym.Env]:
        if self._closed:
            raise RuntimeError("the Ray environments are closed")
        kinds = {query.pool_key: query for query in queries if query.pool_key is not None}
        for key, count in Counter(query.pool_key for query in queries if query.pool_key is not None).items():
            missing = count - len(self._idle.get(key, []))
            if missing > 0:
                self._grow(key, kinds[key], missing)
        return [
            self._idle[q.pool_key].pop() if q.pool_key is not None else self._local.acquire([q])[0] for q in queries
        ]

    def _grow(self, key: str, query: Query, count: int) -> None:
        assert query.env_id is not None
        log.info("starting %d remote environment(s) of %s", count, key)
        pool = RayEnvPool.from_id(query.env_id, count, env_kwargs=query.env_kwargs, **self._options)
        self._pools.append(pool)
        spec = gym.spec(query.env_id)
        self._idle.setdefault(key, []).extend(PoolEnv(pool, index, spec=spec) for index in range(count))

    def release(self, query: Query, env: gym.Env) -> None:
        if not isinstance(env, PoolEnv):
            self._local.release(query, env)
            return
        self._sent.pop((id(env.pool), env.index), None)
        if self._closed or query.pool_key is None:
            return
        if env.index in env.pool.pending:
            # An interrupted rollout left a call in flight: wait it out so the next episode starts clean.
            try:
                env.pool.recv(indices=[env.index])
            except (AlreadyPendingCallError, TimeoutError) as error:
                log.warning("dropping remote environment %d of %s: %s", env.index, query.pool_key, error)
                return
        self._idle.setdefault(query.pool_key, []).append(env)

    def send_reset(self, episode: Episode, seed: int | None) -> None:
        if (env := self._remote(episode)) is not None:
            env.pool.send_reset(env.index, seed)
        else:
            self._local.send_reset(episode, seed)

    def send(self, episode: Episode, action: Action) -> None:
        if (env := self._remote(episode)) is not None:
            env.pool.send(env.index, action)
        else:
            self._local.send(episode, action)

    def _remote(self, episode: Episode) -> PoolEnv | None:
        """The episode's remote environment, noted as awaiting an outcome for it; None for a local one."""
        env = episode.env
        if not isinstance(env, PoolEnv):
            return None
        self._sent[(id(env.pool), env.index)] = episode
        return env

    def recv(self, timeout: float | None = None) -> list[tuple[Episode, Any]]:
        if self._local.waiting:
            return self._local.recv()
        arrived = recv_any(self._pools, timeout=timeout)
        return [(self._sent.pop((id(pool), result.index)), _outcome(result)) for pool, result in arrived]

    def close(self) -> None:
        """Close every environment and worker; the pool that started a local Ray closes last, and shuts it down."""
        self._closed = True
        self._local.close()
        for pool in reversed(self._pools):
            pool.close()
        self._pools.clear()
        self._idle.clear()

    def __enter__(self) -> RayEnvs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _outcome(result: EnvResult) -> Any:
    if result.kind == "reset":
        return result.observation, result.info
    return result.observation, result.reward, result.terminated, result.truncated, result.info
