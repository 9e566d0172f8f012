"""Every MiniWoB++ oracle solves its task through the agent's own path, on seeds 0-2
(``PIXELPILOT_ORACLE_SEEDS=20 python -m pytest ...`` sweeps more).

Each yielded text goes to ``env.step`` as raw model text (parsed by ``parse_action``), so a pass
checks the oracle, the tool-call format, the coordinate grid and the real browser actions at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import gymnasium as gym
import pytest
from support import ORACLE_SEEDS, solve_with_oracle

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.envs.miniwob_oracles import ORACLES

SEEDS = ORACLE_SEEDS
MAX_STEPS = 40


@pytest.fixture(scope="module")
def envs() -> Iterator[dict[str, gym.Env]]:
    """Environments by task, each reused across its seeds (starting Chromium is the slow part)."""
    made: dict[str, gym.Env] = {}
    yield made
    for env in made.values():
        env.close()


def _env(envs: dict[str, gym.Env], task: str) -> gym.Env:
    # One browser at a time: close the previous task's before starting the next.
    for name in [name for name in envs if name != task]:
        envs.pop(name).close()
    if task not in envs:
        envs[task] = gym.make(f"pixelpilot/miniwob-{task}-v0")
    return envs[task]


def test_oracles_cover_registered_tasks() -> None:
    assert len(ORACLES) >= 25
    for task in ORACLES:
        assert gym.spec(f"pixelpilot/miniwob-{task}-v0").entry_point


@pytest.mark.parametrize("task", sorted(ORACLES))
def test_oracle_solves_task(envs: dict[str, gym.Env], task: str) -> None:
    env = _env(envs, task)
    for seed in SEEDS:
        env.reset(seed=seed)
        texts = ORACLES[task](env.unwrapped.page, env.unwrapped.to_grid)
        solve_with_oracle(env, texts, f"{task} seed {seed}", MAX_STEPS)
