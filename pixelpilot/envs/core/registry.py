"""The gymnasium ids of pixelpilot's environments, with the suite each belongs to.

Each suite declares itself as data (a ``Suite``: its tasks, id pattern and entry point) in its own
module, which imports nothing from here; ``register_envs`` registers them all. ``import pixelpilot``
calls it, so suite modules stay light: they list tasks and name entry points, and import no
browser, model or oracle until asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import gymnasium as gym


class EnvEntry(NamedTuple):
    """One registered environment as ``pixelpilot envs`` lists it."""

    env_id: str
    suite: str
    has_oracle: bool
    unsolved: str | None = None
    """Why no oracle solves the task reliably (a known-broken page), when that is known."""


def _never(task: str) -> bool:
    return False


def _unknown(task: str) -> str | None:
    return None


@dataclass(frozen=True)
class Suite:
    """A family of tasks registered as ``id_format.format(task=...)``, each made by ``entry_point(task=...)``.

    ``has_oracle`` and ``unsolved`` (why a task has no oracle) are asked lazily, when ``pixelpilot
    envs`` lists the ids, because oracles may import a browser; ``nondeterministic`` marks tasks
    whose screen changes without input.
    """

    name: str
    id_format: str
    entry_point: str
    tasks: Callable[[], Sequence[str]]
    has_oracle: Callable[[str], bool] = _never
    unsolved: Callable[[str], str | None] = _unknown
    nondeterministic: Callable[[str], bool] = _never

    def env_id(self, task: str) -> str:
        return self.id_format.format(task=task)


_SUITES: dict[str, tuple[Suite, str]] = {}
"""env id -> (its suite, its task)."""


def register_suite(suite: Suite) -> None:
    """Register every task of suite with gymnasium (once each) and remember which suite it is in."""
    for task in suite.tasks():
        env_id = suite.env_id(task)
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point=suite.entry_point,
                kwargs={"task": task},
                nondeterministic=suite.nondeterministic(task),
            )
        _SUITES[env_id] = (suite, task)


def suites() -> tuple[Suite, ...]:
    """pixelpilot's own suites, in the order ``pixelpilot envs`` lists them."""
    from pixelpilot.envs import synthetic
    from pixelpilot.envs.android.tasks import ANDROID
    from pixelpilot.envs.desktop.tasks import DESKTOP
    from pixelpilot.envs.web.miniwob.suite import MINIWOB

    return (MINIWOB, synthetic.SYNTHETIC, DESKTOP, ANDROID)


def register_envs() -> None:
    """Register every pixelpilot environment id; calling it again changes nothing."""
    for suite in suites():
        register_suite(suite)


def registered_envs() -> list[EnvEntry]:
    """Every registered pixelpilot id with its suite and whether an oracle can solve it (or why not)."""
    return [
        EnvEntry(env_id, suite.name, suite.has_oracle(task), suite.unsolved(task))
        for env_id, (suite, task) in sorted(_SUITES.items())
    ]
