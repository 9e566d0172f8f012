"""Tool-integrated RL: rollouts, rewards, losses, SFT and RL trainers."""

from pixelpilot.rl.advantages import AdvantageConfig, group_advantages, token_advantages
from pixelpilot.rl.filtering import (
    FilterConfig,
    FilterResult,
    MixedTaskConfig,
    MixedTaskSampler,
    TaskDraw,
    filter_queries,
    keep_query,
    pass_rate,
)
from pixelpilot.rl.losses import (
    PolicyLossConfig,
    aggregate,
    grpo_objective,
    kl_k3,
    policy_loss,
    sapo_objective,
    sft_loss,
    tis_weights,
)

__all__ = [
    "AdvantageConfig",
    "FilterConfig",
    "FilterResult",
    "MixedTaskConfig",
    "MixedTaskSampler",
    "PolicyLossConfig",
    "TaskDraw",
    "aggregate",
    "filter_queries",
    "group_advantages",
    "grpo_objective",
    "keep_query",
    "kl_k3",
    "pass_rate",
    "policy_loss",
    "sapo_objective",
    "sft_loss",
    "tis_weights",
    "token_advantages",
]
