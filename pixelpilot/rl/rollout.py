"""Batched multi-turn rollouts: G episodes per query, one ``generate`` over every live episode per turn.

Each episode is the agent's own ``Episode`` (the same prompt, parser, tools and stopping rules as
``Agent.run``), so what RL trains is exactly what the agent runs. Every model turn is recorded as
the backend produced it: the prompt's token ids, the sampled token ids with their log-probs, and
the prompt's images; the trainer builds its sequences from these ids and never re-tokenizes text.

Sampling is seeded per ``generate`` call. With ``query_seeds`` each query's group is sampled in a
call of its own, so its episodes do not depend on which other queries share the batch (or the
rank): a run split over processes samples the very episodes a single process would.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter
from typing import Any

import gymnasium as gym
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pixelpilot.agent import Agent, Episode, Trajectory
from pixelpilot.errors import ModelError
from pixelpilot.model.base import Conversation, Generation, SamplingParams
from pixelpilot.model.images import normalize_conversation

log = logging.getLogger(__name__)

PromptEncoder = Callable[[Conversation], list[int]]
"""Token ids of a conversation's prompt, for backends that do not return them."""


def mix_seed(*parts: int | str) -> int:
    """A 63-bit seed from several parts: stable across processes and Python runs (unlike ``hash``)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class Query(BaseModel):
    """One prompt of an RL batch: an environment id and seed, or a question about a picture."""

    model_config = ConfigDict(frozen=True)

    env_id: str | None = None
    seed: int = 0
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    image: str | None = None
    """Path of the picture of an image question."""
    question: str | None = None
    answer: str | None = None
    """The reference answer: an image question's, or one handed to the rewards for an env task."""
    region: tuple[int, int, int, int] | None = None
    """Where the answer is in the picture (0-1000), for the oracle of an image question."""
    family: str | None = None
    """The task family, for mixed batches and per-family metrics."""

    @model_validator(mode="after")
    def _one_kind(self) -> Query:
        question = self.image is not None or self.question is not None
        if (self.env_id is None) == (not question):
            raise ValueError(
                "a query is either an env_id (with a seed) or an image question, not both or neither"
            )
        if question and (self.image is None or self.question is None or self.answer is None):
            raise ValueError("an image question needs image, question and answer")
        return self

    @property
    def key(self) -> str:
        """A readable identity: the same query always has the same key."""
        if self.env_id is not None:
            kwargs = ",".join(f"{k}={v}" for k, v in sorted(self.env_kwargs.items()))
            return f"{self.env_id}[{kwargs}]#{self.seed}" if kwargs else f"{self.env_id}#{self.seed}"
        return f"{self.image}?{self.question}"

    @property
    def pool_key(self) -> str | None:
        """Queries with the same pool key can share an environment instance (None: one of its own)."""
        if self.env_id is None:
            return None
        return self.key.rsplit("#", 1)[0]

    def make_env(self) -> gym.Env:
        if self.env_id is not None:
            return gym.make(self.env_id, **self.env_kwargs)
        from pixelpilot.envs.synthetic import ImageQuestion, ImageQuestionEnv

        with Image.open(Path(str(self.image))) as picture:
            image = picture.convert("RGB")
        question = ImageQuestion(
            image=image, question=str(self.question), answer=str(self.answer), region=self.region
        )
        return ImageQuestionEnv(question)


class EnvPool:
    """Environments kept between rollouts, so that browsers and desktops start once per run, not per batch.

    An instance serves one episode at a time; ``acquire`` makes a new one only when all of that
    kind are busy.
    """

    def __init__(self) -> None:
        self._idle: dict[str, list[gym.Env]] = {}
        self._closed = False

    def acquire(self, query: Query) -> gym.Env:
        if self._closed:
            raise RuntimeError("the environment pool is closed")
        idle = self._idle.get(query.pool_key, []) if query.pool_key is not None else []
        return idle.pop() if idle else query.make_env()

    def release(self, query: Query, env: gym.Env) -> None:
        if query.pool_key is None or self._closed:
            env.close()
            return
        self._idle.setdefault(query.pool_key, []).append(env)

    def close(self) -> None:
        self._closed = True
        for envs in self._idle.values():
            for env in envs:
                env.close()
        self._idle.clear()

    def __enter__(self) -> EnvPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TurnRecord(BaseModel):
    """One model turn as the backend saw and produced it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    prompt_ids: list[int]
    images: list[Image.Image] = Field(default_factory=list, exclude=True)
    """The prompt's images in the order of their placeholders."""
    token_ids: list[int]
    logprobs: list[float] = Field(default_factory=list)
    """The sampler's log-prob of each token; empty when the backend returned none (or for demonstrations)."""
    finish_reason: str = "stop"


class EpisodeRecord(BaseModel):
    """One episode of a rollout: its query, its place in the group, its turns and what happened."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    query: Query
    group: str
    """The group it belongs to (the G episodes of one draw of a query)."""
    sample: int = 0
    turns: list[TurnRecord] = Field(default_factory=list)
    trajectory: Trajectory

    @property
    def success(self) -> bool:
        return bool(self.trajectory.success)

    @property
    def generated_tokens(self) -> int:
        return sum(len(turn.token_ids) for turn in self.turns)


def _prompt_ids(
    generation: Generation, conversation: Conversation, encoder: PromptEncoder | None
) -> list[int]:
    if generation.prompt_token_ids:
        return list(generation.prompt_token_ids)
    if encoder is None:
        raise ModelError("the backend returned no prompt token ids; pass an encoder to tokenize prompts")
    return encoder(conversation)


class _Live:
    """An episode in flight: the query it plays (by position), its env and where its records go."""

    def __init__(self, index: int, record: EpisodeRecord, episode: Episode, env: gym.Env) -> None:
        self.index = index
        self.record = record
        self.episode = episode
        self.env = env


@contextmanager
def _episodes(
    agent: Agent, queries: Sequence[Query], groups: Sequence[str], group_size: int, envs: EnvPool
) -> Iterator[list[_Live]]:
    """``group_size`` reset episodes per query; their environments go back to the pool however it ends."""
    live: list[_Live] = []
    try:
        for index, (query, group) in enumerate(zip(queries, groups, strict=True)):
            for sample in range(group_size):
                env = envs.acquire(query)
                record = EpisodeRecord(query=query, group=group, sample=sample, trajectory=Trajectory())
                try:
                    episode = agent.episode(env)
                except BaseException:
                    envs.release(query, env)
                    raise
                live.append(_Live(index, record, episode, env))
                episode.reset(seed=query.seed)
        yield live
    finally:
        for item in live:
            if not item.episode.done:
                item.episode.stop("model_error", error="rollout interrupted")
            envs.release(item.record.query, item.env)


def _turn(
    agent: Agent,
    batch: list[_Live],
    sampling: SamplingParams,
    encoder: PromptEncoder | None,
) -> None:
    """One generate call over a batch of live episodes, then one step of each."""
    conversations = [item.episode.messages() for item in batch]
    started = perf_counter()
    try:
        generations = agent.model.generate(conversations, sampling)
    except ModelError as error:
        log.warning("model %s failed; ending %d episodes: %s", agent.model.name, len(batch), error)
        for item in batch:
            item.episode.stop("model_error", error=str(error))
        return
    seconds = (perf_counter() - started) / max(1, len(batch))
    for item, conversation, generation in zip(batch, conversations, generations, strict=True):
        _messages, images = normalize_conversation(conversation)
        item.record.turns.append(
            TurnRecord(
                prompt_ids=_prompt_ids(generation, conversation, encoder),
                images=images,
                token_ids=list(generation.token_ids),
                logprobs=list(generation.logprobs),
                finish_reason=generation.finish_reason,
            )
        )
        item.episode.advance(generation, model_seconds=seconds)


def collect_rollouts(
    agent: Agent,
    queries: Sequence[Query],
    group_size: int,
    envs: EnvPool,
    *,
    groups: Sequence[str] | None = None,
    sampling: SamplingParams | None = None,
    sampling_seed: int | None = None,
    query_seeds: Sequence[int] | None = None,
    encoder: PromptEncoder | None = None,
) -> list[EpisodeRecord]:
    """Play ``group_size`` episodes of every query with the agent's model; records in query order.

    ``groups`` names each query's group (default: its key; pass distinct names when a batch draws
    one query twice). Sampling is seeded by ``sampling_seed`` (one call per turn over all live
    episodes) or, with ``query_seeds``, per query group.
    """
    if group_size < 1:
        raise ValueError("group_size must be >= 1")
    groups = list(groups) if groups is not None else [query.key for query in queries]
    if len(groups) != len(queries) or (query_seeds is not None and len(query_seeds) != len(queries)):
        raise ValueError("groups and query_seeds need one entry per query")
    sampling = sampling or agent.sampling or agent.model.default_sampling
    with _episodes(agent, queries, groups, group_size, envs) as live:
        turn = 0
        while any(not item.episode.done for item in live):
            pending = [item for item in live if not item.episode.done]
            if query_seeds is None:
                seed = None if sampling_seed is None else mix_seed(sampling_seed, turn)
                _turn(agent, pending, sampling.model_copy(update={"seed": seed}), encoder)
            else:
                for index, query_seed in enumerate(query_seeds):
                    members = [item for item in pending if item.index == index]
                    if members:
                        seeded = sampling.model_copy(update={"seed": mix_seed(query_seed, turn)})
                        _turn(agent, members, seeded, encoder)
            turn += 1
        for item in live:
            item.record.trajectory = item.episode.trajectory
        return [item.record for item in live]


class EvalResult(BaseModel):
    """Success on a set of queries, one episode each."""

    episodes: int
    successes: int
    mean_reward: float
    per_family: dict[str, float] = Field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0


def evaluate(
    agent: Agent,
    queries: Iterable[Query],
    envs: EnvPool,
    *,
    sampling: SamplingParams | None = None,
    sampling_seed: int | None = 0,
) -> EvalResult:
    """Play each query once and count successes (the environment's verdict)."""
    queries = list(queries)
    records = collect_rollouts(agent, queries, 1, envs, sampling=sampling, sampling_seed=sampling_seed)
    families: dict[str, list[bool]] = {}
    for record in records:
        families.setdefault(record.query.family or record.query.env_id or "questions", []).append(
            record.success
        )
    return EvalResult(
        episodes=len(records),
        successes=sum(record.success for record in records),
        mean_reward=sum(record.trajectory.reward for record in records) / max(1, len(records)),
        per_family={family: sum(hits) / len(hits) for family, hits in families.items()},
    )
