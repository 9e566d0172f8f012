"""The agent loop on a real (small) gymnasium environment, driven by policy doubles.

``ButtonEnv`` is real environment code: it draws a coloured button with PIL, validates actions
with the shared action schema and succeeds when a ``left_click`` lands inside the button. The
models here are test doubles for the *policy* only: one replays scripted texts, one looks at the
last image of its prompt and clicks the button it finds there.
"""

from __future__ import annotations

import io
import json
from typing import ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from PIL import Image, ImageDraw
from rich.console import Console

from pixelpilot.agent import Agent, Callback, Episode, LiveView, Step, Trajectory
from pixelpilot.envs.core.actions import GRID, parse_action, to_pixels
from pixelpilot.errors import ActionError, ModelError
from pixelpilot.model.base import ChatModel, Conversation, Generation, SamplingParams
from pixelpilot.tools import ToolResult, image_zoom_in_tool

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220)}


class ButtonEnv(gym.Env):
    """A screen with one coloured button; clicking it (or naming its colour) solves the task."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 4}
    gui_tool = "computer_use"

    def __init__(self, width: int = 160, height: int = 120) -> None:
        self.width, self.height = width, height
        self.observation_space = spaces.Dict(
            {
                "screenshot": spaces.Box(0, 255, (height, width, 3), np.uint8),
                "instruction": spaces.Text(max_length=200),
            }
        )
        self.action_space = spaces.Text(max_length=4096)
        self.render_mode = "rgb_array"
        self.box = (0, 0, 1, 1)
        self.colour = "red"
        self.cursor: tuple[int, int] | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.colour = str(self.np_random.choice(list(COLOURS)))
        x0 = int(self.np_random.integers(0, self.width - 40))
        y0 = int(self.np_random.integers(0, self.height - 24))
        self.box = (x0, y0, x0 + 40, y0 + 24)
        self.cursor = None
        return self._observation(), {}

    def render(self) -> np.ndarray:
        image = Image.new("RGB", (self.width, self.height), (250, 250, 250))
        draw = ImageDraw.Draw(image)
        draw.rectangle(self.box, fill=COLOURS[self.colour])
        if self.cursor is not None:
            x, y = self.cursor
            draw.ellipse((x - 1, y - 1, x + 1, y + 1), fill=(0, 0, 0))
        return np.asarray(image)

    def _observation(self) -> dict:
        return {"screenshot": self.render(), "instruction": f"Click the {self.colour} button."}

    def step(self, action):
        try:
            act = parse_action(action)
        except ActionError as error:
            return self._observation(), 0.0, False, False, {"action_error": str(error)}
        reward, terminated, info = 0.0, False, {}
        if act.coordinate is not None:
            self.cursor = to_pixels(act.coordinate, self.width, self.height)
        if act.action == "left_click":
            x, y = self.cursor
            x0, y0, x1, y1 = self.box
            if x0 <= x <= x1 and y0 <= y <= y1:
                reward, terminated, info = 1.0, True, {"success": True}
        elif act.action == "answer":
            correct = (act.text or "").strip().lower() == self.colour
            reward, terminated, info = float(correct), True, {"success": correct}
        elif act.action == "terminate":
            terminated, info = True, {"success": False}
        return self._observation(), reward, terminated, False, info


def generation(text: str) -> Generation:
    """A Generation as a backend returns it (ids and log-probs here stand in for a tokenizer's)."""
    ids = [ord(c) % 1000 for c in text]
    return Generation(text=text, token_ids=ids, logprobs=[-0.25] * len(ids))


def call(action: str, **arguments) -> str:
    payload = json.dumps({"name": "computer_use", "arguments": {"action": action, **arguments}})
    return f"<tool_call>\n{payload}\n</tool_call>"


def find_button(image: Image.Image) -> tuple[int, int] | None:
    """Centre of the saturated pixels of an image, on the 0-1000 grid (what a model would output)."""
    pixels = np.asarray(image.convert("RGB")).astype(int)
    saturated = (pixels.max(axis=2) - pixels.min(axis=2)) > 100
    ys, xs = np.nonzero(saturated)
    if len(xs) == 0:
        return None
    height, width = saturated.shape
    return round(xs.mean() / width * GRID), round(ys.mean() / height * GRID)


def last_image(conversation: Conversation) -> Image.Image:
    images = [p["image"] for m in conversation for p in m["content"] if p["type"] == "image"]
    return images[-1]


class ScriptedModel(ChatModel):
    """Replays texts in order; after the script, it clicks the button it sees in its prompt."""

    name = "scripted"

    def __init__(self, texts: list[str] = (), see: bool = True) -> None:
        self.texts = list(texts)
        self.see = see
        self.prompts: list[Conversation] = []

    def generate(self, conversations: list[Conversation], sampling: SamplingParams | None = None) -> list[Generation]:
        out = []
        for conversation in conversations:
            self.prompts.append(conversation)
            if self.texts:
                out.append(generation(self.texts.pop(0)))
                continue
            if not self.see:
                raise ModelError("script exhausted")
            point = find_button(last_image(conversation))
            out.append(generation(f"<think>The button is at {point}.</think>\n" + call("left_click", coordinate=point)))
        return out


class Recorder(Callback):
    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.ended: list[Trajectory] = []

    def on_step(self, step: Step) -> None:
        self.steps.append(step)

    def on_end(self, trajectory: Trajectory) -> None:
        self.ended.append(trajectory)


@pytest.fixture
def env():
    environment = ButtonEnv()
    yield environment
    environment.close()


def last_user_text(conversation: Conversation) -> str:
    message = conversation[-1]
    assert message["role"] == "user"
    return "".join(p["text"] for p in message["content"] if p["type"] == "text")


def test_seeing_policy_solves_the_task(env):
    recorder = Recorder()
    trajectory = Agent(ScriptedModel(), callbacks=[recorder]).run(env, seed=3)
    assert trajectory.success and trajectory.end_reason == "env_terminated"
    assert trajectory.reward == 1.0 and trajectory.instruction == f"Click the {env.colour} button."
    assert trajectory.env_id == "ButtonEnv" and trajectory.model == "scripted" and trajectory.seed == 3
    (step,) = trajectory.steps
    assert step.done and step.terminated and not step.failed
    assert step.thought.startswith("The button is at")
    assert step.generation.token_ids and len(step.generation.logprobs) == len(step.generation.token_ids)
    assert "model" in step.timings and "tools" in step.timings
    # The landing is recorded on the grid of the screenshot the model saw, inside the button.
    (landing,) = step.landings
    x, y = to_pixels((landing.x, landing.y), env.width, env.height)
    x0, y0, x1, y1 = env.box
    assert landing.action == "left_click" and x0 <= x <= x1 and y0 <= y <= y1
    assert step.screenshot.size == (env.width, env.height)
    assert recorder.steps == [step] and recorder.ended == [trajectory]


def test_malformed_text_becomes_an_error_observation_and_the_run_goes_on(env):
    broken = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1, 2]'
    model = ScriptedModel(["I think I should click somewhere.", "<tool_call>{not json at all}</tool_call>", broken])
    trajectory = Agent(model).run(env, seed=0)
    assert trajectory.success and len(trajectory.steps) == 4
    first, second, third, last = trajectory.steps
    assert first.failed and "no <tool_call>" in first.error and first.calls == []
    assert second.failed and second.calls[0].call is None and "not valid JSON" in second.calls[0].error
    # Leniency: an unclosed call is still a call; it clicked the corner and missed.
    assert not third.failed and third.calls[0].call.arguments["coordinate"] == [1, 2]
    assert not last.failed and last.done
    feedback = last_user_text(model.prompts[1])
    assert feedback.startswith("<tool_response>\nError: your response holds no <tool_call>")
    assert feedback.endswith("</tool_response>")
    assert "Error: tool call is not valid JSON" in last_user_text(model.prompts[2])
    assert model.prompts[1][-2] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "I think I should click somewhere."}],
    }


def test_an_invalid_action_is_reported_back_by_name(env):
    model = ScriptedModel([call("left_click", coordinate=[1500, 20])])
    trajectory = Agent(model).run(env, seed=1)
    assert trajectory.success
    error = trajectory.steps[0].calls[0].error
    assert "outside the 0-1000 grid" in error
    assert f"Error: {error}" in last_user_text(model.prompts[1])


def test_repeated_identical_failing_action_stops_the_run(env):
    bad = call("left_click", coordinate=[1500, 20])
    trajectory = Agent(ScriptedModel([bad] * 10), max_repeats=3).run(env, seed=1)
    assert trajectory.end_reason == "max_repeats" and not trajectory.success
    assert len(trajectory.steps) == 3 and all(s.failed for s in trajectory.steps)
    assert trajectory.steps[-1].done


def test_different_failures_exhaust_the_failure_budget(env):
    texts = [call("left_click", coordinate=[1500 + i, 20]) for i in range(10)]
    trajectory = Agent(ScriptedModel(texts), max_failures=4, max_repeats=2).run(env, seed=1)
    assert trajectory.end_reason == "max_failures" and len(trajectory.steps) == 4


def test_failures_between_successes_do_not_count_as_repeats(env):
    bad = call("left_click", coordinate=[1500, 20])
    move = call("mouse_move", coordinate=[5, 5])
    trajectory = Agent(ScriptedModel([bad, move, bad, move, bad]), max_repeats=2, max_failures=9).run(env, seed=1)
    assert trajectory.success and len(trajectory.steps) == 6


def test_max_steps_ends_a_run_that_never_finishes(env):
    moves = [call("mouse_move", coordinate=[10 * i, 10]) for i in range(10)]
    trajectory = Agent(ScriptedModel(moves), max_steps=4).run(env, seed=2)
    assert trajectory.end_reason == "max_steps" and len(trajectory.steps) == 4
    assert not any(s.failed for s in trajectory.steps) and not trajectory.success


def test_answer_action_ends_the_run_with_the_answer(env):
    env.reset(seed=5)
    colour = env.colour
    text = f"<think>It is {colour}.</think>\n" + call("answer", text=colour)
    trajectory = Agent(ScriptedModel([text])).run(env, seed=5)
    assert trajectory.end_reason == "answer" and trajectory.answer == colour and trajectory.success


def test_terminate_failure_ends_the_run_unsuccessfully(env):
    trajectory = Agent(ScriptedModel([call("terminate", status="failure")])).run(env, seed=5)
    assert trajectory.end_reason == "terminate" and not trajectory.success


def test_environment_truncation_ends_the_run(env):
    moves = [call("mouse_move", coordinate=[10, 10 * i]) for i in range(10)]
    limited = gym.wrappers.TimeLimit(env, max_episode_steps=2)
    trajectory = Agent(ScriptedModel(moves)).run(limited, seed=2)
    assert trajectory.end_reason == "env_truncated" and len(trajectory.steps) == 2


def test_model_failure_ends_the_run_with_the_error(env):
    trajectory = Agent(ScriptedModel([call("mouse_move", coordinate=[1, 1])], see=False)).run(env, seed=2)
    assert trajectory.end_reason == "model_error" and "script exhausted" in trajectory.error
    assert len(trajectory.steps) == 1


def test_several_calls_in_one_turn_run_in_order_and_a_bad_one_loses_nothing(env):
    env.reset(seed=4)
    x0, y0, x1, y1 = env.box
    centre = [round((x0 + x1) / 2 / env.width * 1000), round((y0 + y1) / 2 / env.height * 1000)]
    text = "\n".join(
        [
            call("mouse_move", coordinate=[0, 0]),
            "<tool_call>{oops</tool_call>",
            call("left_click", coordinate=centre),
            call("terminate", status="failure"),
        ]
    )
    trajectory = Agent(ScriptedModel([text])).run(env, seed=4)
    (step,) = trajectory.steps
    assert [c.call.arguments["action"] if c.call else None for c in step.calls] == ["mouse_move", None, "left_click"]
    assert step.failed and trajectory.success and trajectory.end_reason == "env_terminated"
    assert [landing.action for landing in step.landings] == ["mouse_move", "left_click"]


def test_drag_landing_starts_where_the_cursor_was(env):
    text = call("mouse_move", coordinate=[100, 200]) + call("left_click_drag", coordinate=[600, 700])
    trajectory = Agent(ScriptedModel([text, call("terminate", status="failure")])).run(env, seed=4)
    drag = trajectory.steps[0].landings[1]
    assert (drag.from_x, drag.from_y, drag.x, drag.y) == (100, 200, 600, 700)


def test_zoom_tool_crops_the_image_the_model_named(env):
    env.reset(seed=6)
    x0, y0, x1, y1 = env.box
    bbox = [x0 / env.width * 1000, y0 / env.height * 1000, x1 / env.width * 1000, y1 / env.height * 1000]
    zoom = '<tool_call>{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": %s, "img_idx": 0}}</tool_call>'
    model = ScriptedModel([zoom % json.dumps(bbox)])
    trajectory = Agent(model, tools=[image_zoom_in_tool], history_images=1).run(env, seed=6)
    assert trajectory.success and trajectory.steps[0].calls[0].images == 1
    crop = last_image(model.prompts[1])
    # The crop is of the button only: every pixel is the button's colour.
    assert np.all(np.asarray(crop).reshape(-1, 3) == COLOURS[env.colour])
    # A crop is not a screenshot: the screenshot is still the one the model sees and clicks on.
    assert "image_zoom_in_tool" in model.prompts[0][0]["content"][0]["text"]


def test_zoom_index_counts_only_images_still_shown(env):
    moves = [call("mouse_move", coordinate=[10, 10 * i]) for i in range(1, 4)]
    zoom = (
        '<tool_call>{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [0, 0, 1000, 1000], "img_idx": %d}}'
        "</tool_call>"
    )
    model = ScriptedModel([*moves, zoom % 2, zoom % 1, zoom % 2, call("terminate", status="failure")])
    episode = Agent(model, tools=[image_zoom_in_tool], history_images=2).episode(env)
    episode.reset(seed=0)
    while not episode.done:
        episode.advance(model.chat(episode.messages()))
    steps = episode.trajectory.steps
    # Four screenshots so far, two shown: index 2 does not exist yet.
    assert "out of range: the conversation has 2 image(s)" in steps[3].calls[0].error
    # Index 1 is the newest screenshot; the full-box crop is that screenshot at full resolution.
    assert steps[4].calls[0].ok
    shown = [p["image"] for m in model.prompts[4] for p in m["content"] if p["type"] == "image"]
    assert len(shown) == 2
    assert np.array_equal(np.asarray(last_image(model.prompts[5])), np.asarray(shown[1]))
    # The crop came after the oldest shown screenshot, so it is shown too and is now index 2.
    assert steps[5].calls[0].ok


def test_episode_is_a_state_machine_for_batched_rollouts():
    envs = [ButtonEnv() for _ in range(3)]
    episodes = [Episode(e, max_steps=3) for e in envs]
    for i, episode in enumerate(episodes):
        episode.reset(seed=i)
    model = ScriptedModel()
    while not all(e.done for e in episodes):
        active = [e for e in episodes if not e.done]
        for episode, gen in zip(active, model.generate([e.messages() for e in active]), strict=True):
            episode.advance(gen)
    assert all(e.trajectory.success for e in episodes)
    with pytest.raises(RuntimeError):
        episodes[0].advance(generation("late"))
    with pytest.raises(RuntimeError):
        Episode(ButtonEnv()).messages()


def test_begin_and_resume_split_a_turn_around_its_environment_steps():
    """Stepping the environment outside the episode plays exactly what ``advance`` plays in place."""
    text = "\n".join([call("mouse_move", coordinate=[10, 10]), call("oops"), call("left_click", coordinate=[500, 500])])
    inside, outside = ButtonEnv(), ButtonEnv()
    expected = Episode(inside, max_steps=1)
    expected.reset(seed=3)
    expected.advance(generation(text))
    episode = Episode(outside, max_steps=1)
    observation, info = outside.reset(seed=3)
    episode.start(observation, info, seed=3)
    actions = []
    action = episode.begin(generation(text))
    with pytest.raises(RuntimeError, match="still waits"):
        episode.begin(generation(text))
    while action is not None:
        assert episode.stepping
        actions.append(action.action)
        action = episode.resume(outside.step(action))
    # The invalid middle call never reached the environment; its error went back to the model.
    assert actions == ["mouse_move", "left_click"] and not episode.stepping and episode.done
    got, want = episode.trajectory, expected.trajectory
    assert [c.model_dump() for c in got.steps[0].calls] == [c.model_dump() for c in want.steps[0].calls]
    assert (got.end_reason, got.reward, got.success) == (want.end_reason, want.reward, want.success)
    with pytest.raises(RuntimeError, match="no action"):
        episode.resume(outside.step(parse_action(call("left_click", coordinate=[1, 1]))))


def test_a_step_that_failed_elsewhere_becomes_the_calls_error(env):
    episode = Episode(env, max_steps=2)
    episode.reset(seed=1)
    action = episode.begin(generation(call("left_click", coordinate=[5, 5])))
    assert action is not None
    assert episode.resume(ToolResult(error="the remote environment is gone")) is None
    (record,) = episode.trajectory.steps[0].calls
    assert record.error == "the remote environment is gone" and not episode.done
    assert "Error: the remote environment is gone" in last_user_text(episode.messages())


def test_live_view_shows_each_step(env):
    buffer = io.StringIO()
    recorder = Recorder()
    with LiveView(Console(file=buffer, width=200, color_system=None)) as view:
        Agent(ScriptedModel(["no call here [bold]"]), callbacks=[recorder]).run(env, seed=3, callbacks=[view])
    assert len(recorder.steps) == 2 and len(recorder.ended) == 1
    out = buffer.getvalue()
    assert "step  0 ✗ (no call)" in out and "error: your response holds no <tool_call>" in out
    assert "step  1 ✓ computer_use.left_click" in out and "reward 1" in out
    assert "success" in out and "env_terminated" in out


def test_real_tiny_qwen3_vl_drives_the_loop(env, tiny_checkpoint):
    from transformers import AutoProcessor

    from pixelpilot.model import load_model

    model = load_model(f"hf:{tiny_checkpoint}")
    sampling = SamplingParams(max_new_tokens=16, seed=0)
    try:
        trajectory = Agent(model, max_steps=3, sampling=sampling).run(env, seed=0)
        assert 1 <= len(trajectory.steps) <= 3 and trajectory.end_reason is not None
        for step in trajectory.steps:
            ids, logprobs = step.generation.token_ids, step.generation.logprobs
            assert ids and len(logprobs) == len(ids) and all(lp <= 0 for lp in logprobs)
        # The same prompts through the checkpoint's own chat template: Qwen's hermes layout.
        episode = Agent(model, history_images=1, sampling=sampling).episode(env)
        episode.reset(seed=0)
        episode.advance(model.chat(episode.messages(), sampling))
        rendered = AutoProcessor.from_pretrained(tiny_checkpoint).apply_chat_template(
            episode.messages(), tokenize=False, add_generation_prompt=True
        )
    finally:
        model.close()
    system = episode.messages()[0]["content"][0]["text"]
    assert rendered.startswith(f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nClick the ")
    assert "<|im_start|>user\n<tool_response>\n" in rendered
    assert rendered.count("<|image_pad|>") == 1  # history_images=1: one screenshot shown
    assert rendered.endswith("</tool_response><|im_end|>\n<|im_start|>assistant\n")
