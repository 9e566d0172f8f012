"""Does a response stay in the prompt's language? Writing systems first, a statistical model second.

Agent turns are short ("Click the OK button.") and statistical identifiers are unreliable on
short text: py3langid calls "Done" Italian and "Нажмите кнопку" Bulgarian. But the code-switching
the report penalises is mostly a change of writing system (a Chinese prompt answered in English,
Chinese sentences inside an English answer), and Unicode tells the writing system of every letter
exactly. So the writing system decides first; py3langid (its model ships inside the wheel, so it
works offline, and it is deterministic) only separates languages that share an alphabet (English
vs French), and only when both texts are long enough and it is confident, else it abstains: a
wrong penalty teaches the model more harm than a missed one.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_IDEOGRAPHIC = frozenset({"Han", "Kana", "Hangul"})
"""Systems whose characters are counted one by one: they write words without spaces between them."""
_NAME_PREFIXES = {
    "CJK": "Han",
    "HIRAGANA": "Kana",
    "KATAKANA": "Kana",
    "HANGUL": "Hangul",
    "LATIN": "Latin",
    "CYRILLIC": "Cyrillic",
    "GREEK": "Greek",
    "ARABIC": "Arabic",
    "HEBREW": "Hebrew",
    "DEVANAGARI": "Devanagari",
    "THAI": "Thai",
}
_URL = re.compile(r"https?://\S+|www\.\S+")
JAPANESE_KANA_SHARE = 0.1
"""Text in which kana make up this share of the Han+kana characters is Japanese, not Chinese."""


class LanguageConfig(BaseModel):
    """When a response counts as being in another language than its prompt."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_foreign_share: float = Field(0.3, ge=0.0, le=1.0)
    """Largest share of the response's words written in another writing system than the prompt's."""
    statistical: bool = True
    """Use py3langid to tell apart languages that share the prompt's writing system."""
    statistical_systems: list[str] = ["Latin", "Cyrillic", "Arabic"]
    min_words: int = Field(4, ge=1, description="shorter texts are not given to the statistical model")
    min_confidence: float = Field(0.8, gt=0.0, le=1.0)


class LanguageVerdict(BaseModel):
    """Why a response was (or was not) found to be in another language."""

    model_config = ConfigDict(frozen=True)

    mismatch: bool
    prompt_system: str | None = None
    response_system: str | None = None
    foreign_share: float = 0.0
    prompt_language: str | None = None
    response_language: str | None = None
    reason: str = ""


def _system_of(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    return _NAME_PREFIXES.get(name.split(" ", 1)[0], name.split(" ", 1)[0] or None)


def writing_systems(text: str) -> Counter[str]:
    """Words per writing system (characters for Han, kana, Hangul); Han with enough kana is 'Japanese'."""
    units: Counter[str] = Counter()
    previous: str | None = None
    for ch in unicodedata.normalize("NFKC", _URL.sub(" ", text)):
        if unicodedata.category(ch).startswith("M"):
            continue  # a combining mark (Devanagari vowel signs) belongs to the letter before it
        system = _system_of(ch)
        if system is not None and (system in _IDEOGRAPHIC or system != previous):
            units[system] += 1
        previous = system
    ideographic = units["Han"] + units["Kana"]
    if units["Kana"] and units["Kana"] >= JAPANESE_KANA_SHARE * ideographic:
        units["Japanese"] = ideographic
        del units["Han"], units["Kana"]
    return +units


def dominant_system(units: Counter[str]) -> str | None:
    return units.most_common(1)[0][0] if units else None


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def identify_language(text: str, min_words: int = 4, min_confidence: float = 0.8) -> str | None:
    """ISO 639 code of text's language when py3langid is confident on enough words, else None."""
    if len(re.findall(r"[^\W\d_]+", text)) < min_words:
        return None
    language, confidence = _identifier().classify(text)
    return str(language) if confidence >= min_confidence else None


def compare_languages(prompt: str, response: str, config: LanguageConfig | None = None) -> LanguageVerdict:
    """Judge whether the response is written in another language than the prompt."""
    config = config or LanguageConfig()
    prompt_units, response_units = writing_systems(prompt), writing_systems(response)
    prompt_system, response_system = dominant_system(prompt_units), dominant_system(response_units)
    if prompt_system is None or response_system is None:
        return LanguageVerdict(mismatch=False, reason="no letters to compare")
    total = sum(response_units.values())
    foreign = (total - response_units[prompt_system]) / total
    verdict = {"prompt_system": prompt_system, "response_system": response_system, "foreign_share": foreign}
    if foreign > config.max_foreign_share:
        return LanguageVerdict(mismatch=True, reason="another writing system", **verdict)
    if not config.statistical or prompt_system not in config.statistical_systems:
        return LanguageVerdict(mismatch=False, reason="same writing system", **verdict)
    prompt_language = identify_language(prompt, config.min_words, config.min_confidence)
    response_language = identify_language(response, config.min_words, config.min_confidence)
    languages = {"prompt_language": prompt_language, "response_language": response_language}
    if prompt_language is None or response_language is None:
        return LanguageVerdict(mismatch=False, reason="too short or unsure to tell", **verdict, **languages)
    mismatch = prompt_language != response_language
    return LanguageVerdict(
        mismatch=mismatch, reason="another language" if mismatch else "same language", **verdict, **languages
    )
