"""RayEnvPool: environments spread over Ray actors, behind gymnasium's vector-env interface.

One machine runs a handful of browsers; RL at scale needs more, so each Ray actor holds a few
environments and Ray places the actors on whichever nodes have room. The pool is a
``gymnasium.vector.VectorEnv`` (batched ``reset``/``step`` with next-step autoreset, like
``AsyncVectorEnv``), and also lets each environment move on its own (``send``/``send_reset`` then
``recv``), because agent episodes on different environments finish at different times and a
rollout should not wait for the slowest one.

A worker that dies (killed, crashed, its node lost) or stops answering is replaced: its
environments' episodes end as truncated with ``info["worker_restarted"]``, and the next step starts
a fresh episode on the new worker. Nothing waits without a bound: every call has a deadline, past
which its worker is killed and replaced.

Environment factories are pickled to the workers, so they must be importable there: on a cluster,
install pixelpilot on every node.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium.error import AlreadyPendingCallError, ClosedEnvironmentError, NoAsyncCallError, ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array, iterate
from pydantic import BaseModel, ConfigDict

from pixelpilot.errors import EnvError

try:
    import ray
    from ray.actor import ActorHandle
    from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError("RayEnvPool needs Ray: pip install 'pixelpilot[ray]'") from error

EnvFn = Callable[[], gym.Env]
CallKind = Literal["reset", "step", "autoreset", "recover"]

KILL_GRACE_S = 30.0
"""How long a killed worker's calls may take to report its death before the pool stops waiting for them."""
CLOSE_TIMEOUT_S = 60.0
"""How long ``close`` lets the environments close before their workers are killed anyway."""

LOCAL_RAY: dict[str, Any] = {"include_dashboard": False, "_node_ip_address": "127.0.0.1"}
"""How a pool starts Ray when none is running: one machine, no dashboard, nothing listening beyond loopback."""


class EnvResult(BaseModel):
    """What one environment returned to ``recv``: a reset (observation, info) or a step (all five)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    index: int
    kind: Literal["reset", "step"]
    observation: Any
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any]


class WorkerInfo(BaseModel):
    """Where one worker runs and how often it was replaced."""

    model_config = ConfigDict(frozen=True)

    index: int
    pid: int
    node_id: str
    env_indices: tuple[int, ...]
    restarts: int


class EnvWorker:
    """The body of a Ray actor: a few environments, each pinned to a thread of its own.

    Playwright's sync API (and other drivers an environment may hold) must be used from the thread
    that started it, so a slot's environment is built, stepped and closed on one thread. The
    methods are coroutines so that the actor takes calls for all its slots at once.
    """

    def __init__(self, env_fns: Sequence[EnvFn]) -> None:
        self._threads = [ThreadPoolExecutor(1, thread_name_prefix=f"pixelpilot-env-{i}") for i in range(len(env_fns))]
        self._envs = [thread.submit(fn).result() for thread, fn in zip(self._threads, env_fns, strict=True)]

    async def _run(self, slot: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads[slot], functools.partial(fn, *args, **kwargs))

    async def describe(self) -> dict[str, Any]:
        env = self._envs[0]
        for other in self._envs[1:]:
            if other.observation_space != env.observation_space or other.action_space != env.action_space:
                raise ValueError("the environments of a pool must share their observation and action spaces")
        return {
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "observation_space": env.observation_space,
            "action_space": env.action_space,
            "metadata": dict(env.metadata),
            "render_mode": env.render_mode,
            "gui_tool": getattr(env.unwrapped, "gui_tool", "computer_use"),
        }

    async def reset(self, slot: int, seed: int | None, options: dict[str, Any] | None) -> tuple[Any, dict[str, Any]]:
        return await self._run(slot, self._envs[slot].reset, seed=seed, options=options)

    async def step(self, slot: int, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        return await self._run(slot, self._envs[slot].step, action)

    async def call(self, slot: int, target: str | Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
        env = self._envs[slot]
        if callable(target):
            return await self._run(slot, target, env, *args, **kwargs)
        attribute = await self._run(slot, env.get_wrapper_attr, target)
        return await self._run(slot, attribute, *args, **kwargs) if callable(attribute) else attribute

    async def close(self) -> None:
        await asyncio.gather(*(self._run(slot, env.close) for slot, env in enumerate(self._envs)))
        for thread in self._threads:
            thread.shutdown(wait=False)


@dataclass
class _Call:
    """A call in flight to one environment, with what is needed to send it again to a new worker."""

    ref: ray.ObjectRef
    kind: CallKind
    payload: Any
    generation: int
    timeout_s: float
    deadline: float
    restarted: bool
    cause: str


@dataclass
class _Env:
    worker: int
    slot: int
    observation: Any = None
    """The last observation handed out: what a step cut short by a dead worker shows."""
    started: bool = False
    autoreset: bool = False
    stashed: tuple[Any, dict[str, Any]] | None = None
    """A reset made while recovering, handed out by the next step (the autoreset step)."""
    lost: bool = False
    """Its worker was replaced since its last reset: its episode is gone."""
    call: _Call | None = None


@dataclass
class _Worker:
    handle: ActorHandle
    env_indices: tuple[int, ...]
    generation: int = 0
    restarts: int = 0
    failures: int = 0
    """Replacements since the last call that succeeded: a crash loop shows here."""
    killed: int = -1
    """The generation last killed for missing a deadline (killed once, replaced when its calls fail)."""


def _owned(value: Any) -> Any:
    """Arrays Ray hands back are read-only views of its object store, pinning the object while alive."""
    if isinstance(value, np.ndarray):
        return value if value.flags.writeable else value.copy()
    if isinstance(value, dict):
        return {key: _owned(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_owned(item) for item in value)
    return value


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class RayEnvPool(VectorEnv):
    """``num_envs = len(env_fns)`` environments in Ray actors of ``envs_per_actor`` each.

    ``num_cpus`` is what each actor reserves; ``actor_options`` go to Ray's ``.options`` (e.g.
    ``scheduling_strategy="SPREAD"``, ``resources``, ``runtime_env``). The pool joins the Ray this
    process is connected to, else connects to ``ray_address``, else starts a local Ray (``LOCAL_RAY``
    updated with ``ray_init``), which ``close`` then shuts down. A worker is replaced at most
    ``max_restarts`` times in a row without a call succeeding; a call unanswered after
    ``call_timeout_s`` counts as its worker dying. Not thread-safe: drive it from one thread.
    """

    def __init__(
        self,
        env_fns: Sequence[EnvFn],
        *,
        envs_per_actor: int = 1,
        num_cpus: float = 1.0,
        ray_address: str | None = None,
        ray_init: Mapping[str, Any] | None = None,
        actor_options: Mapping[str, Any] | None = None,
        max_restarts: int = 3,
        call_timeout_s: float = 300.0,
    ) -> None:
        if not env_fns:
            raise ValueError("a pool needs at least one environment")
        if envs_per_actor < 1 or max_restarts < 0 or call_timeout_s <= 0:
            raise ValueError("need envs_per_actor >= 1, max_restarts >= 0 and call_timeout_s > 0")
        self.env_fns = tuple(env_fns)
        self.num_envs = len(self.env_fns)
        self.num_cpus = num_cpus
        self.max_restarts = max_restarts
        self.call_timeout_s = call_timeout_s
        self.autoreset_mode = AutoresetMode.NEXT_STEP
        self._actor_options = dict(actor_options or {})
        self._workers: list[_Worker] = []
        self._envs: list[_Env] = []
        self._completed: dict[int, EnvResult] = {}
        self._batch = False
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            # A local Ray otherwise reports usage statistics over the network; a user's setting wins.
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            init = dict(ray_init or {}) if ray_address is not None else {**LOCAL_RAY, **(ray_init or {})}
            ray.init(address=ray_address, **init)
        try:
            self._start(envs_per_actor)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_id(
        cls, env_id: str, num_envs: int, *, env_kwargs: Mapping[str, Any] | None = None, **options: Any
    ) -> RayEnvPool:
        """A pool of ``gym.make(env_id, **env_kwargs)``; the workers import pixelpilot, which registers the ids."""
        make = functools.partial(gym.make, env_id, **dict(env_kwargs or {}))
        return cls([make] * num_envs, **options)

    # -- start -------------------------------------------------------------------------------------

    def _start(self, envs_per_actor: int) -> None:
        self._actor_class = ray.remote(EnvWorker)
        for first in range(0, self.num_envs, envs_per_actor):
            indices = tuple(range(first, min(first + envs_per_actor, self.num_envs)))
            worker = len(self._workers)
            self._workers.append(_Worker(self._spawn(indices), indices))
            self._envs.extend(_Env(worker, slot) for slot in range(len(indices)))
        descriptions = self._describe()
        first = descriptions[0]
        spaces = ("observation_space", "action_space", "gui_tool")
        for other in descriptions[1:]:
            if any(other[name] != first[name] for name in spaces):
                raise ValueError("the environments of a pool must share their observation and action spaces")
        self.single_observation_space = first["observation_space"]
        self.single_action_space = first["action_space"]
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._buffer = create_empty_array(self.single_observation_space, self.num_envs, fn=np.zeros)
        self.metadata = {**first["metadata"], "autoreset_mode": self.autoreset_mode}
        self.render_mode = first["render_mode"]
        self.gui_tool: str = first["gui_tool"]
        """The GUI tool the environments speak (``computer_use`` or ``mobile_use``), for agents on them."""

    def _spawn(self, indices: tuple[int, ...]) -> ActorHandle:
        options = {"num_cpus": self.num_cpus, **self._actor_options, "max_restarts": 0, "max_task_retries": 0}
        return self._actor_class.options(**options).remote([self.env_fns[i] for i in indices])

    def _describe(self) -> list[dict[str, Any]]:
        refs = [worker.handle.describe.remote() for worker in self._workers]
        try:
            return ray.get(refs, timeout=self.call_timeout_s)
        except GetTimeoutError:
            raise EnvError(
                f"the pool's workers did not start within {self.call_timeout_s:g} s: does the cluster have "
                f"{self.num_cpus:g} CPU(s) free for each of {len(self._workers)} actors?"
            ) from None
        except RayActorError as error:
            raise EnvError(f"a worker could not build its environments: {error}") from None

    # -- per-environment API -----------------------------------------------------------------------

    @property
    def pending(self) -> tuple[int, ...]:
        """Environments with a call in flight or a result not yet taken by ``recv``."""
        return tuple(i for i, env in enumerate(self._envs) if env.call is not None or i in self._completed)

    def send(self, index: int, action: Any) -> None:
        """Step one environment; its result comes back from ``recv``. After an episode's end this
        call starts the next episode instead (next-step autoreset)."""
        env = self._idle(index)
        if not env.started:
            raise ResetNeeded(f"environment {index} was never reset: call send_reset or reset first")
        if env.lost:
            env.stashed = None  # made by the worker that is gone
            kind: CallKind = "autoreset" if env.autoreset else "recover"
            self._dispatch(index, kind, (None, None), restarted=True, cause="its worker was replaced")
        elif env.autoreset and env.stashed is not None:
            observation, info = env.stashed
            env.stashed, env.autoreset = None, False
            env.observation = observation
            self._completed[index] = EnvResult(index=index, kind="step", observation=observation, info=info)
        elif env.autoreset:
            self._dispatch(index, "autoreset", (None, None))
        else:
            self._dispatch(index, "step", action)

    def send_reset(self, index: int, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Start a new episode on one environment; its result comes back from ``recv``."""
        env = self._idle(index)
        env.stashed = None
        self._dispatch(index, "reset", (seed, options), restarted=env.lost, cause="its worker was replaced")

    def _in_flight(self) -> tuple[list[ray.ObjectRef], float]:
        """The refs of the calls in flight and the earliest deadline among them."""
        calls = [env.call for env in self._envs if env.call is not None]
        return [call.ref for call in calls], min((call.deadline for call in calls), default=float("inf"))

    def recv(self, timeout: float | None = None, indices: Iterable[int] | None = None) -> list[EnvResult]:
        """Results of the environments (of ``indices``, default all) whose calls have finished.

        Waits until at least one has, or ``timeout`` seconds (then returns ``[]``). A call that failed
        because its worker died is sent again to a new worker here, so it comes back later.
        """
        self._check_open()
        wanted = set(range(self.num_envs)) if indices is None else {self._index(i) for i in indices}
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            done = [self._completed.pop(i) for i in sorted(wanted & self._completed.keys())]
            if done:
                return done
            calls = {env.call.ref: i for i in wanted if (env := self._envs[i]).call is not None}
            if not calls:
                raise NoAsyncCallError(f"no call is pending for environments {sorted(wanted)}", "recv")
            limit = min(self._envs[i].call.deadline for i in calls.values())  # type: ignore[union-attr]
            if until is not None:
                limit = min(limit, until)
            ready, _ = ray.wait(list(calls), num_returns=1, timeout=max(limit - time.monotonic(), 0.0))
            if ready:
                ready, _ = ray.wait(list(calls), num_returns=len(calls), timeout=0)
            for ref in ready:
                self._finish(calls[ref])
            self._expire()
            if until is not None and time.monotonic() >= until and not wanted & self._completed.keys():
                return []

    # -- gymnasium's VectorEnv API -----------------------------------------------------------------

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every environment (or those of ``options["reset_mask"]``); an int seed gives env i ``seed + i``."""
        self._check_open()
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"got {len(seeds)} seeds for {self.num_envs} environments")
        options = dict(options or {})
        mask = np.asarray(options.pop("reset_mask", np.ones(self.num_envs, dtype=np.bool_)))
        if mask.shape != (self.num_envs,) or mask.dtype != np.bool_ or not mask.any():
            raise ValueError(f"options['reset_mask'] must be a bool array of shape ({self.num_envs},) with a True")
        self._require_idle()
        indices = [i for i in range(self.num_envs) if mask[i]]
        for i in indices:
            self.send_reset(i, seeds[i], options or None)
        results = self._gather(indices, None)
        infos: dict[str, Any] = {}
        for i in indices:
            infos = self._add_info(infos, results[i].info, i)
        observations = [self._envs[i].observation for i in range(self.num_envs)]
        return self._batched(observations), infos

    def step_async(self, actions: Any) -> None:
        """Send one action to every environment."""
        self._check_open()
        actions = list(iterate(self.action_space, actions))
        if len(actions) != self.num_envs:
            raise ValueError(f"got {len(actions)} actions for {self.num_envs} environments")
        self._require_idle()
        if not all(env.started for env in self._envs):
            raise ResetNeeded("call reset() before step()")
        for i, action in enumerate(actions):
            self.send(i, action)
        self._batch = True

    def step_wait(self, timeout: float | None = None) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """The batched results of ``step_async``; raises TimeoutError (calls left pending) after ``timeout`` s."""
        self._check_open()
        if not self._batch:
            raise NoAsyncCallError("step_wait without a step_async before it", "step")
        results = self._gather(range(self.num_envs), timeout)
        self._batch = False
        ordered = [results[i] for i in range(self.num_envs)]
        infos: dict[str, Any] = {}
        for result in ordered:
            infos = self._add_info(infos, result.info, result.index)
        return (
            self._batched([result.observation for result in ordered]),
            np.array([result.reward for result in ordered], dtype=np.float64),
            np.array([result.terminated for result in ordered], dtype=np.bool_),
            np.array([result.truncated for result in ordered], dtype=np.bool_),
            infos,
        )

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        self.step_async(actions)
        return self.step_wait()

    def call(self, target: str | Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Per environment: its attribute ``target`` (called with the arguments when it is a method), or
        ``target(env, *args, **kwargs)`` when target is a function, run on the environment's own thread."""
        self._check_open()
        self._require_idle()
        refs = [self._workers[env.worker].handle.call.remote(env.slot, target, args, kwargs) for env in self._envs]
        try:
            return tuple(ray.get(refs, timeout=self.call_timeout_s))
        except (GetTimeoutError, RayActorError) as error:
            raise EnvError(f"call({target!r}) failed on a worker: {_first_line(error)}") from None

    def get_attr(self, name: str) -> tuple[Any, ...]:
        return self.call(name)

    def render(self) -> tuple[Any, ...] | None:
        return self.call("render")

    @property
    def actors(self) -> tuple[ActorHandle, ...]:
        """The current Ray actor of each worker (a replaced worker has a new one)."""
        return tuple(worker.handle for worker in self._workers)

    def worker_info(self) -> list[WorkerInfo]:
        """Where each worker runs now (asks them; a worker being replaced answers once it is up)."""
        self._check_open()
        descriptions = self._describe()
        return [
            WorkerInfo(
                index=k,
                pid=description["pid"],
                node_id=description["node_id"],
                env_indices=worker.env_indices,
                restarts=worker.restarts,
            )
            for k, (worker, description) in enumerate(zip(self._workers, descriptions, strict=True))
        ]

    def close_extras(self, **kwargs: Any) -> None:
        """Close the environments (their browsers), stop the actors, and the local Ray if the pool started it."""
        if not ray.is_initialized():
            return
        try:
            with suppress(GetTimeoutError, RayActorError):
                refs = [worker.handle.close.remote() for worker in self._workers]
                ray.get(refs, timeout=min(self.call_timeout_s, CLOSE_TIMEOUT_S))
        finally:  # an environment whose close raised must not keep its worker (or the pool's Ray) alive
            for worker in self._workers:
                with suppress(RayActorError, ValueError):
                    ray.kill(worker.handle)
            self._workers.clear()
            if self._owns_ray:
                ray.shutdown()

    # -- internals ---------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ClosedEnvironmentError("the pool is closed")

    def _index(self, index: int) -> int:
        if not 0 <= int(index) < self.num_envs:
            raise IndexError(f"environment index {index} out of range for {self.num_envs} environments")
        return int(index)

    def _idle(self, index: int) -> _Env:
        self._check_open()
        index = self._index(index)
        if index in self.pending:
            raise AlreadyPendingCallError(f"environment {index} has a call in flight or a result not taken", "send")
        return self._envs[index]

    def _require_idle(self) -> None:
        if self.pending:
            raise AlreadyPendingCallError(f"environments {list(self.pending)} have calls in flight", "step")

    def _dispatch(self, index: int, kind: CallKind, payload: Any, *, restarted: bool = False, cause: str = "") -> None:
        env = self._envs[index]
        worker = self._workers[env.worker]
        if kind == "step":
            ref = worker.handle.step.remote(env.slot, payload)
        else:
            seed, options = payload if kind == "reset" else (None, None)
            ref = worker.handle.reset.remote(env.slot, seed, options)
        deadline = time.monotonic() + self.call_timeout_s
        env.call = _Call(ref, kind, payload, worker.generation, self.call_timeout_s, deadline, restarted, cause)

    def _finish(self, index: int) -> None:
        """Turn a finished call into a result, or, when its worker died, send it again to the new worker."""
        env = self._envs[index]
        call, env.call = env.call, None
        assert call is not None
        worker = self._workers[env.worker]
        try:
            value = ray.get(call.ref)
        except RayActorError as error:
            self._failed(index, call, _first_line(error))
            return
        except RayTaskError as error:
            if call.kind != "step":
                raise EnvError(f"environment {index} failed to reset: {_first_line(error.cause)}") from None
            # Its state is unknown after an exception: the episode ends, and the next send starts another.
            env.autoreset = True
            message = f"the environment raised {type(error.cause).__name__}: {_first_line(error.cause)}"
            self._completed[index] = EnvResult(
                index=index, kind="step", observation=env.observation, truncated=True, info={"action_error": message}
            )
            return
        if call.generation == worker.generation:
            worker.failures = 0
        env.lost = call.generation != worker.generation
        if call.kind == "step":
            observation, reward, terminated, truncated, info = value
            env.observation, env.autoreset = _owned(observation), bool(terminated or truncated)
            result = EnvResult(
                index=index,
                kind="step",
                observation=env.observation,
                reward=float(reward),
                terminated=bool(terminated),
                truncated=bool(truncated),
                info=info,
            )
        elif call.kind == "recover":
            observation, info = value
            env.stashed, env.autoreset = (_owned(observation), info), True
            message = (
                f"the Ray worker holding this environment failed ({call.cause}); a new worker has reset it, "
                "so this episode ends here"
            )
            info = {"worker_restarted": True, "action_error": str(EnvError(message))}
            result = EnvResult(index=index, kind="step", observation=env.observation, truncated=True, info=info)
        else:
            observation, info = value
            env.observation, env.started, env.autoreset = _owned(observation), True, False
            if call.restarted:
                info = {**info, "worker_restarted": True}
            kind = "reset" if call.kind == "reset" else "step"
            result = EnvResult(index=index, kind=kind, observation=env.observation, info=info)
        self._completed[index] = result

    def _replace(self, k: int, generation: int, cause: str) -> None:
        """Put a new actor in place of worker k (once per generation); its environments' episodes are lost."""
        worker = self._workers[k]
        if worker.generation != generation:
            return
        if worker.failures >= self.max_restarts:
            raise EnvError(
                f"worker {k} (environments {list(worker.env_indices)}) failed {worker.failures + 1} times in a row; "
                f"last: {cause}"
            )
        with suppress(RayActorError, ValueError):
            ray.kill(worker.handle)  # a hung worker must not keep its browsers
        worker.handle = self._spawn(worker.env_indices)
        worker.generation += 1
        worker.restarts += 1
        worker.failures += 1
        for i in worker.env_indices:
            self._envs[i].lost = self._envs[i].started

    def _failed(self, index: int, call: _Call, cause: str) -> None:
        """A call lost with its worker: replace the worker, then send the call again (a step becomes a recovery)."""
        env = self._envs[index]
        if self._workers[env.worker].killed == call.generation:
            cause = f"no answer within {call.timeout_s:g} s"
        self._replace(env.worker, call.generation, cause)
        kind: CallKind = "recover" if call.kind == "step" else call.kind
        self._dispatch(index, kind, call.payload, restarted=True, cause=cause)

    def _expire(self) -> None:
        """Kill the worker of a call past its deadline; give up on a call its killed worker never failed."""
        now = time.monotonic()
        for index, env in enumerate(self._envs):
            call = env.call
            if call is None or call.deadline > now:
                continue
            worker = self._workers[env.worker]
            if call.generation == worker.generation and worker.killed != worker.generation:
                worker.killed = worker.generation
                call.deadline = now + KILL_GRACE_S
                with suppress(RayActorError, ValueError):
                    ray.kill(worker.handle)
            else:
                env.call = None
                self._failed(index, call, f"no answer within {call.timeout_s:g} s")

    def _gather(self, indices: Iterable[int], timeout: float | None) -> dict[int, EnvResult]:
        remaining = set(indices)
        results: dict[int, EnvResult] = {}
        until = None if timeout is None else time.monotonic() + timeout
        while remaining:
            left = None if until is None else max(until - time.monotonic(), 0.0)
            batch = self.recv(timeout=left, indices=remaining)
            if not batch:
                for result in results.values():
                    self._completed[result.index] = result
                raise TimeoutError(f"environments {sorted(remaining)} did not answer within {timeout} s")
            for result in batch:
                results[result.index] = result
                remaining.discard(result.index)
        return results

    def _batched(self, observations: list[Any]) -> Any:
        """A batch of its own for the caller, written into one buffer made once (as AsyncVectorEnv does):
        making an empty Text batch joins the space's whole character set, a million code points."""
        return copy.deepcopy(concatenate(self.single_observation_space, observations, self._buffer))


def recv_any(pools: Sequence[RayEnvPool], timeout: float | None = None) -> list[tuple[RayEnvPool, EnvResult]]:
    """The finished results of several pools, waiting on all their calls at once (like ``recv`` for one pool).

    Waits until at least one result is there, or ``timeout`` seconds (then returns ``[]``).
    """
    until = None if timeout is None else time.monotonic() + timeout
    while True:
        busy = [pool for pool in pools if pool.pending]
        if not busy:
            raise NoAsyncCallError("no call is pending in any of the pools", "recv")
        results = [(pool, result) for pool in busy for result in pool.recv(timeout=0)]
        if results:
            return results
        refs: list[ray.ObjectRef] = []
        limit = float("inf") if until is None else until
        for pool in busy:
            pool_refs, deadline = pool._in_flight()
            refs.extend(pool_refs)
            limit = min(limit, deadline)
        if until is not None and time.monotonic() >= until:
            return []
        ray.wait(refs, num_returns=1, timeout=max(limit - time.monotonic(), 0.0))


class PoolEnv(gym.Env):
    """One environment of a pool as a ``gymnasium.Env`` of its own: ``reset`` and ``step`` send and wait.

    It lets code written for one environment (an agent, an oracle) run on a remote one, and names
    the remote environment for callers that drive the pool directly (``pool``, ``index``). The pool
    owns the environment: closing this handle leaves it open.
    """

    def __init__(self, pool: RayEnvPool, index: int, *, spec: gym.envs.registration.EnvSpec | None = None) -> None:
        self.pool = pool
        self.index = pool._index(index)
        self.observation_space = pool.single_observation_space
        self.action_space = pool.single_action_space
        self.metadata = dict(pool.metadata)
        self.render_mode = pool.render_mode
        self.gui_tool = pool.gui_tool
        self.spec = spec

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        self.pool.send_reset(self.index, seed, options)
        result = self._wait()
        return result.observation, result.info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        self.pool.send(self.index, action)
        result = self._wait()
        return result.observation, result.reward, result.terminated, result.truncated, result.info

    def _wait(self) -> EnvResult:
        (result,) = self.pool.recv(indices=[self.index])
        return result
