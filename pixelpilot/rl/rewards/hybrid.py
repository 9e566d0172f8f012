"""The hybrid reward: a weighted sum of components, each also reported alone.

Components run in the order given, so one that reads another's score (the tool-call bonus reads
accuracy) gets it from the same pass; the order is checked when the hybrid is built, not when the
first episode is scored. ``HybridRewardConfig`` describes the whole reward as data (for a YAML
training config); only the judge model is passed in as an object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pixelpilot.model.base import ChatModel
from pixelpilot.rl.rewards.accuracy import AccuracyConfig, AccuracyReward
from pixelpilot.rl.rewards.base import RewardComponent, RewardScore, RolloutRecord
from pixelpilot.rl.rewards.judge import ANSWER_JUDGE, REASONING_JUDGE, JudgeConfig, JudgeReward
from pixelpilot.rl.rewards.language import LanguageConfig
from pixelpilot.rl.rewards.penalties import (
    FormatConfig,
    FormatPenalty,
    LanguagePenalty,
    RepetitionConfig,
    RepetitionPenalty,
)
from pixelpilot.rl.rewards.task import TaskSuccessConfig, TaskSuccessReward
from pixelpilot.rl.rewards.tools import ToolCallConfig, ToolCallReward

ComponentKind = Literal[
    "task", "accuracy", "answer_judge", "reasoning", "tool_calls", "repetition", "language", "format"
]


class HybridReward(RewardComponent):
    """``Σ weight · score`` over the components; ``parts`` holds every component's own score."""

    def __init__(self, components: Sequence[tuple[RewardComponent, float]], *, name: str = "hybrid") -> None:
        if not components:
            raise ValueError("a hybrid reward needs at least one component")
        names: set[str] = set()
        for component, _ in components:
            if component.name in names:
                raise ValueError(f"two components are named {component.name!r}; give one another name")
            missing = [need for need in component.requires if need not in names]
            if missing:
                raise ValueError(f"{component.name!r} needs {missing} scored before it; reorder the components")
            names.add(component.name)
        self.components = list(components)
        self.name = name

    @property
    def weights(self) -> dict[str, float]:
        return {component.name: weight for component, weight in self.components}

    def score(self, record: RolloutRecord, earlier: Mapping[str, RewardScore] | None = None) -> RewardScore:
        return self.score_batch([record])[0]

    def score_batch(
        self, records: Sequence[RolloutRecord], earlier: Sequence[Mapping[str, RewardScore]] | None = None
    ) -> list[RewardScore]:
        done: list[dict[str, RewardScore]] = [{} for _ in records]
        for component, _ in self.components:
            for scores, result in zip(done, component.score_batch(records, done), strict=True):
                scores[component.name] = result
        return [self._combine(scores) for scores in done]

    def _combine(self, scores: dict[str, RewardScore]) -> RewardScore:
        total = sum(weight * scores[component.name].score for component, weight in self.components)
        parts = {name: result.score for name, result in scores.items()}
        info: dict[str, Any] = {name: {"parts": r.parts, **r.info} for name, r in scores.items()}
        return RewardScore(score=total, parts=parts, info={"weights": self.weights, **info})


class ComponentSpec(BaseModel):
    """One component of a hybrid reward as data: its kind, weight, optional name and config fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ComponentKind
    weight: float = 1.0
    name: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class HybridRewardConfig(BaseModel):
    """A whole hybrid reward as data, in scoring order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    components: list[ComponentSpec] = Field(min_length=1)


Builder = Callable[[dict[str, Any], str | None, ChatModel | None], RewardComponent]


def _judge(default: JudgeConfig, default_name: str) -> Builder:
    def build(config: dict[str, Any], name: str | None, judge: ChatModel | None) -> RewardComponent:
        if judge is None:
            raise ValueError("a judge component needs a judge model: pass judge=load_model(...)")
        return JudgeReward(judge, JudgeConfig(**{**default.model_dump(), **config}), name=name or default_name)

    return build


def _plain(component: Callable[..., RewardComponent], config_type: type[BaseModel]) -> Builder:
    def build(config: dict[str, Any], name: str | None, judge: ChatModel | None) -> RewardComponent:
        return component(config_type(**config), **({"name": name} if name else {}))

    return build


_BUILDERS: dict[str, Builder] = {
    "task": _plain(TaskSuccessReward, TaskSuccessConfig),
    "accuracy": _plain(AccuracyReward, AccuracyConfig),
    "answer_judge": _judge(ANSWER_JUDGE, "answer_judge"),
    "reasoning": _judge(REASONING_JUDGE, "reasoning"),
    "tool_calls": _plain(ToolCallReward, ToolCallConfig),
    "repetition": _plain(RepetitionPenalty, RepetitionConfig),
    "language": _plain(LanguagePenalty, LanguageConfig),
    "format": _plain(FormatPenalty, FormatConfig),
}


def build_hybrid(config: HybridRewardConfig, judge: ChatModel | None = None) -> HybridReward:
    """The hybrid reward a config describes; ``judge`` serves its judge components."""
    return HybridReward([(_BUILDERS[s.kind](s.config, s.name, judge), s.weight) for s in config.components])
