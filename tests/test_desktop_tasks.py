"""Every desktop task's oracle solves it through ``env.step(text)``, on real programs under Xvfb, on seeds
0-2 (``PIXELPILOT_ORACLE_SEEDS=20 python -m pytest ...`` sweeps more).

Each yielded text goes to ``env.step`` as a model's raw reply, so a pass checks the oracle, the
tool-call format, the coordinate grid, the real input events and the task's check of real state.
"""

from __future__ import annotations

from collections.abc import Iterator

import gymnasium as gym
import pytest
from support import ORACLE_SEEDS, solve_with_oracle

from pixelpilot.envs.core.registry import registered_envs
from pixelpilot.envs.desktop.tasks import DESKTOP, TASKS, desktop_task, desktop_tasks, env_id
from pixelpilot.envs.desktop.xserver import marked_processes

SEEDS = ORACLE_SEEDS
MAX_STEPS = 40


@pytest.fixture(scope="module")
def envs() -> Iterator[dict[str, gym.Env]]:
    """Environments by task, each reused across its seeds (starting the X server costs most)."""
    made: dict[str, gym.Env] = {}
    yield made
    for env in made.values():
        env.close()


def _env(envs: dict[str, gym.Env], task: str) -> gym.Env:
    # One X server at a time: close the previous task's before starting the next.
    for name in [name for name in envs if name != task]:
        previous = envs.pop(name)
        previous.close()
        assert marked_processes(previous.unwrapped.marker) == []
    if task not in envs:
        envs[task] = gym.make(env_id(task))
    return envs[task]


def test_suite_is_registered_with_oracles() -> None:
    entries = {entry.env_id: entry for entry in registered_envs() if entry.suite == DESKTOP.name}
    assert len(desktop_tasks()) >= 15 and set(entries) == {env_id(task) for task in desktop_tasks()}
    assert all(entry.has_oracle for entry in entries.values())
    assert gym.spec(env_id("form-fill")).entry_point == "pixelpilot.envs.desktop.env:make_desktop_env"
    programs = {program for task in TASKS.values() for program in task.programs}
    assert {"xterm", "mousepad", "pcmanfm", "galculator"} <= programs  # real Debian programs, not only ours
    with pytest.raises(ValueError, match="unknown desktop task"):
        desktop_task("no-such-task")


@pytest.mark.parametrize("task", desktop_tasks())
def test_oracle_solves_task(envs: dict[str, gym.Env], task: str) -> None:
    env = _env(envs, task)
    instructions = set()
    for seed in SEEDS:
        obs, _ = env.reset(seed=seed)
        instructions.add(obs["instruction"])
        unwrapped = env.unwrapped
        assert not unwrapped.task.validate(unwrapped.desktop).done, f"{task} seed {seed} is done before any action"
        solve_with_oracle(env, unwrapped.task.oracle(unwrapped), f"{task} seed {seed}", MAX_STEPS)
    assert len(instructions) > 1, f"{task}: every seed gave the same episode"


def test_a_wrong_submission_ends_the_episode_without_reward(envs: dict[str, gym.Env]) -> None:
    env = _env(envs, "form-fill")
    env.reset(seed=0)
    task = env.unwrapped.task
    x, y, width, height = task.handle.widget("submit")
    grid = list(env.unwrapped.to_grid(x + width / 2, y + height / 2))
    _, reward, terminated, _, info = env.step({"action": "left_click", "coordinate": grid})
    assert terminated and reward == 0.0 and info["success"] is False
    assert info["message"] == "form submitted with wrong values"
