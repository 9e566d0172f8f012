"""Model judges: answer accuracy where no rule fits, and the quality of multi-turn reasoning.

Any ``ChatModel`` judges (the report uses Qwen3-32B for answers and Qwen2.5-VL-72B for
reasoning). A judge's reply is untrusted text like any model output: the score is read from it by
a parser that tries the forms judges actually write, and a reply with no readable score gets the
configured fallback instead of an exception, so one rambling judge reply cannot stop a training
step. All records of a batch go to the judge in one ``generate`` call.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pixelpilot.agent.parser import THINK_CLOSE, THINK_OPEN, valid_unicode
from pixelpilot.model.base import ChatModel, Conversation, SamplingParams
from pixelpilot.rl.rewards.accuracy import final_answer
from pixelpilot.rl.rewards.base import RewardComponent, RewardScore, RolloutRecord

TEMPLATE_FIELDS = frozenset({"instruction", "reference", "answer", "transcript", "tool_calls"})

ANSWER_TEMPLATE = """Grade a model's answer against the reference answer.

Question: {instruction}
Reference answer: {reference}
Model answer: {answer}

The model answer is correct when it means the same as the reference answer; wording, case and \
formatting do not matter, a different or incomplete answer is wrong.
Reply with the single line "Score: 1" if the model answer is correct, or "Score: 0" if it is not."""

REASONING_TEMPLATE = """Rate the reasoning of an agent that worked on a task over several turns.

Task: {instruction}

Transcript (the agent's turns and the results of its tool calls):
{transcript}

Judge the process, not only the outcome: does each step follow from what the agent saw, does it \
use the tool results, does it avoid needless or repeated actions, is its final answer supported?
End your reply with the line "Score: N", N an integer from 0 (incoherent) to 10 (sound throughout)."""

_NUM = r"([-+]?\d+(?:\.\d+)?)"
_SCORE_PATTERNS = (
    re.compile(r"\\boxed\{\s*" + _NUM + r"\s*\}"),
    re.compile(r"<score>\s*" + _NUM + r"\s*</score>", re.IGNORECASE),
    re.compile(r"[\"']score[\"']\s*:\s*[\"']?" + _NUM, re.IGNORECASE),
    re.compile(
        r"\b(?:score|rating|grade)\b\s*(?:is|of|=|:)?\s*(?:is\s*)?" + _NUM + r"(?:\s*(?:/|out of)\s*" + _NUM + r")?",
        re.IGNORECASE,
    ),
    re.compile(_NUM + r"\s*(?:/|out of)\s*" + _NUM, re.IGNORECASE),
)
_VERDICT_LINE = re.compile(r"^(?:(?:final\s+)?(?:verdict|judgement|judgment|answer)\s*:?\s*)?([a-z]+)$")
_POSITIVE = frozenset({"correct", "right", "yes", "true"})
_NEGATIVE = frozenset({"incorrect", "wrong", "no", "false"})


def _conclusion(text: str) -> str | None:
    """The part of a judge's reply that may hold its verdict: after its thinking, if it thought."""
    text = unicodedata.normalize("NFKC", valid_unicode(text)).replace("*", "")
    if THINK_CLOSE in text:
        return text.rsplit(THINK_CLOSE, 1)[1]
    if THINK_OPEN in text:
        return None  # cut off while thinking: any number in there is a draft, not a verdict
    return text


def parse_judge_score(text: str, low: float = 0.0, high: float = 10.0) -> float | None:
    """The score a judge gave on the ``[low, high]`` scale, or None when its reply states none.

    Reads, in order of how explicit they are (the last occurrence of the first form found wins,
    since judges restate and revise): ``\\boxed{N}``, ``<score>N</score>``, JSON ``"score": N``,
    ``Score: N`` / ``Rating: N/10``, ``N/10`` or ``N out of 10``, a reply that is only a number,
    and a last line that is only a verdict word (``Correct`` → high, ``Incorrect`` → low). ``N/D``
    is rescaled to the range; a value outside it is no score.
    """
    conclusion = _conclusion(text)
    if conclusion is None:
        return None
    value: float | None = None
    for pattern in _SCORE_PATTERNS:
        matches = list(pattern.finditer(conclusion))
        if matches:
            number, *rest = matches[-1].groups()
            value = float(number)
            denominator = rest[0] if rest else None
            if denominator is not None:
                if float(denominator) <= 0:
                    return None
                value = low + value / float(denominator) * (high - low)
            break
    if value is None:
        value = _bare_value(conclusion, low, high)
    if value is None or not low <= value <= high:
        return None
    return value


def _bare_value(conclusion: str, low: float, high: float) -> float | None:
    """A reply that is only a number, or whose last line is only a verdict word."""
    stripped = conclusion.strip().strip(string.punctuation + " \n")
    if re.fullmatch(_NUM, stripped):
        return float(stripped)
    lines = [line.strip() for line in conclusion.strip().splitlines() if line.strip()]
    if not lines:
        return None
    last = lines[-1].lower().strip(string.punctuation + " ")
    match = _VERDICT_LINE.match(last)
    if match is None:
        return None
    word = match.group(1)
    if word in _POSITIVE:
        return high
    if word in _NEGATIVE:
        return low
    return None


class JudgeConfig(BaseModel):
    """A judge prompt and how to read and scale its reply.

    ``template`` is a ``str.format`` template over ``TEMPLATE_FIELDS`` (double literal braces);
    the parsed score on ``[low, high]`` is rescaled to [0, 1]; ``fallback`` (on that [0, 1]
    scale) is the score of a reply without a readable score.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    template: str
    system: str | None = "You are a strict, impartial grader."
    low: float = 0.0
    high: float = 1.0
    fallback: float = Field(0.0, ge=0.0, le=1.0)
    requires_answer: bool = False
    """Skip the judge (score 0) when the model gave no answer: nothing to grade, no call spent."""
    max_chars: int = Field(4000, ge=100, description="each field (answer, each turn) is cut to this many characters")
    sampling: SamplingParams = SamplingParams(temperature=0.0, max_new_tokens=512)

    @field_validator("template")
    @classmethod
    def _known_fields(cls, template: str) -> str:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        except ValueError as error:
            raise ValueError(f"judge template is not a valid format string: {error}") from error
        unknown = names - TEMPLATE_FIELDS
        if unknown:
            raise ValueError(f"judge template uses unknown fields {sorted(unknown)}; known: {sorted(TEMPLATE_FIELDS)}")
        return template

    @model_validator(mode="after")
    def _range(self) -> JudgeConfig:
        if self.high <= self.low:
            raise ValueError(f"judge score range [{self.low}, {self.high}] is empty")
        return self


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 15] + " …[truncated]"


def transcript(record: RolloutRecord, max_chars: int = 4000) -> str:
    """The turns of an episode as a judge reads them: each response, then what its calls returned."""
    lines = []
    for index, response in enumerate(record.responses, start=1):
        lines.append(f"[Turn {index}] Agent:\n{_cut(response.strip(), max_chars)}")
        if index <= len(record.observations) and record.observations[index - 1].strip():
            lines.append(f"[Turn {index}] Result:\n{_cut(record.observations[index - 1].strip(), max_chars)}")
    return "\n\n".join(lines) if lines else "(the agent produced no turns)"


def render_prompt(record: RolloutRecord, config: JudgeConfig) -> str:
    answer = final_answer(record)
    fields = {
        "instruction": _cut(record.instruction, config.max_chars),
        "reference": _cut(record.reference, config.max_chars) if record.reference is not None else "(none given)",
        "answer": _cut(answer, config.max_chars) if answer else "(no answer)",
        "transcript": transcript(record, config.max_chars),
        "tool_calls": str(len(record.tool_calls)),
    }
    return config.template.format(**fields)


class JudgeReward(RewardComponent):
    """A score in [0, 1] read from a judge model's reply to a templated prompt."""

    def __init__(self, model: ChatModel, config: JudgeConfig, *, name: str = "judge") -> None:
        self.model = model
        self.config = config
        self.name = name

    def conversation(self, record: RolloutRecord) -> Conversation:
        messages: Conversation = []
        if self.config.system:
            messages.append({"role": "system", "content": [{"type": "text", "text": self.config.system}]})
        messages.append({"role": "user", "content": [{"type": "text", "text": render_prompt(record, self.config)}]})
        return messages

    def score(self, record: RolloutRecord, earlier: Mapping[str, RewardScore] | None = None) -> RewardScore:
        return self.score_batch([record])[0]

    def score_batch(
        self, records: Sequence[RolloutRecord], earlier: Sequence[Mapping[str, RewardScore]] | None = None
    ) -> list[RewardScore]:
        asked = [i for i, r in enumerate(records) if not (self.config.requires_answer and final_answer(r) is None)]
        replies = (
            self.model.generate([self.conversation(records[i]) for i in asked], self.config.sampling) if asked else []
        )
        results = [RewardScore(score=0.0, parts={"parsed": 0.0}, info={"reason": "no answer"}) for _ in records]
        for index, reply in zip(asked, replies, strict=True):
            results[index] = self._read(reply.text)
        return results

    def _read(self, text: str) -> RewardScore:
        config = self.config
        raw = parse_judge_score(text, config.low, config.high)
        info = {"judge_text": valid_unicode(text)[:500], "raw_score": raw}
        if raw is None:
            return RewardScore(score=config.fallback, parts={"parsed": 0.0}, info={**info, "reason": "no score"})
        return RewardScore(score=(raw - config.low) / (config.high - config.low), parts={"parsed": 1.0}, info=info)


ANSWER_JUDGE = JudgeConfig(template=ANSWER_TEMPLATE, low=0.0, high=1.0, requires_answer=True)
REASONING_JUDGE = JudgeConfig(template=REASONING_TEMPLATE, low=0.0, high=10.0)


def answer_judge(model: ChatModel, config: JudgeConfig | None = None, *, name: str = "answer_judge") -> JudgeReward:
    """Answer accuracy by a model, for answers no rule can check (free-form, paraphrases); 0/1 scale."""
    return JudgeReward(model, config or ANSWER_JUDGE, name=name)


def reasoning_judge(model: ChatModel, config: JudgeConfig | None = None, *, name: str = "reasoning") -> JudgeReward:
    """Multi-turn reasoning quality by a model reading the whole transcript; 0–10 scale rescaled to [0, 1]."""
    return JudgeReward(model, config or REASONING_JUDGE, name=name)
