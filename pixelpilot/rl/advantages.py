"""Group-relative advantages: each episode's reward against the other episodes of its query.

The group of G responses to one query is its own baseline, so no value network is needed. The
advantage is per episode; every generated token of the episode gets the same value.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch
from pydantic import BaseModel, ConfigDict, Field


class AdvantageConfig(BaseModel):
    """GRPO's z-score by default; ``normalize_std=False`` is Dr. GRPO's mean-centring only.

    Dividing by the group's std up-weights queries whose rewards barely differ (nearly always
    solved or nearly never), which Dr. GRPO identifies as a difficulty bias.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    normalize_std: bool = True
    eps: float = Field(1e-6, gt=0.0, description="added to the std so that a near-uniform group stays finite")
    unbiased_std: bool = True
    """Bessel-corrected std, as TRL and verl compute it."""


def group_advantages(
    rewards: Sequence[float] | torch.Tensor,
    group_ids: Sequence[Hashable],
    config: AdvantageConfig | None = None,
) -> torch.Tensor:
    """One advantage per episode, ``(r − mean_g) / (std_g + eps)`` within each query's group.

    A group of one, or one whose rewards are all equal, carries no signal and gets 0.
    """
    config = config or AdvantageConfig()
    values = torch.as_tensor(rewards, dtype=torch.float64).flatten()
    if values.shape[0] != len(group_ids):
        raise ValueError(f"{values.shape[0]} rewards but {len(group_ids)} group ids")
    if not torch.isfinite(values).all():
        raise ValueError("rewards must be finite")
    members: dict[Hashable, list[int]] = {}
    for index, group in enumerate(group_ids):
        members.setdefault(group, []).append(index)
    advantages = torch.zeros_like(values)
    for indices in members.values():
        if len(indices) < 2:
            continue
        index = torch.tensor(indices)
        group = values[index]
        centred = group - group.mean()
        if config.normalize_std:
            centred = centred / (group.std(correction=1 if config.unbiased_std else 0) + config.eps)
        advantages[index] = centred
    return advantages.float()


def token_advantages(advantages: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Spread per-episode advantages ``(batch,)`` over the generated tokens ``(batch, tokens)``."""
    if advantages.dim() != 1 or loss_mask.dim() != 2 or advantages.shape[0] != loss_mask.shape[0]:
        raise ValueError(
            f"advantages {tuple(advantages.shape)} and loss_mask {tuple(loss_mask.shape)}"
            " are not (batch,) and (batch, tokens)"
        )
    return advantages[:, None] * loss_mask.to(advantages.dtype)
