"""MiniWoB++ through gymnasium: registration, env checks, vector envs, seeding, rewards, no timer, no leaks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.envs import MiniWoBTask, WebEnv, miniwob_tasks
from pixelpilot.envs.core.registry import registered_envs
from pixelpilot.envs.web.miniwob.oracles import ORACLES
from pixelpilot.envs.web.miniwob.suite import miniwob_html_dir

CLICK_BUTTON = "pixelpilot/miniwob-click-button-v0"
_TARGET_JS = """(wanted) => {
  const buttons = [...document.querySelectorAll('#area button')];
  const button = buttons.find(b => (b.textContent === wanted) === %s);
  const r = button.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2];
}"""


def button_centre(env: WebEnv, instruction: str, right: bool = True) -> list[int]:
    """Where the asked-for button (or, with right=False, another one) is, on the 0-1000 grid."""
    wanted = re.fullmatch(r'Click on the "(.*)" button\.', instruction).group(1)
    x, y = env.page.evaluate(_TARGET_JS % ("true" if right else "false"), wanted)
    return list(env.to_grid(x, y))


@pytest.fixture(scope="module")
def env() -> Iterator[WebEnv]:
    environment = gym.make(CLICK_BUTTON).unwrapped
    yield environment
    environment.close()


def test_every_task_page_is_registered() -> None:
    pages = sorted(path.stem for path in miniwob_html_dir().glob("*.html"))
    assert len(pages) >= 100 and miniwob_tasks() == pages
    listed = {entry.env_id: entry for entry in registered_envs()}
    for task in pages:
        spec = gym.spec(f"pixelpilot/miniwob-{task}-v0")
        assert spec.kwargs == {"task": task}
        entry = listed[spec.id]
        assert entry.suite == "miniwob" and entry.has_oracle == (task in ORACLES)


def test_check_env_passes(env: WebEnv) -> None:
    check_env(env)


def test_observation_is_the_task_area_at_three_times_scale(env: WebEnv) -> None:
    obs, info = env.reset(seed=3)
    assert obs["screenshot"].shape == (630, 480, 3) and obs in env.observation_space
    box = env.page.evaluate(
        "(() => { const r = document.querySelector('#wrap').getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height]; })()"
    )
    assert box == [0, 0, *env.viewport]
    assert info["task"] == "click-button" and info["seed"] == 3


def test_taller_tasks_show_their_whole_form() -> None:
    environment = WebEnv(MiniWoBTask(name="drag-shapes"))
    try:
        obs, _ = environment.reset(seed=0)
        bottom = environment.page.evaluate("document.querySelector('#subbtn').getBoundingClientRect().bottom")
        assert 210 < bottom <= environment.viewport[1] and obs["screenshot"].shape == (660, 480, 3)
    finally:
        environment.close()


def test_same_seed_same_instance(env: WebEnv) -> None:
    first, _ = env.reset(seed=11)
    other, _ = env.reset(seed=12)
    again, _ = env.reset(seed=11)
    assert first["instruction"] == again["instruction"]
    assert np.array_equal(first["screenshot"], again["screenshot"])
    assert not np.array_equal(first["screenshot"], other["screenshot"])
    instructions = {env.reset(seed=seed)[0]["instruction"] for seed in range(6)}
    assert len(instructions) > 1


def test_reward_comes_from_the_page(env: WebEnv) -> None:
    obs, _ = env.reset(seed=4)
    _, reward, terminated, truncated, info = env.step(
        {"action": "left_click", "coordinate": button_centre(env, obs["instruction"])}
    )
    assert (reward, terminated, truncated, info["success"], info["raw_reward"]) == (1.0, True, False, True, 1.0)
    obs, _ = env.reset(seed=4)
    _, reward, terminated, _, info = env.step(
        {"action": "left_click", "coordinate": button_centre(env, obs["instruction"], right=False)}
    )
    assert (reward, terminated, info["success"], info["raw_reward"]) == (0.0, True, False, -1.0)


def test_there_is_no_ten_second_timer() -> None:
    environment = gym.make(CLICK_BUTTON).unwrapped
    try:
        environment.reset(seed=1)
        environment.page.clock.install()  # fake timers in every document loaded from now on
        environment.reset(seed=1)
        environment.page.clock.run_for(60_000)  # a minute of page time, every timer due in it fired
        _, _, terminated, _, info = environment.step({"action": "mouse_move", "coordinate": [500, 900]})
        assert not terminated and "action_error" not in info and info["raw_reward"] == 0.0
        # MiniWoB's own start arms its 10 s timer, and the fake clock does fire it:
        environment.page.evaluate("core.startEpisodeReal()")
        environment.page.clock.run_for(11_000)
        assert environment.page.evaluate("[WOB_DONE_GLOBAL, WOB_REWARD_REASON]") == [True, "timed out"]
    finally:
        environment.close()


@pytest.mark.parametrize(
    ("task", "pattern"),
    [("unicode-test", r'Click on the ".*[^\x00-\x7f].*" button\.'), ("email-inbox-forward-nl", r"\w.*")],
)
def test_instructions_of_every_form_fit_the_space(task: str, pattern: str) -> None:
    environment = gym.make(f"pixelpilot/miniwob-{task}-v0").unwrapped
    try:
        obs, _ = environment.reset(seed=2)
        assert isinstance(obs["instruction"], str) and re.fullmatch(pattern, obs["instruction"])
        assert obs in environment.observation_space
    finally:
        environment.close()


def test_oracle_delegates_to_the_oracle_table(env: WebEnv) -> None:
    env.reset(seed=8)
    reward, terminated = 0.0, False
    for text in env.task.oracle(env):
        _, reward, terminated, _, info = env.step(text)
        assert "action_error" not in info
        if terminated:
            break
    assert terminated and reward == 1.0
    without = next(task for task in miniwob_tasks() if task not in ORACLES)
    with pytest.raises(NotImplementedError):
        MiniWoBTask(name=without).oracle(env)
    with pytest.raises(ValueError, match="unknown MiniWoB"):
        MiniWoBTask(name="no-such-task")


def test_eight_envs_under_async_vector_env() -> None:
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(CLICK_BUTTON)] * 8)
    try:
        obs, _ = envs.reset(seed=0)
        assert obs["screenshot"].shape == (8, 630, 480, 3) and len(obs["instruction"]) == 8
        assert all(re.fullmatch(r'Click on the ".*" button\.', text) for text in obs["instruction"])
        actions = tuple(
            '<tool_call>\n{"name": "computer_use", "arguments": {"action": "mouse_move", '
            f'"coordinate": [{100 * i}, 500]}}}}\n</tool_call>'
            for i in range(8)
        )
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        assert rewards.shape == (8,) and not terminated.any() and not truncated.any()
        assert obs["screenshot"].shape == (8, 630, 480, 3)
        single = gym.make(CLICK_BUTTON)
        try:
            assert single.reset(seed=5)[0]["instruction"] == envs.reset(seed=0)[0]["instruction"][5]
        finally:
            single.close()
    finally:
        envs.close()


def test_no_chromium_left_after_a_hundred_episodes(no_browser_left: Callable[[int, str], None]) -> None:
    environment = gym.make(CLICK_BUTTON)
    try:
        for episode in range(100):
            environment.reset(seed=episode)
            browser = environment.unwrapped.browser
            no_browser_left(browser.pid, browser.marker)
            _, _, _, _, info = environment.step({"action": "mouse_move", "coordinate": [500, 500]})
            assert "action_error" not in info
    finally:
        environment.close()
    for _ in range(3):
        cycle: Any = gym.make("pixelpilot/miniwob-enter-text-v0")
        try:
            cycle.reset()
            no_browser_left(cycle.unwrapped.browser.pid, cycle.unwrapped.browser.marker)
        finally:
            cycle.close()


def test_crashed_page_is_replaced_on_reset(env: WebEnv) -> None:
    env.reset(seed=1)
    with pytest.raises(Exception, match="ERR_ABORTED"):
        env.page.goto("chrome://crash")  # Chromium's own way to crash a renderer
    _, _, terminated, truncated, info = env.step({"action": "left_click", "coordinate": [500, 500]})
    assert truncated and not terminated and "crashed" in info["action_error"]
    obs, _ = env.reset(seed=1)
    assert obs["instruction"].startswith("Click on the") and env.browser.healthy
    _, _, _, truncated, info = env.step({"action": "mouse_move", "coordinate": [500, 500]})
    assert not truncated and "action_error" not in info
