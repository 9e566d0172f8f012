"""The whole path a user takes: a model's text → the agent's parser → the tool registry → a real MiniWoB page.

The tiny checkpoint drives three steps through each in-process and HTTP backend; a policy that
replays a task's oracle shows the same loop reaching reward 1.
"""

from __future__ import annotations

from collections.abc import Iterator

import gymnasium as gym
import pytest

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot import Agent, load_model
from pixelpilot.model.base import ChatModel, Conversation, Generation, SamplingParams

TASK = "pixelpilot/miniwob-click-button-v0"


@pytest.fixture(scope="module")
def env():
    environment = gym.make(TASK)
    yield environment
    environment.close()


def assert_three_model_steps(trajectory, with_logprobs: bool) -> None:
    assert len(trajectory.steps) == 3 and trajectory.end_reason == "max_steps"
    assert trajectory.env_id == TASK and trajectory.instruction
    for step in trajectory.steps:
        assert step.screenshot is not None and step.generation is not None
        assert step.generation.token_ids
        assert len(step.generation.logprobs) == (len(step.generation.token_ids) if with_logprobs else 0)


def test_tiny_checkpoint_runs_three_steps_in_process(env, tiny_checkpoint):
    model = load_model(f"hf:{tiny_checkpoint}")
    try:
        trajectory = Agent(model, max_steps=3).run(env, seed=0)
    finally:
        model.close()
    assert_three_model_steps(trajectory, with_logprobs=True)


def test_tiny_checkpoint_runs_three_steps_over_http(env, tiny_server, tiny_checkpoint):
    model = load_model(f"openai:{tiny_server}#{tiny_checkpoint}")
    try:
        trajectory = Agent(model, max_steps=3).run(env, seed=0)
    finally:
        model.close()
    # transformers serve returns no log-probs; the backend says so with an empty list.
    assert_three_model_steps(trajectory, with_logprobs=False)


class OraclePolicy(ChatModel):
    """A policy that answers each turn with the next step of the task's oracle (a test double for the model)."""

    name = "oracle"

    def __init__(self, env: gym.Env) -> None:
        self.env = env
        self.steps: Iterator[str] | None = None

    def generate(self, conversations: list[Conversation], sampling: SamplingParams | None = None) -> list[Generation]:
        if self.steps is None:
            web = self.env.unwrapped
            self.steps = web.task.oracle(web)
        return [Generation(text=next(self.steps), token_ids=[], logprobs=[]) for _ in conversations]


@pytest.mark.parametrize("task", ["click-button", "enter-text", "click-checkboxes", "email-inbox"])
def test_agent_loop_solves_miniwob_with_oracle_text(task, tmp_path):
    environment = gym.make(f"pixelpilot/miniwob-{task}-v0")
    try:
        trajectory = Agent(OraclePolicy(environment), max_steps=40).run(environment, seed=7)
    finally:
        environment.close()
    assert trajectory.success and trajectory.reward == 1.0
    assert trajectory.end_reason == "env_terminated"
    assert all(not step.failed for step in trajectory.steps)
    trajectory.save(tmp_path)
    html = trajectory.to_html(tmp_path / "report.html").read_text()
    assert html.count("<img") >= len(trajectory.steps)
