"""The hybrid reward and its components: task success, accuracy, judges, tool calls and penalties."""

from pixelpilot.rl.rewards.accuracy import AccuracyConfig, AccuracyReward, check_answer, extract_choice
from pixelpilot.rl.rewards.base import RewardComponent, RewardScore, RolloutRecord
from pixelpilot.rl.rewards.hybrid import ComponentSpec, HybridReward, HybridRewardConfig, build_hybrid
from pixelpilot.rl.rewards.judge import (
    ANSWER_JUDGE,
    REASONING_JUDGE,
    JudgeConfig,
    JudgeReward,
    answer_judge,
    parse_judge_score,
    reasoning_judge,
)
from pixelpilot.rl.rewards.language import LanguageConfig, LanguageVerdict, compare_languages
from pixelpilot.rl.rewards.penalties import (
    FormatConfig,
    FormatPenalty,
    LanguagePenalty,
    RepetitionConfig,
    RepetitionPenalty,
)
from pixelpilot.rl.rewards.task import TaskSuccessConfig, TaskSuccessReward
from pixelpilot.rl.rewards.tools import ToolCallConfig, ToolCallReward

__all__ = [
    "ANSWER_JUDGE",
    "REASONING_JUDGE",
    "AccuracyConfig",
    "AccuracyReward",
    "ComponentSpec",
    "FormatConfig",
    "FormatPenalty",
    "HybridReward",
    "HybridRewardConfig",
    "JudgeConfig",
    "JudgeReward",
    "LanguageConfig",
    "LanguagePenalty",
    "LanguageVerdict",
    "RepetitionConfig",
    "RepetitionPenalty",
    "RewardComponent",
    "RewardScore",
    "RolloutRecord",
    "TaskSuccessConfig",
    "TaskSuccessReward",
    "ToolCallConfig",
    "ToolCallReward",
    "answer_judge",
    "build_hybrid",
    "check_answer",
    "compare_languages",
    "extract_choice",
    "parse_judge_score",
    "reasoning_judge",
]
