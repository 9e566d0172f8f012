"""Success on held-out seeds: the one evaluation path of ``pixelpilot eval`` and of the trainers' ``eval`` section.

Every (task, seed) is one episode, sampled with a seed drawn from the episode's own identity, one
generate call per episode: an episode's result does not depend on which other episodes ran beside
it, so one worker and eight give the same results, and a resumed evaluation plays exactly the
episodes it had not finished. Success rates come with Wilson 95% intervals: at 20 or 100 episodes
a rate alone says little.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from pixelpilot.agent import Agent
from pixelpilot.model.base import SamplingParams
from pixelpilot.rl.rollout import Environments, EpisodeRecord, Query, collect_rollouts, mix_seed

Z_95 = 1.959963984540054


class EpisodeResult(BaseModel):
    """One evaluated episode: a line of ``results.jsonl``."""

    task: str
    seed: int
    success: bool
    reward: float
    steps: int
    end_reason: str | None
    seconds: float
    trajectory: str | None = None
    """Its saved trajectory's directory, relative to the evaluation's output directory."""

    @property
    def key(self) -> tuple[str, int]:
        return self.task, self.seed


class TaskSummary(BaseModel):
    """Success on one task (or, as ``overall``, on all of them)."""

    task: str
    episodes: int
    successes: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_steps: float
    mean_seconds: float


class EvalResult(BaseModel):
    """Success on a set of queries, one episode each."""

    episodes: int
    successes: int
    mean_reward: float
    per_family: dict[str, float] = Field(default_factory=dict)
    results: list[EpisodeResult] = Field(default_factory=list)

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0


def wilson_interval(successes: int, episodes: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a success rate: sound at 0%, 100% and small counts, unlike p ± z·se."""
    if episodes <= 0:
        return 0.0, 1.0
    rate = successes / episodes
    scale = 1.0 + z * z / episodes
    centre = (rate + z * z / (2 * episodes)) / scale
    half = z * math.sqrt(rate * (1 - rate) / episodes + z * z / (4 * episodes * episodes)) / scale
    return max(0.0, centre - half), min(1.0, centre + half)


def summarize(results: Iterable[EpisodeResult]) -> list[TaskSummary]:
    """One summary per task in first-seen order, then ``overall`` over every episode."""
    by_task: dict[str, list[EpisodeResult]] = {}
    everything: list[EpisodeResult] = []
    for result in results:
        by_task.setdefault(result.task, []).append(result)
        everything.append(result)
    groups = [*by_task.items(), ("overall", everything)] if everything else []
    summaries = []
    for task, members in groups:
        successes = sum(r.success for r in members)
        low, high = wilson_interval(successes, len(members))
        summaries.append(
            TaskSummary(
                task=task,
                episodes=len(members),
                successes=successes,
                success_rate=successes / len(members),
                ci_low=low,
                ci_high=high,
                mean_steps=sum(r.steps for r in members) / len(members),
                mean_seconds=sum(r.seconds for r in members) / len(members),
            )
        )
    return summaries


def task_name(query: Query) -> str:
    """The short name a result carries: ``click-button`` for ``pixelpilot/miniwob-click-button-v0``."""
    if query.family and query.family != query.env_id:
        return query.family
    name = (query.env_id or "questions").split("/")[-1]
    name = name.removesuffix("-v0")
    for prefix in ("miniwob-", "desktop-", "android-", "synthetic-"):
        name = name.removeprefix(prefix)
    return name


def episode_result(record: EpisodeRecord, trajectory_dir: str | None = None) -> EpisodeResult:
    trajectory = record.trajectory
    seconds = sum(step.timings.get("step", 0.0) + step.timings.get("model", 0.0) for step in trajectory.steps)
    return EpisodeResult(
        task=task_name(record.query),
        seed=record.query.seed,
        success=record.success,
        reward=trajectory.reward,
        steps=len(trajectory.steps),
        end_reason=trajectory.end_reason,
        seconds=round(seconds, 4),
        trajectory=trajectory_dir,
    )


def evaluate(
    agent: Agent,
    queries: Iterable[Query],
    envs: Environments,
    *,
    sampling: SamplingParams | None = None,
    sampling_seed: int = 0,
    batch_size: int | None = None,
    out_dir: str | Path | None = None,
    on_episode: Callable[[EpisodeResult], None] | None = None,
) -> EvalResult:
    """Play each query once and count successes (the environment's verdict).

    ``batch_size`` episodes are in flight at once (all of them when None), each with a live
    environment, so a long list of browser tasks is best played a few at a time. Each episode
    samples with ``mix_seed(sampling_seed, query.key)`` in its own generate call. With ``out_dir``
    each trajectory and its HTML report are saved under ``episodes/<task>/seed-<seed>/``;
    ``on_episode`` hears of every result as its batch ends.
    """
    if batch_size is not None and batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    queries = list(queries)
    size = batch_size or max(1, len(queries))
    records: list[EpisodeRecord] = []
    results: list[EpisodeResult] = []
    for start in range(0, len(queries), size):
        batch = queries[start : start + size]
        seeds = [mix_seed(sampling_seed, query.key) for query in batch]
        played = collect_rollouts(agent, batch, 1, envs, sampling=sampling, query_seeds=seeds, tokens=False)
        for record in played:
            directory = None
            if out_dir is not None:
                directory = f"episodes/{task_name(record.query)}/seed-{record.query.seed}"
                saved = record.trajectory.save(Path(out_dir) / directory)
                record.trajectory.to_html(saved / "report.html")
            result = episode_result(record, directory)
            results.append(result)
            if on_episode is not None:
                on_episode(result)
        records += played
    families: dict[str, list[bool]] = {}
    for record in records:
        families.setdefault(record.query.family or record.query.env_id or "questions", []).append(record.success)
    return EvalResult(
        episodes=len(records),
        successes=sum(record.success for record in records),
        mean_reward=sum(record.trajectory.reward for record in records) / max(1, len(records)),
        per_family={family: sum(hits) / len(hits) for family, hits in families.items()},
        results=results,
    )
