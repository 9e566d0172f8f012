"""The simulated phone's task suite: registration, seeded worlds, checks that refuse wrong outcomes, and
every oracle solving its task on seeds 0-2 (``PIXELPILOT_ORACLE_SEEDS`` for more) through ``env.step`` with the
raw tool-call text."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import gymnasium as gym
import pytest
from support import ORACLE_SEEDS

from pixelpilot.envs.android import android_task, android_tasks, env_id, random_world
from pixelpilot.envs.android.env import AndroidEnv
from pixelpilot.envs.android.oracle import PhoneScreen
from pixelpilot.envs.android.tasks import ANDROID, names_date, times_in
from pixelpilot.envs.core.actions import MobileAction, parse_action
from pixelpilot.envs.core.registry import registered_envs

SEEDS = ORACLE_SEEDS
MAX_STEPS = 30
OPTIONS = {"device_scale_factor": 1.0}
"""Oracles read the layout, not pixels; 360x780 screenshots keep the sweep short (grid points are the same)."""


@pytest.fixture(scope="module")
def envs() -> Iterator[dict[str, AndroidEnv]]:
    """One environment per task, reused across its seeds; one browser at a time."""
    made: dict[str, AndroidEnv] = {}
    yield made
    for env in made.values():
        env.close()


def _env(envs: dict[str, AndroidEnv], task: str) -> AndroidEnv:
    for name in [name for name in envs if name != task]:
        envs.pop(name).close()
    if task not in envs:
        envs[task] = gym.make(env_id(task), device_options=OPTIONS).unwrapped  # type: ignore[assignment]
    return envs[task]


def test_suite_is_registered_with_oracles() -> None:
    entries = {entry.env_id: entry for entry in registered_envs() if entry.suite == ANDROID.name}
    assert len(android_tasks()) >= 20
    assert set(entries) == {env_id(task) for task in android_tasks()}
    assert all(entry.has_oracle for entry in entries.values())
    assert gym.spec(env_id("settings-wifi-off")).entry_point == "pixelpilot.envs.android.env:make_android_env"
    with pytest.raises(ValueError, match="unknown Android task"):
        android_task("settings-teleport")


def test_answers_are_read_the_way_people_write_them() -> None:
    assert times_in("It is set for 7:30 pm.") == {(19, 30)}
    assert times_in("07:05, or 19h45") == {(7, 5), (19, 45)}
    assert times_in("12:15 AM") == {(0, 15)} and times_in("no time here") == set()
    day = dt.date(2026, 7, 21)
    for text in ("2026-07-21", "Tuesday, July 21, 2026", "on Jul 21", "the 21st of July"):
        assert names_date(text, day), text
    for text in ("July 22", "July 21, 2025", "2026-07-12", "21 June"):
        assert not names_date(text, day), text


@pytest.mark.parametrize("task", android_tasks())
def test_oracle_solves_task(envs: dict[str, AndroidEnv], task: str) -> None:
    env = _env(envs, task)
    worlds = []
    for seed in SEEDS:
        obs, _ = env.reset(seed=seed)
        state = env.device.read_state()  # type: ignore[attr-defined]
        worlds.append(state)
        # The phone holds exactly the world the seed draws, and the task is not already done in it.
        rng = random.Random(f"{task}/{seed}")
        expected = random_world(rng)
        assert android_task(task).generate(expected, rng)[0] == obs["instruction"]
        assert state == expected
        status = env.task.validate(env.device)
        assert (status.reward, status.done) == (0.0, False)

        reward, terminated, steps, info = 0.0, False, 0, {}
        for text in env.task.oracle(env):
            assert text.count("<tool_call>") == 1 and text.rstrip().endswith("</tool_call>")
            assert isinstance(parse_action(text, tool="mobile_use"), MobileAction)
            obs, reward, terminated, truncated, info = env.step(text)
            steps += 1
            assert "action_error" not in info, f"{task} seed {seed}: {info['action_error']}"
            assert "validate_error" not in info, f"{task} seed {seed}: {info['validate_error']}"
            assert not truncated
            if terminated or steps >= MAX_STEPS:
                break
        assert terminated and reward == 1.0 and info["success"], f"{task} seed {seed} unsolved after {steps} steps"
    assert len({world.model_dump_json() for world in worlds}) == len(SEEDS)


@pytest.mark.parametrize("task", ["contacts-phone-number", "clock-alarm-time", "calendar-event-date"])
def test_a_wrong_answer_ends_the_episode_unsolved(envs: dict[str, AndroidEnv], task: str) -> None:
    env = _env(envs, task)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step({"action": "answer", "text": "I don't know"})
    assert terminated and reward == 0.0 and not info["success"] and info["message"] == "wrong answer"


def test_deleting_the_wrong_contact_is_not_success(envs: dict[str, AndroidEnv]) -> None:
    env = _env(envs, "contacts-delete")
    env.reset(seed=0)
    target = env.task.goal["name"]  # type: ignore[attr-defined]
    env.step({"action": "open", "text": "Contacts"})
    s = PhoneScreen(env)
    other = next(name for name in s.page.locator(".row .primary").all_inner_texts() if name != target)
    env.step(s.long_press(s.text(other), f"I long-press {other}."))
    env.step(s.tap(s.button("Delete"), ""))
    _, reward, terminated, _, info = env.step(
        s.tap(s.page.get_by_role("dialog").get_by_role("button", name="Delete"), "")
    )
    assert env.device.read_state().contact(other) is None  # type: ignore[attr-defined]
    assert (reward, terminated, info["success"]) == (0.0, False, False)


def test_tasks_need_the_simulated_phone() -> None:
    from pixelpilot.envs.android.adb import AdbDevice
    from pixelpilot.errors import EnvError

    with pytest.raises(EnvError, match="simulated phone"):
        android_task("settings-wifi-off").setup(AdbDevice(adb_path="/no/adb"), 0)
