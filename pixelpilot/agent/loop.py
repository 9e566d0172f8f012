"""``Agent``: a model driving an environment, one think → act → observe turn at a time.

The loop is deliberately small: all the decisions (what the prompt holds, what a response means,
when to stop) live in ``Episode``, which an RL rollout reuses with batched generation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from time import perf_counter

import gymnasium as gym

from pixelpilot.agent.approval import Approver
from pixelpilot.agent.episode import Callback, Episode
from pixelpilot.agent.prompt import HistoryLayout
from pixelpilot.agent.trajectory import Trajectory
from pixelpilot.errors import ModelError
from pixelpilot.model.base import ChatModel, SamplingParams
from pixelpilot.tools import Tool
from pixelpilot.tools.base import PROMPT_STYLES, PromptStyle

log = logging.getLogger(__name__)


class Agent:
    """Runs a ChatModel on gymnasium screen environments through Qwen3-VL's tool calls.

    ``tools`` are extra tools beside the environment's own GUI tool (for instance
    ``image_zoom_in_tool``); ``history_images`` is how many recent screenshots the model sees
    as images. An episode stops after ``max_steps`` model turns, ``max_repeats`` identical failing
    turns in a row, or ``max_failures`` failing turns in all.

    The prompt: ``prompt_style`` ``qwen`` is Qwen's own cookbook text, word for word, for a released
    Qwen3-VL; ``pixelpilot`` the wording pixelpilot-nano was trained on. Left out, it is the style the
    model's checkpoint names (``ChatModel.prompt_style``), else ``qwen``. ``role_prompt`` replaces the
    style's role line. ``history_layout`` ``chat`` shows the whole multi-turn conversation; ``cookbook``
    one user turn with the query, the steps so far and the current screenshot, as Qwen's mobile agent does.
    """

    def __init__(
        self,
        model: ChatModel,
        max_steps: int = 15,
        tools: Sequence[Tool] = (),
        history_images: int = 3,
        sampling: SamplingParams | None = None,
        max_failures: int = 5,
        max_repeats: int = 3,
        callbacks: Sequence[Callback] = (),
        role_prompt: str | None = None,
        approve: Approver | None = None,
        prompt_style: PromptStyle | None = None,
        history_layout: HistoryLayout = "chat",
    ) -> None:
        style = prompt_style or model.prompt_style or "qwen"
        if style not in PROMPT_STYLES:
            raise ValueError(f"unknown prompt style {style!r}: use one of {', '.join(PROMPT_STYLES)}")
        self.model = model
        self.approve = approve
        """Asked before every GUI action (see ``pixelpilot.agent.approval``); None allows everything."""
        self.max_steps = max_steps
        self.tools = tuple(tools)
        self.history_images = history_images
        self.sampling = sampling
        self.max_failures = max_failures
        self.max_repeats = max_repeats
        self.callbacks = tuple(callbacks)
        self.role_prompt = role_prompt
        self.prompt_style: PromptStyle = style
        self.history_layout: HistoryLayout = history_layout

    def episode(self, env: gym.Env, callbacks: Sequence[Callback] = ()) -> Episode:
        """A fresh episode on env with this agent's settings (call ``reset`` on it before use).

        ``callbacks`` are added to the agent's own for this episode only.
        """
        return Episode(
            env,
            self.tools,
            history_images=self.history_images,
            max_steps=self.max_steps,
            max_failures=self.max_failures,
            max_repeats=self.max_repeats,
            role_prompt=self.role_prompt,
            prompt_style=self.prompt_style,
            history_layout=self.history_layout,
            callbacks=(*self.callbacks, *callbacks),
            model_name=self.model.name,
            approve=self.approve,
        )

    def run(self, env: gym.Env, seed: int | None = None, callbacks: Sequence[Callback] = ()) -> Trajectory:
        """Play one episode on env (which the caller keeps and closes) and return what happened."""
        episode = self.episode(env, callbacks)
        episode.reset(seed=seed)
        while not episode.done:
            started = perf_counter()
            try:
                generation = self.model.chat(episode.messages(), self.sampling)
            except ModelError as error:
                log.warning("model %s failed; ending the episode: %s", self.model.name, error)
                episode.stop("model_error", error=str(error))
                break
            episode.advance(generation, model_seconds=perf_counter() - started)
        return episode.trajectory
