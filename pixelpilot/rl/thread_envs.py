"""Rollout environments in this process, each on a thread of its own: a turn's steps run at once.

``EnvPool`` makes each step when it is sent, one after another. Here every environment is made,
reset, stepped and closed on one thread of its own (the same thread for its whole life, which a
browser driven through Playwright's sync API needs), so the steps of many episodes overlap and each
outcome is handed over as soon as it is there. That pays when a step waits on something outside
Python (a browser, an X server, a phone, a remote service); a step that computes in Python holds
the interpreter and gains nothing. Environments are kept between rollouts as ``EnvPool`` keeps them.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

import gymnasium as gym

from pixelpilot.agent import Episode
from pixelpilot.envs import Action
from pixelpilot.rl.rollout import EnvPool, Query


class ThreadEnvs(EnvPool):
    """``Environments`` whose steps run on one thread per environment; ``recv`` takes those that finished."""

    def __init__(self, max_idle: int | None = None) -> None:
        super().__init__(max_idle)
        self._threads: dict[int, ThreadPoolExecutor] = {}
        """Each environment's thread, by the environment's id."""
        self._pending: dict[Future[Any], Episode] = {}

    def _make(self, query: Query) -> gym.Env:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="env")
        try:
            env = thread.submit(query.make_env).result()
        except BaseException:
            thread.shutdown()
            raise
        self._threads[id(env)] = thread
        return env

    def _dispose(self, env: gym.Env) -> None:
        thread = self._threads.pop(id(env))
        try:
            thread.submit(env.close).result()
        finally:
            thread.shutdown()

    def release(self, query: Query, env: gym.Env) -> None:
        """An environment goes back once its call in flight (an interrupted rollout's) is done."""
        for future in [future for future, episode in self._pending.items() if episode.env is env]:
            del self._pending[future]
            wait([future])
        super().release(query, env)

    @property
    def waiting(self) -> bool:
        return any(future.done() for future in self._pending)

    def send_reset(self, episode: Episode, seed: int | None) -> None:
        self._submit(episode, partial(episode.env.reset, seed=seed))

    def send(self, episode: Episode, action: Action) -> None:
        self._submit(episode, partial(episode.step_env, action))

    def _submit(self, episode: Episode, call: partial[Any]) -> None:
        self._pending[self._threads[id(episode.env)].submit(call)] = episode

    def recv(self, timeout: float | None = None) -> list[tuple[Episode, Any]]:
        if not self._pending:
            if timeout is None:
                raise RuntimeError("recv without a send before it")
            return []
        done, _ = wait(self._pending, timeout=timeout, return_when=FIRST_COMPLETED)
        # A reset that raised raises here, as it would have at the send of an ``EnvPool``.
        return [(self._pending.pop(future), future.result()) for future in done]

    def __enter__(self) -> ThreadEnvs:
        return self
