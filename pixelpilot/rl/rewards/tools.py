"""The tool-calling reward: the number of tool calls against a target.

Without it, "thinking with images" collapses to a single zoom-in call (or none) once the answer
reward alone is learnt; with a bonus for every call, the model spams calls. Scoring the distance
to a target penalises both. The DeepEyes form only pays the bonus when the answer is also right,
so calling a tool can never be worth more than answering correctly.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from pixelpilot.envs.core.toolcall import ToolCall
from pixelpilot.rl.rewards.base import RewardComponent, RewardScore, RolloutRecord

FINAL_ACTIONS = ("answer", "terminate")


class ToolCallConfig(BaseModel):
    """``bonus − step_penalty · max(0, |calls − target| − tolerance)``, floored at ``floor``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: int = Field(1, ge=0)
    tolerance: int = Field(0, ge=0, description="calls this far from the target still earn the full bonus")
    step_penalty: float = Field(0.5, ge=0.0, description="score lost per call beyond the tolerance")
    bonus: float = 1.0
    floor: float = 0.0
    penalize_excess: bool = True
    """False: only too few calls cost anything (DeepEyes: at least one call)."""
    require_correct: bool = True
    """Score 0 unless the answer is right (the correctness component, else the environment's success)."""
    correct_from: str | None = "accuracy"
    """The component whose score says the answer is right; None uses the record's ``success``."""
    correct_threshold: float = 0.5
    tools: list[str] | None = None
    """Names of the tools that count; None counts every tool."""
    exclude_actions: list[str] = list(FINAL_ACTIONS)
    """GUI actions that end the episode are not tool use."""

    @classmethod
    def deepeyes(cls, **overrides: object) -> ToolCallConfig:
        """DeepEyes's reward: 1 when the answer is right and at least one tool was called, else 0."""
        values: dict[str, object] = {"target": 1, "step_penalty": 1.0, "penalize_excess": False}
        return cls(**{**values, **overrides})


def count_calls(calls: list[ToolCall], config: ToolCallConfig) -> int:
    """The calls that count as tool use under the config."""
    counted = 0
    for call in calls:
        if config.tools is not None and call.name not in config.tools:
            continue
        if call.arguments.get("action") in config.exclude_actions:
            continue
        counted += 1
    return counted


def count_score(calls: int, config: ToolCallConfig) -> float:
    """The score of a number of calls, before the correctness gate."""
    distance = calls - config.target
    if distance > 0 and not config.penalize_excess:
        distance = 0
    beyond = max(0, abs(distance) - config.tolerance)
    return max(config.floor, config.bonus - config.step_penalty * beyond)


class ToolCallReward(RewardComponent):
    """The count-against-target score, paid only for correct answers when ``require_correct``."""

    def __init__(self, config: ToolCallConfig | None = None, *, name: str = "tool_calls") -> None:
        self.config = config or ToolCallConfig()
        self.name = name
        gated = self.config.require_correct and self.config.correct_from is not None
        self.requires = (self.config.correct_from,) if gated else ()

    def _correct(self, record: RolloutRecord, earlier: Mapping[str, RewardScore]) -> bool:
        source = self.config.correct_from
        if source is None:
            return bool(record.success)
        if source not in earlier:
            raise ValueError(f"{self.name!r} needs the score of {source!r}; put it before this component in the hybrid")
        return earlier[source].score >= self.config.correct_threshold

    def score(self, record: RolloutRecord, earlier: Mapping[str, RewardScore] | None = None) -> RewardScore:
        calls = count_calls(record.tool_calls, self.config)
        value = count_score(calls, self.config)
        parts = {"calls": float(calls), "count_score": value}
        if self.config.require_correct and not self._correct(record, earlier or {}):
            return RewardScore(score=0.0, parts=parts, info={"reason": "answer not correct"})
        return RewardScore(score=value, parts=parts)
