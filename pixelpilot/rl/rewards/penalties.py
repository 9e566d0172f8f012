"""Penalties (scores in [-1, 0]): repetition, a language other than the prompt's, format errors.

They read the model's own words, its thoughts and free text, never the tool-call JSON: calls
legitimately repeat (``{"name": "computer_use", "arguments": {"action": "left_click", ...``) and
hold text the task asked to type, whatever its language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from pixelpilot.agent.parser import THINK_CLOSE, THINK_OPEN, parse_response
from pixelpilot.envs.core.toolcall import TOOL_CALL_CLOSE, TOOL_CALL_OPEN
from pixelpilot.rl.rewards.base import RewardComponent, RewardScore, RolloutRecord
from pixelpilot.rl.rewards.language import LanguageConfig, compare_languages

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
"""A word, or one CJK character: those scripts put no spaces between words."""


def natural_text(response: str) -> str:
    """A turn's own words: its thought and its free text, without the tool-call blocks."""
    parsed = parse_response(response)
    return "\n".join(part for part in (parsed.thought, parsed.text) if part)


def repeated_ngram_share(text: str, n: int) -> tuple[float, int]:
    """The share of the text's word n-grams that repeat an earlier one, and how many n-grams it has."""
    tokens = _TOKEN.findall(text.casefold())
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0, 0
    return 1.0 - len(set(grams)) / len(grams), len(grams)


class RepetitionConfig(BaseModel):
    """Looping text within a turn, and turns that repeat an earlier turn word for word."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ngram: int = Field(4, ge=1)
    threshold: float = Field(0.2, ge=0.0, lt=1.0)
    """Share of repeated n-grams a normal turn may have; the penalty grows linearly from it to 1."""
    min_ngrams: int = Field(8, ge=1, description="shorter turns are too short to call repetitive")
    identical_turns: bool = True


class RepetitionPenalty(RewardComponent):
    """``−max(excess n-gram repetition of the worst turn, share of turns that repeat an earlier one)``."""

    def __init__(self, config: RepetitionConfig | None = None, *, name: str = "repetition") -> None:
        self.config = config or RepetitionConfig()
        self.name = name

    def score(self, record: RolloutRecord, earlier: Mapping[str, RewardScore] | None = None) -> RewardScore:
        config = self.config
        texts = [natural_text(response) for response in record.responses]
        if record.answer:
            texts.append(record.answer)
        worst = 0.0
        for text in texts:
            share, grams = repeated_ngram_share(text, config.ngram)
            if grams >= config.min_ngrams:
                worst = max(worst, share)
        excess = max(0.0, worst - config.threshold) / (1.0 - config.threshold)
        seen: set[str] = set()
        repeats = 0
        for response in record.responses:
            key = " ".join(response.split())
            repeats += key in seen
            seen.add(key)
        turn_share = repeats / len(record.responses) if config.identical_turns and record.responses else 0.0
        parts = {"ngram_share": worst, "repeated_turns": float(repeats)}
        return RewardScore(score=-min(1.0, max(excess, turn_share)), parts=parts)


class LanguagePenalty(RewardComponent):
    """−1 when the model's words are in another language than the prompt (see ``language``), else 0."""

    def __init__(self, config: LanguageConfig | None = None, *, name: str = "language") -> None:
        self.config = config or LanguageConfig()
        self.name = name

    def score(self, record: RolloutRecord, earlier: Mapping[str, RewardScore] | None = None) -> RewardScore:
        words = [natural_text(response) for response in record.responses]
        if record.answer:
            words.append(record.answer)
        verdict = compare_languages(record.instruction, "\n".join(words), self.config)
        return RewardScore(
            score=-1.0 if verdict.mismatch else 0.0,
            parts={"foreign_share": verdict.foreign_share},
            info=verdict.model_dump(exclude_defaults=True),
        )


class FormatConfig(BaseModel):
    """What a well-formed turn is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    require_tool_call: bool = True
    """Every turn of a pixelpilot agent acts through a tool call (terminate and answer included)."""
    think_opened_by_template: bool = False
    """Thinking checkpoints' chat templates open ``<think>`` in the prompt: a turn then only closes it."""
    tool_names: list[str] | None = None
    """Known tool names; a call to another counts as invalid. None accepts any name."""


def format_problems(response: str, config: FormatConfig) -> list[str]:
    """The format errors of one turn, by kind (empty when the turn is well-formed)."""
    problems = []
    opens, closes = response.count(THINK_OPEN), response.count(THINK_CLOSE)
    if config.think_opened_by_template:
        think_ok = opens == 0 and closes == 1
    else:
        think_ok = opens == closes <= 1 and (opens == 0 or response.find(THINK_OPEN) < response.find(THINK_CLOSE))
    if not think_ok:
        problems.append("think_tags")
    if response.count(TOOL_CALL_OPEN) != response.count(TOOL_CALL_CLOSE):
        problems.append("tool_call_tags")
    parsed = parse_response(response)
    if parsed.errors:
        problems.append("invalid_call")
    if config.tool_names is not None and any(call.name not in config.tool_names for call in parsed.calls):
        problems.append("unknown_tool")
    if config.require_tool_call and not parsed.blocks:
        problems.append("no_tool_call")
    return problems


class FormatPenalty(RewardComponent):
    """−(share of turns with a format error): unbalanced tags, calls that do not parse, no call at all."""

    def __init__(self, config: FormatConfig | None = None, *, name: str = "format") -> None:
        self.config = config or FormatConfig()
        self.name = name

    def score(self, record: RolloutRecord, earlier: Mapping[str, RewardScore] | None = None) -> RewardScore:
        if not record.responses:
            return RewardScore(score=0.0, info={"reason": "no turns"})
        per_turn = [format_problems(response, self.config) for response in record.responses]
        kinds = ("think_tags", "tool_call_tags", "invalid_call", "unknown_tool", "no_tool_call")
        parts = {kind: float(sum(kind in problems for problems in per_turn)) for kind in kinds}
        bad = sum(bool(problems) for problems in per_turn)
        return RewardScore(score=-bad / len(per_turn), parts=parts, info={"bad_turns": bad})
