"""Answer accuracy by rule: exact match after normalisation, numbers within a tolerance, choice letters.

Rules are preferred over a model judge wherever they fit: they are exact, free and cannot be
talked into a high score. The answer is the model's ``answer`` action; a model that answered in
plain text instead is read from its last turn's free text, so a format slip costs the format
penalty, not the accuracy reward as well.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pixelpilot.agent.parser import parse_response
from pixelpilot.rl.rewards.base import RewardComponent, RewardScore, RolloutRecord

AccuracyMode = Literal["auto", "exact", "numeric", "choice"]

_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-+−]?)(?P<body>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:\s*/\s*(?P<den>\d+(?:\.\d+)?))?(?P<exp>[eE][-+]?\d+)?(?P<pct>\s*%)?"
)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


class AccuracyConfig(BaseModel):
    """How to compare; ``auto`` picks choice for a letter reference, numeric for a number, else exact."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: AccuracyMode = "auto"
    rel_tol: float = Field(1e-4, ge=0.0)
    abs_tol: float = Field(1e-6, ge=0.0)
    choices: str = Field("ABCDEFGHIJ", min_length=2, description="the option letters a choice answer may use")
    drop_articles: bool = True
    """Drop English articles in exact mode, as SQuAD's answer normalisation does."""
    text_fallback: bool = True
    """Read the last turn's free text when the model gave no answer action."""


def normalize_answer(text: str, drop_articles: bool = True) -> str:
    """Case, width, punctuation, articles and spacing removed: what exact match compares."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch).startswith("P") or ch in string.punctuation else ch for ch in text)
    if drop_articles:
        text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def parse_numbers(text: str) -> list[float]:
    """Every number in text, in order: ``1,234.5``, ``-3``, ``3/4``, ``2e3``, ``50%`` (as 0.5)."""
    numbers = []
    for match in _NUMBER.finditer(unicodedata.normalize("NFKC", text)):
        value = float(match["body"].replace(",", ""))
        if match["den"] is not None:
            denominator = float(match["den"])
            if denominator == 0:
                continue
            value /= denominator
        if match["exp"]:
            value *= 10.0 ** int(match["exp"][1:])
        if match["sign"] in ("-", "−"):
            value = -value
        if match["pct"]:
            value /= 100.0
        numbers.append(value)
    return numbers


def parse_number(text: str) -> float | None:
    """The number that text *is* (surrounding spaces and a final period allowed), else None."""
    stripped = unicodedata.normalize("NFKC", text).strip().rstrip(".").strip()
    match = _NUMBER.fullmatch(stripped)
    return parse_numbers(stripped)[0] if match else None


def extract_choice(text: str, choices: str = "ABCDEFGHIJ") -> str | None:
    """The option letter an answer picks: ``B``, ``(B)``, ``B. Paris``, ``the answer is B``; else None."""
    letters = re.escape(choices)
    stripped = text.strip()
    bare = stripped.strip("()[]{}*.:,;!\"' \t\n")
    if len(bare) == 1 and bare.upper() in choices:
        return bare.upper()
    lead = r"(?i:answer|option|choice)\s*(?i:is)?\s*[:：]?\s*[(\[]?\s*"
    patterns = (
        # A lower-case letter only when nothing follows it: "the answer is a dog" picks no option.
        rf"{lead}(?:([{letters}])\b|([{letters.lower()}])(?=\s*(?:[)\].,:;!]|$)))",
        rf"\(([{letters}])\)",
        rf"^\s*([{letters}])[.):：]",
    )
    for pattern in patterns:
        found = [m.group(m.lastindex) for m in re.finditer(pattern, stripped, flags=re.MULTILINE)]
        if found:
            return found[-1].upper()
    return None


def numbers_match(answer: float, reference: float, rel_tol: float, abs_tol: float) -> bool:
    return math.isclose(answer, reference, rel_tol=rel_tol, abs_tol=abs_tol)


def resolve_mode(reference: str, config: AccuracyConfig) -> AccuracyMode:
    """The comparison ``auto`` stands for, judged from the reference alone."""
    if config.mode != "auto":
        return config.mode
    bare = reference.strip().strip("()[]. ")
    if len(bare) == 1 and bare.upper() in config.choices:
        return "choice"
    if parse_number(reference) is not None:
        return "numeric"
    return "exact"


def final_answer(record: RolloutRecord, text_fallback: bool = True) -> str | None:
    """The model's answer: its answer action, else (optionally) its last turn's free text."""
    if record.answer is not None and record.answer.strip():
        return record.answer
    if text_fallback and record.responses:
        free = parse_response(record.responses[-1]).text.strip()
        return free or None
    return None


def check_answer(answer: str, reference: str, config: AccuracyConfig) -> tuple[bool, AccuracyMode]:
    """Whether the answer matches the reference, and the rule that decided it.

    Raises ValueError when the reference itself does not fit the rule (a data error, not the model's).
    """
    mode = resolve_mode(reference, config)
    if mode == "choice":
        expected = extract_choice(reference, config.choices)
        if expected is None:
            raise ValueError(f"reference {reference!r} names no option among {config.choices!r}")
        return extract_choice(answer, config.choices) == expected, mode
    if mode == "numeric":
        expected_number = parse_number(reference)
        if expected_number is None:
            raise ValueError(f"reference {reference!r} is not a number")
        found = parse_numbers(answer)
        return bool(found) and numbers_match(found[-1], expected_number, config.rel_tol, config.abs_tol), mode
    drop = config.drop_articles
    return normalize_answer(answer, drop) == normalize_answer(reference, drop), mode


class AccuracyReward(RewardComponent):
    """1 when the final answer matches the reference by rule, else 0."""

    def __init__(self, config: AccuracyConfig | None = None, *, name: str = "accuracy") -> None:
        self.config = config or AccuracyConfig()
        self.name = name

    def score(self, record: RolloutRecord, earlier: Mapping[str, RewardScore] | None = None) -> RewardScore:
        if record.reference is None:
            raise ValueError(f"record {record.query_id or record.instruction[:60]!r} has no reference answer")
        answer = final_answer(record, self.config.text_fallback)
        if answer is None:
            return RewardScore(score=0.0, parts={"answered": 0.0}, info={"reason": "no answer"})
        correct, mode = check_answer(answer, record.reference, self.config)
        return RewardScore(score=float(correct), parts={"answered": 1.0}, info={"mode": mode, "answer": answer[:200]})
