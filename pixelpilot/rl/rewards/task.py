"""Task success as the environment judged it: the reward for tasks whose success code can check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pixelpilot.rl.rewards.base import RewardComponent, RewardScore, RolloutRecord


class TaskSuccessConfig(BaseModel):
    """``success`` gives 1/0 from the environment's verdict; ``env_reward`` passes its shaped reward on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["success", "env_reward"] = "success"
    success_value: float = 1.0
    failure_value: float = 0.0


class TaskSuccessReward(RewardComponent):
    """The environment's own verdict; an episode the environment never judged counts as a failure."""

    def __init__(self, config: TaskSuccessConfig | None = None, *, name: str = "task") -> None:
        self.config = config or TaskSuccessConfig()
        self.name = name

    def score(self, record: RolloutRecord, earlier: Mapping[str, RewardScore] | None = None) -> RewardScore:
        solved = bool(record.success)
        parts = {"success": float(solved), "env_reward": record.env_reward}
        if self.config.source == "env_reward":
            return RewardScore(score=record.env_reward, parts=parts)
        value = self.config.success_value if solved else self.config.failure_value
        return RewardScore(score=value, parts=parts, info={"judged": record.success is not None})
