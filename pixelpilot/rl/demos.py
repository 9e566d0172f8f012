"""Demonstrations for cold-start SFT: task oracles, or saved trajectories replayed.

A demonstration is recorded through the agent's own ``Episode``: the oracle's tool-call texts
stand in for the model's answers, so the prompts, tool responses and screenshots of the training
data are exactly those the agent will meet, and SFT and RL share one record type
(``EpisodeRecord``) and one sequence builder. The answer ids are the tokenizer's own encoding of
the text, closed by ``<|im_end|>`` as a model closes its turn.

A saved trajectory holds the model's texts but not every tool response (zoom crops are not
saved), so it is replayed: its environment is reset with its seed and its texts are fed back one
by one. A replay that does not end as the original did (a nondeterministic page) is skipped.
"""

from __future__ import annotations

import io
import logging
import pickle
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
from PIL import Image

from pixelpilot.agent import Episode, Trajectory
from pixelpilot.errors import OracleError
from pixelpilot.model.base import Generation
from pixelpilot.model.images import ResizeRule, token_cells
from pixelpilot.rl.config import DemoClicks
from pixelpilot.rl.rollout import Environments, EpisodeRecord, Query, TurnRecord
from pixelpilot.rl.sequences import encode_prompt, end_token_id

log = logging.getLogger(__name__)

EpisodeFactory = Callable[[gym.Env], Episode]
"""Makes the agent's episode on an environment (``Agent.episode``)."""


def oracle_texts(env: gym.Env) -> Iterator[str]:
    """The oracle of the task the env is reset to: its own ``oracle()``, or its web task's.

    A generator, so the oracle is looked up at the first text, after the episode has reset the
    environment: a web task's oracle reads the page, which exists only from the reset on.
    """
    unwrapped = env.unwrapped
    oracle = getattr(unwrapped, "oracle", None)
    if callable(oracle):
        yield from oracle()
        return
    task = getattr(unwrapped, "task", None)
    if task is not None and callable(getattr(task, "oracle", None)):
        yield from task.oracle(unwrapped)
        return
    spec = getattr(env, "spec", None)
    raise ValueError(f"environment {spec.id if spec else type(unwrapped).__name__} has no oracle")


def record_texts(
    query: Query,
    env: gym.Env,
    new_episode: EpisodeFactory,
    processor: Any,
    texts: Iterable[str],
    group: str,
) -> EpisodeRecord:
    """Feed texts to a fresh episode as the model's turns, recording each turn's prompt and answer ids.

    The episode ends early when the texts end it (a final action, the environment's verdict), or unsolved
    when an oracle behind them raises ``OracleError`` (its target covered on this seed, say).
    """
    end = end_token_id(processor.tokenizer)
    episode = new_episode(env)
    episode.reset(seed=query.seed)
    record = EpisodeRecord(query=query, group=group, trajectory=episode.trajectory)
    try:
        for text in texts:
            if episode.done:
                break
            prompt_ids, images = encode_prompt(processor, episode.messages())
            token_ids = [*processor.tokenizer.encode(text, add_special_tokens=False), end]
            record.turns.append(TurnRecord(prompt_ids=prompt_ids, images=images, token_ids=token_ids))
            episode.advance(Generation(text=text, token_ids=token_ids, logprobs=[], prompt_token_ids=prompt_ids))
    except OracleError as error:  # the oracle stands in for the model: it could not answer
        episode.stop("model_error", error=f"the oracle could not go on: {error}")
    if not episode.done:
        episode.stop("max_steps", error="the demonstration ended before the episode did")
    record.trajectory = episode.trajectory
    return record


def oracle_demonstrations(
    queries: Iterable[Query],
    new_episode: EpisodeFactory,
    processor: Any,
    envs: Environments,
    *,
    clicks: DemoClicks = "centre",
) -> list[EpisodeRecord]:
    """One demonstration per query from its task's oracle; oracles that fail are logged and skipped.

    ``clicks="token"`` has web oracles aim each click at the centre of the processor's image token that
    holds the target's centre, where the target shows there (``PageScreen.aim``); other oracles click as usual.
    """
    rule = ResizeRule.from_image_processor(processor.image_processor) if clicks == "token" else None
    records = []
    for query in queries:
        (env,) = envs.acquire([query])
        unwrapped = env.unwrapped
        aims = rule is not None and hasattr(unwrapped, "oracle_cells")
        if aims:
            height, width = env.observation_space["screenshot"].shape[:2]
            unwrapped.oracle_cells = token_cells(width, height, rule)
        try:
            record = record_texts(query, env, new_episode, processor, oracle_texts(env), f"demo:{query.key}")
        finally:
            if aims:
                unwrapped.oracle_cells = None
            envs.release(query, env)
        if record.success:
            records.append(record)
        else:
            log.warning("the oracle did not solve %s (%s); skipped", query.key, record.trajectory.end_reason)
    return records


def trajectory_demonstrations(
    directories: Iterable[str | Path],
    new_episode: EpisodeFactory,
    processor: Any,
    envs: Environments,
    *,
    success_only: bool = True,
) -> list[EpisodeRecord]:
    """Saved trajectories (``Trajectory.save`` directories) replayed into demonstrations."""
    records = []
    for directory in directories:
        saved = Trajectory.load(directory)
        if success_only and not saved.success:
            continue
        if saved.env_id is None or saved.seed is None:
            log.warning("trajectory %s names no environment id or seed; skipped", directory)
            continue
        query = Query(env_id=saved.env_id, seed=saved.seed)
        (env,) = envs.acquire([query])
        try:
            texts = [step.text for step in saved.steps]
            record = record_texts(query, env, new_episode, processor, texts, f"trajectory:{directory}")
        finally:
            envs.release(query, env)
        if record.success != saved.success or len(record.turns) != len(saved.steps):
            log.warning("replaying %s did not end as recorded; skipped", directory)
            continue
        records.append(record)
    return records


class _PNGPickler(pickle.Pickler):
    """Pickles PIL images as PNG: a MiniWoB screenshot is 900 kB raw and ~20 kB as PNG."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Image.Image):
            buffer = io.BytesIO()
            obj.save(buffer, format="PNG", compress_level=1)
            return _png_image, (buffer.getvalue(),)
        return NotImplemented


def _png_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def save_records(path: str | Path, records: list[EpisodeRecord]) -> None:
    """Write demonstrations to a file (atomically), their images as PNG; ``load_records`` reads them back."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".tmp")
    with partial.open("wb") as file:
        _PNGPickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(records)
    partial.replace(target)


def load_records(path: str | Path) -> list[EpisodeRecord]:
    """Demonstrations written by ``save_records`` (a file of the run's own making: it is unpickled)."""
    with Path(path).open("rb") as file:
        return pickle.load(file)
