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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter
from typing import Any, Protocol

import gymnasium as gym
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pixelpilot.agent import Agent, Episode, Trajectory
from pixelpilot.envs.actions import Action
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
            raise ValueError("a query is either an env_id (with a seed) or an image question, not both or neither")
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
        question = ImageQuestion(image=image, question=str(self.question), answer=str(self.answer), region=self.region)
        return ImageQuestionEnv(question)


class Environments(Protocol):
    """Where a rollout's environments live and how their steps are made.

    A rollout sends resets and actions for many episodes, then takes the outcomes as they arrive:
    ``EnvPool`` makes each step in place when it is sent, ``RayEnvs`` (``pixelpilot.rl.ray_envs``)
    steps environments in Ray actors, all at once.
    """

    def acquire(self, queries: Sequence[Query]) -> list[gym.Env]:
        """One environment per query, each serving one episode until released."""
        ...

    def release(self, query: Query, env: gym.Env) -> None: ...

    def send_reset(self, episode: Episode, seed: int | None) -> None: ...

    def send(self, episode: Episode, action: Action) -> None: ...

    def recv(self) -> list[tuple[Episode, Any]]:
        """Outcomes that arrived (at least one; waits for it): a reset's (observation, info), a step's
        five values, or a step's error result."""
        ...

    def close(self) -> None: ...


class EnvPool:
    """Environments in this process, kept between rollouts so that browsers and desktops start once per run.

    An instance serves one episode at a time; ``acquire`` makes a new one only when all of that
    kind are busy. Steps are made when sent; ``recv`` hands their outcomes over. ``max_idle`` caps the
    environments kept waiting (the least recently used close first): a mix of many browser tasks
    would otherwise keep a group's worth of browsers per task.
    """

    def __init__(self, max_idle: int | None = None) -> None:
        if max_idle is not None and max_idle < 0:
            raise ValueError("max_idle must be >= 0")
        self.max_idle = max_idle
        self._idle: dict[str, list[gym.Env]] = {}
        self._released: list[tuple[str, gym.Env]] = []
        """The idle environments in the order they came back: the first is the least recently used."""
        self._arrived: list[tuple[Episode, Any]] = []
        self._closed = False

    def acquire(self, queries: Sequence[Query]) -> list[gym.Env]:
        if self._closed:
            raise RuntimeError("the environment pool is closed")
        envs = []
        for query in queries:
            idle = self._idle.get(query.pool_key, []) if query.pool_key is not None else []
            if idle:
                env = idle.pop()
                self._released.remove((query.pool_key, env))
                envs.append(env)
            else:
                envs.append(query.make_env())
        return envs

    def release(self, query: Query, env: gym.Env) -> None:
        if query.pool_key is None or self._closed:
            env.close()
            return
        self._idle.setdefault(query.pool_key, []).append(env)
        self._released.append((query.pool_key, env))
        while self.max_idle is not None and len(self._released) > self.max_idle:
            key, oldest = self._released.pop(0)
            self._idle[key].remove(oldest)
            oldest.close()

    @property
    def waiting(self) -> bool:
        """Outcomes are there for ``recv``."""
        return bool(self._arrived)

    def send_reset(self, episode: Episode, seed: int | None) -> None:
        self._arrived.append((episode, episode.env.reset(seed=seed)))

    def send(self, episode: Episode, action: Action) -> None:
        self._arrived.append((episode, episode.step_env(action)))

    def recv(self) -> list[tuple[Episode, Any]]:
        if not self._arrived:
            raise RuntimeError("recv without a send before it")
        arrived, self._arrived = self._arrived, []
        return arrived

    def close(self) -> None:
        self._closed = True
        for envs in self._idle.values():
            for env in envs:
                env.close()
        self._idle.clear()
        self._released.clear()

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


def _prompt_ids(generation: Generation, conversation: Conversation, encoder: PromptEncoder | None) -> list[int]:
    if generation.prompt_token_ids:
        return list(generation.prompt_token_ids)
    if encoder is None:
        raise ModelError("the backend returned no prompt token ids; pass an encoder to tokenize prompts")
    return encoder(conversation)


class _Live:
    """An episode in flight: the query it plays (by position) and where its records go."""

    def __init__(self, index: int, record: EpisodeRecord, episode: Episode) -> None:
        self.index = index
        self.record = record
        self.episode = episode


@contextmanager
def _episodes(
    agent: Agent, queries: Sequence[Query], groups: Sequence[str], group_size: int, envs: Environments
) -> Iterator[list[_Live]]:
    """``group_size`` reset episodes per query; their environments go back to the pool however it ends."""
    plays = [(index, sample) for index in range(len(queries)) for sample in range(group_size)]
    acquired = envs.acquire([queries[index] for index, _ in plays])
    live: list[_Live] = []
    try:
        for (index, sample), env in zip(plays, acquired, strict=True):
            record = EpisodeRecord(query=queries[index], group=groups[index], sample=sample, trajectory=Trajectory())
            live.append(_Live(index, record, agent.episode(env)))
        seeds = {item.episode: item.record.query.seed for item in live}
        for episode, seed in seeds.items():
            envs.send_reset(episode, seed)
        waiting = len(seeds)
        while waiting:
            for episode, (observation, info) in envs.recv():
                waiting -= 1
                episode.start(observation, info, seed=seeds[episode])
        yield live
    finally:
        for item in live:
            if not item.episode.done:
                item.episode.stop("model_error", error="rollout interrupted")
        for (index, _), env in zip(plays, acquired, strict=True):
            envs.release(queries[index], env)


def _turn(
    agent: Agent,
    batch: list[_Live],
    sampling: SamplingParams,
    encoder: PromptEncoder | None,
    envs: Environments,
    tokens: bool = True,
) -> None:
    """One generate call over a batch of live episodes, then their environment steps, all sent at once."""
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
    stepping = 0
    for item, generation in zip(batch, generations, strict=True):
        action = item.episode.begin(generation, model_seconds=seconds)
        if action is not None:
            envs.send(item.episode, action)
            stepping += 1
    # Recorded while remote environments step: encoding a prompt can take as long as a step.
    for item, conversation, generation in zip(batch, conversations, generations, strict=True):
        _messages, images = normalize_conversation(conversation)
        item.record.turns.append(
            TurnRecord(
                prompt_ids=_prompt_ids(generation, conversation, encoder) if tokens else [],
                images=images,
                token_ids=list(generation.token_ids),
                logprobs=list(generation.logprobs),
                finish_reason=generation.finish_reason,
            )
        )
    while stepping:
        for episode, outcome in envs.recv():
            stepping -= 1
            action = episode.resume(outcome)
            if action is not None:
                envs.send(episode, action)
                stepping += 1


def collect_rollouts(
    agent: Agent,
    queries: Sequence[Query],
    group_size: int,
    envs: Environments,
    *,
    groups: Sequence[str] | None = None,
    sampling: SamplingParams | None = None,
    sampling_seed: int | None = None,
    query_seeds: Sequence[int] | None = None,
    encoder: PromptEncoder | None = None,
    tokens: bool = True,
) -> list[EpisodeRecord]:
    """Play ``group_size`` episodes of every query with the agent's model; records in query order.

    ``groups`` names each query's group (default: its key; pass distinct names when a batch draws
    one query twice). Sampling is seeded by ``sampling_seed`` (one call per turn over all live
    episodes) or, with ``query_seeds``, per query group. ``tokens=False`` records no prompt ids
    (evaluation needs the outcomes only, and a backend such as random clicks has no tokenizer).
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
                _turn(agent, pending, sampling.model_copy(update={"seed": seed}), encoder, envs, tokens)
            else:
                for index, query_seed in enumerate(query_seeds):
                    members = [item for item in pending if item.index == index]
                    if members:
                        seeded = sampling.model_copy(update={"seed": mix_seed(query_seed, turn)})
                        _turn(agent, members, seeded, encoder, envs, tokens)
            turn += 1
        for item in live:
            item.record.trajectory = item.episode.trajectory
        return [item.record for item in live]
