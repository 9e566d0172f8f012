"""The reward interface: a rollout record goes in, a ``RewardScore`` comes out.

Every reward family (task success, answer accuracy, judges, tool calls, penalties) is a small
component that reads the same ``RolloutRecord``, so each can be tested alone and the hybrid reward
is only a weighted sum. A component may depend on one computed before it in the hybrid (the
tool-call bonus depends on the answer being right); it names it in ``requires`` and reads its
score from ``earlier`` instead of computing it a second time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from pixelpilot.envs.core.toolcall import ToolCall

if TYPE_CHECKING:
    from pixelpilot.agent.trajectory import Trajectory


class RolloutRecord(BaseModel):
    """What the rewards need to know about one episode."""

    model_config = ConfigDict(frozen=True)

    instruction: str
    """The task as the model was given it (the user's prompt text)."""
    responses: list[str] = Field(default_factory=list)
    """The model's text of every turn, in order, as it wrote it."""
    observations: list[str] = Field(default_factory=list)
    """The text of the tool/environment results after each turn (for judges of multi-turn reasoning)."""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    """Every well-formed call the model made, in order."""
    success: bool | None = None
    """The environment's verdict; None when there is none (a question-answering task)."""
    env_reward: float = 0.0
    reference: str | None = None
    """The reference answer, for tasks that have one."""
    answer: str | None = None
    """The parsed final answer (the ``answer`` action's text), if the model gave one."""
    query_id: str | None = None
    task: str | None = None
    """The task family, for per-family metrics and mixed-task sampling."""

    @classmethod
    def from_trajectory(
        cls,
        trajectory: Trajectory,
        reference: str | None = None,
        query_id: str | None = None,
        task: str | None = None,
    ) -> RolloutRecord:
        """The record of an agent's episode; the reference answer comes from the task data."""
        observations = ["\n".join(call.error or call.text for call in step.calls) for step in trajectory.steps]
        return cls(
            instruction=trajectory.instruction,
            responses=[step.text for step in trajectory.steps],
            observations=observations,
            tool_calls=[call.call for step in trajectory.steps for call in step.calls if call.call is not None],
            success=trajectory.success,
            env_reward=trajectory.reward,
            reference=reference,
            answer=trajectory.answer,
            query_id=query_id,
            task=task or trajectory.env_id,
        )


class RewardScore(BaseModel):
    """A component's verdict: the score, its named parts, and whatever explains it."""

    model_config = ConfigDict(frozen=True)

    score: float
    parts: dict[str, float] = Field(default_factory=dict)
    info: dict[str, Any] = Field(default_factory=dict)


class RewardComponent(ABC):
    """One reward family. Penalties return scores in [-1, 0]; the hybrid's weights set their strength."""

    name: str = "reward"
    requires: tuple[str, ...] = ()
    """Names of components whose scores this one reads from ``earlier``."""

    @abstractmethod
    def score(self, record: RolloutRecord, earlier: Mapping[str, RewardScore] | None = None) -> RewardScore:
        """Score one episode; ``earlier`` holds the scores of the components named in ``requires``."""

    def score_batch(
        self, records: Sequence[RolloutRecord], earlier: Sequence[Mapping[str, RewardScore]] | None = None
    ) -> list[RewardScore]:
        """Score many episodes; judges override this to send one batched request to their model."""
        earlier = earlier if earlier is not None else [{} for _ in records]
        if len(earlier) != len(records):
            raise ValueError(f"{len(earlier)} earlier-score maps for {len(records)} records")
        return [self.score(record, done) for record, done in zip(records, earlier, strict=True)]
