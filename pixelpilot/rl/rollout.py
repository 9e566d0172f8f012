"""Batched multi-turn rollouts: G episodes per query, one ``generate`` over every live episode per turn.

Each episode is the agent's own ``Episode`` (the same prompt, parser, tools and stopping rules as
``Agent.run``), so what RL trains is exactly what the agent runs. Every model turn is recorded as
the backend produced it: the prompt's token ids, the sampled token ids with their log-probs, and
the prompt's images; the trainer builds its sequences from these ids and never re-tokenizes text.

Two drivers. ``sync`` plays turn by turn: one ``generate`` over every live episode, then it waits
for all their environment steps. ``async`` drives each episode on its own: whenever outcomes
arrive, the episodes they finish a turn of join the next ``generate`` over whatever is ready,
while the others are still stepping, so a slow environment holds up its own episodes only.

Sampling is seeded per ``generate`` call. In ``sync`` mode, with ``query_seeds`` each query's group
is sampled in a call of its own, so its episodes do not depend on which other queries share the
batch (or the rank): a run split over processes samples the very episodes a single process would.
In ``async`` mode a call's seed comes from who is in it (each member's query seed, sample and turn):
the same episodes batched the same way sample the same tokens, and an ``EnvPool`` (whose steps are
done when sent) always batches the same way; with environments that step concurrently (threads,
Ray), which episodes share a call follows the order outcomes arrive in, so a rerun can differ.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter
from typing import Any, Literal, Protocol

import gymnasium as gym
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pixelpilot.agent import Agent, Episode, Trajectory
from pixelpilot.envs.core.actions import Action
from pixelpilot.errors import ModelError
from pixelpilot.model.base import Conversation, Generation, SamplingParams
from pixelpilot.model.images import normalize_conversation

log = logging.getLogger(__name__)

PromptEncoder = Callable[[Conversation], list[int]]
"""Token ids of a conversation's prompt, for backends that do not return them."""
RolloutMode = Literal["sync", "async"]


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
    ``EnvPool`` makes each step in place when it is sent, ``ThreadEnvs`` (``pixelpilot.rl.thread_envs``)
    steps each environment on a thread of its own and ``RayEnvs`` (``pixelpilot.rl.ray_envs``) in Ray
    actors, all at once.
    """

    def acquire(self, queries: Sequence[Query]) -> list[gym.Env]:
        """One environment per query, each serving one episode until released."""
        ...

    def release(self, query: Query, env: gym.Env) -> None: ...

    def send_reset(self, episode: Episode, seed: int | None) -> None: ...

    def send(self, episode: Episode, action: Action) -> None: ...

    def recv(self, timeout: float | None = None) -> list[tuple[Episode, Any]]:
        """Outcomes that arrived: a reset's (observation, info), a step's five values, or a step's error
        result. Waits for at least one, or at most ``timeout`` seconds (then the list may be empty)."""
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
                envs.append(self._make(query))
        return envs

    def _make(self, query: Query) -> gym.Env:
        return query.make_env()

    def _dispose(self, env: gym.Env) -> None:
        env.close()

    def release(self, query: Query, env: gym.Env) -> None:
        if query.pool_key is None or self._closed:
            self._dispose(env)
            return
        self._idle.setdefault(query.pool_key, []).append(env)
        self._released.append((query.pool_key, env))
        while self.max_idle is not None and len(self._released) > self.max_idle:
            key, oldest = self._released.pop(0)
            self._idle[key].remove(oldest)
            self._dispose(oldest)

    @property
    def waiting(self) -> bool:
        """Outcomes are there for ``recv``."""
        return bool(self._arrived)

    def send_reset(self, episode: Episode, seed: int | None) -> None:
        self._arrived.append((episode, episode.env.reset(seed=seed)))

    def send(self, episode: Episode, action: Action) -> None:
        self._arrived.append((episode, episode.step_env(action)))

    def recv(self, timeout: float | None = None) -> list[tuple[Episode, Any]]:
        if not self._arrived and timeout is None:
            raise RuntimeError("recv without a send before it")
        arrived, self._arrived = self._arrived, []
        return arrived

    def close(self) -> None:
        self._closed = True
        for envs in self._idle.values():
            for env in envs:
                self._dispose(env)
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
    policy_version: int | None = None
    """The trainer step whose weights sampled the turn (0: the starting weights); None outside RL."""
    batch_size: int = 1
    """Sequences in the ``generate`` call that sampled it: how well a driver batches."""


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


class _Flight:
    """A rollout's live episodes and the environment calls they wait on: resets, then each turn's steps."""

    def __init__(self, live: list[_Live], envs: Environments) -> None:
        self.live = live
        self.envs = envs
        self._items = {item.episode: item for item in live}
        self._starting = set(self._items)
        for item in live:
            envs.send_reset(item.episode, item.record.query.seed)

    @property
    def waiting(self) -> bool:
        """Some reset or step is in flight."""
        return bool(self._starting) or any(item.episode.stepping for item in self.live)

    def deliver(self, timeout: float | None = None) -> list[_Live]:
        """Hand the outcomes that arrived to their episodes; returns those now ready for a model turn.

        A reset starts its episode; a step's outcome goes to the turn that waits for it, whose next action
        is sent at once. ``timeout`` as for ``Environments.recv`` (0: only what is there).
        """
        ready = []
        for episode, outcome in self.envs.recv(timeout):
            item = self._items[episode]
            if episode in self._starting:
                self._starting.remove(episode)
                observation, info = outcome
                episode.start(observation, info, seed=item.record.query.seed)
                ready.append(item)
            elif (action := episode.resume(outcome)) is not None:
                self.envs.send(episode, action)
            elif not episode.done:
                ready.append(item)
        return ready


@contextmanager
def _episodes(
    agent: Agent, queries: Sequence[Query], groups: Sequence[str], group_size: int, envs: Environments
) -> Iterator[_Flight]:
    """``group_size`` episodes per query, their resets sent; environments go back to the pool however it ends."""
    plays = [(index, sample) for index in range(len(queries)) for sample in range(group_size)]
    acquired = envs.acquire([queries[index] for index, _ in plays])
    live: list[_Live] = []
    try:
        for (index, sample), env in zip(plays, acquired, strict=True):
            record = EpisodeRecord(query=queries[index], group=groups[index], sample=sample, trajectory=Trajectory())
            live.append(_Live(index, record, agent.episode(env)))
        yield _Flight(live, envs)
    finally:
        for item in live:
            if not item.episode.done:
                item.episode.stop("model_error", error="rollout interrupted")
        for (index, _), env in zip(plays, acquired, strict=True):
            envs.release(queries[index], env)


def _generate(
    agent: Agent,
    batch: list[_Live],
    sampling: SamplingParams,
    encoder: PromptEncoder | None,
    envs: Environments,
    tokens: bool,
    version: int | None,
) -> None:
    """One generate call over a batch of live episodes; each turn's first action is sent at once.

    A model error ends the batch's episodes; a turn without an action ends at once (the episode is then
    ready for its next turn, or done).
    """
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
    for item, generation in zip(batch, generations, strict=True):
        action = item.episode.begin(generation, model_seconds=seconds)
        if action is not None:
            envs.send(item.episode, action)
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
                policy_version=version,
                batch_size=len(batch),
            )
        )


def _play_in_turns(
    flight: _Flight,
    sampling: SamplingParams,
    sampling_seed: int | None,
    query_seeds: Sequence[int] | None,
    generate: Callable[[list[_Live], SamplingParams], None],
) -> None:
    """The ``sync`` driver: every reset first; then each turn, one generate over every live episode (or one
    per query group with ``query_seeds``) and every environment step of the turn before the next."""
    while flight.waiting:
        flight.deliver()

    def turn(batch: list[_Live], seeded: SamplingParams) -> None:
        generate(batch, seeded)
        while flight.waiting:
            flight.deliver()

    number = 0
    while any(not item.episode.done for item in flight.live):
        pending = [item for item in flight.live if not item.episode.done]
        if query_seeds is None:
            seed = None if sampling_seed is None else mix_seed(sampling_seed, number)
            turn(pending, sampling.model_copy(update={"seed": seed}))
        else:
            for index, query_seed in enumerate(query_seeds):
                members = [item for item in pending if item.index == index]
                if members:
                    turn(members, sampling.model_copy(update={"seed": mix_seed(query_seed, number)}))
        number += 1


def _batch_seed(batch: Sequence[_Live], seeds: Sequence[int] | None) -> int | None:
    """An ``async`` generate call's seed: a function of its members (query seed, sample, turn) alone, not of
    when the call happens or what else is in flight."""
    if seeds is None:
        return None
    return mix_seed(*sorted((seeds[item.index], item.record.sample, len(item.record.turns)) for item in batch))


def _play_per_episode(
    flight: _Flight,
    sampling: SamplingParams,
    seeds: Sequence[int] | None,
    generate: Callable[[list[_Live], SamplingParams], None],
) -> None:
    """The ``async`` driver: generate over the episodes that are ready while the others reset or step.

    Outcomes are taken without waiting while some episode is ready, and waited for only when none is; the
    episodes they make ready join the next call. An episode is never in two calls at once.
    """
    ready: list[_Live] = []
    while ready or flight.waiting:
        if flight.waiting:
            ready += flight.deliver(timeout=0.0 if ready else None)
        if ready:
            generate(ready, sampling.model_copy(update={"seed": _batch_seed(ready, seeds)}))
            ready = [item for item in ready if not item.episode.done and not item.episode.stepping]


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
    mode: RolloutMode = "sync",
    policy_version: int | None = None,
) -> list[EpisodeRecord]:
    """Play ``group_size`` episodes of every query with the agent's model; records in query order.

    ``groups`` names each query's group (default: its key; pass distinct names when a batch draws
    one query twice). Sampling is seeded by ``sampling_seed`` or, with ``query_seeds``, per query
    group (see the module's docstring for each ``mode``). ``tokens=False`` records no prompt ids
    (evaluation needs the outcomes only, and a backend such as random clicks has no tokenizer).
    ``policy_version`` tags every turn with the weights that sampled it.
    """
    if group_size < 1:
        raise ValueError("group_size must be >= 1")
    if mode not in ("sync", "async"):
        raise ValueError(f"mode is sync or async, not {mode!r}")
    groups = list(groups) if groups is not None else [query.key for query in queries]
    if len(groups) != len(queries) or (query_seeds is not None and len(query_seeds) != len(queries)):
        raise ValueError("groups and query_seeds need one entry per query")
    sampling = sampling or agent.sampling or agent.model.default_sampling

    def generate(batch: list[_Live], seeded: SamplingParams) -> None:
        _generate(agent, batch, seeded, encoder, envs, tokens, policy_version)

    with _episodes(agent, queries, groups, group_size, envs) as flight:
        if mode == "async":
            seeds = query_seeds
            if seeds is None and sampling_seed is not None:
                seeds = [mix_seed(sampling_seed, index) for index in range(len(queries))]
            _play_per_episode(flight, sampling, seeds, generate)
        else:
            _play_in_turns(flight, sampling, sampling_seed, query_seeds, generate)
        for item in flight.live:
            item.record.trajectory = item.episode.trajectory
        return [item.record for item in flight.live]
