"""The gymnasium ids of pixelpilot's environments, with the suite each belongs to.

``import pixelpilot`` calls ``register_envs()``, so this module stays light: it lists task pages
and names entry points, and imports no browser, model or oracle until asked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym

from pixelpilot.envs import desktop_tasks, miniwob, synthetic
from pixelpilot.envs.android import register_android_envs


class EnvEntry(NamedTuple):
    """One registered environment as ``pixelpilot envs`` lists it."""

    env_id: str
    suite: str
    has_oracle: bool


_SUITES: dict[str, tuple[str, Callable[[], bool]]] = {}
"""env id -> (suite, whether its task has an oracle, asked lazily: oracles import late)."""


def _no_oracle() -> bool:
    return False


def register(
    env_id: str,
    entry_point: str,
    suite: str,
    kwargs: dict[str, Any] | None = None,
    *,
    nondeterministic: bool = False,
    has_oracle: Callable[[], bool] = _no_oracle,
) -> None:
    """Register one id with gymnasium (once) and remember its suite."""
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=entry_point, kwargs=kwargs or {}, nondeterministic=nondeterministic)
    _SUITES[env_id] = (suite, has_oracle)


def register_envs() -> None:
    """Register every pixelpilot environment id; calling it again changes nothing."""
    for task in miniwob.miniwob_tasks():
        register(
            miniwob.env_id(task),
            "pixelpilot.envs.miniwob:make_miniwob_env",
            miniwob.SUITE,
            {"task": task},
            nondeterministic=task in miniwob.ANIMATED_TASKS,
            has_oracle=functools.partial(miniwob.has_oracle, task),
        )
    synthetic.register_synthetic_envs()
    desktop_tasks.register_desktop_envs()
    register_android_envs()


def registered_envs() -> list[EnvEntry]:
    """Every registered pixelpilot id with its suite and whether an oracle can solve it."""
    return [EnvEntry(env_id, suite, has_oracle()) for env_id, (suite, has_oracle) in sorted(_SUITES.items())]
