"""The one interface every model backend implements, and its data objects.

RL trains on exactly the tokens that were sampled, so a backend returns, per response, the
generated token ids and their log-probs beside the text, never only the text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Message = dict[str, Any]
"""``{"role": ..., "content": [{"type": "text", "text": ...} | {"type": "image", "image": PIL.Image}]}``."""

Conversation = list[Message]

PROMPT_STYLE_KEY = "pixelpilot_prompt_style"
"""The generation-config entry naming the prompt style a checkpoint was trained on. The generation config
travels with the weights through every ``save_pretrained`` (trainer checkpoints, export), as greedy decoding does."""


def checkpoint_prompt_style(generation_config: Any) -> str | None:
    """The prompt style a checkpoint's generation config names, or None for a checkpoint that names none."""
    return getattr(generation_config, PROMPT_STYLE_KEY, None)


class SamplingParams(BaseModel):
    """Sampling settings; ``for_model`` gives the Qwen3-VL report's per-model defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(1.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(40, ge=0, description="0 disables top-k")
    presence_penalty: float = 0.0
    max_new_tokens: int = Field(1024, ge=1)
    seed: int | None = None

    @classmethod
    def for_model(cls, name: str, **overrides: Any) -> SamplingParams:
        """Section 5.11 of the report: Instruct large / small, Thinking MoE / dense."""
        lowered = name.lower()
        thinking = "thinking" in lowered
        moe = "-a3b" in lowered or "-a22b" in lowered or "moe" in lowered
        large = moe or any(size in lowered for size in ("235b", "32b", "30b"))
        if thinking and moe:
            values: dict[str, Any] = {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "presence_penalty": 0.0}
        elif thinking:
            values = {"temperature": 1.0, "top_p": 0.95, "top_k": 20, "presence_penalty": 1.5}
        elif large:
            values = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "presence_penalty": 1.5}
        else:
            values = {"temperature": 1.0, "top_p": 1.0, "top_k": 40, "presence_penalty": 2.0}
        return cls(**{**values, **overrides})


class Generation(BaseModel):
    """One sampled response."""

    text: str
    token_ids: list[int]
    logprobs: list[float]
    prompt_token_ids: list[int] | None = None
    finish_reason: str = "stop"


class ChatModel(ABC):
    """A chat model that samples a batch of conversations at once."""

    name: str = "model"
    default_sampling: SamplingParams = SamplingParams()
    prompt_style: str | None = None
    """The prompt style the checkpoint was trained on (``pixelpilot`` for pixelpilot-nano), which an Agent
    uses unless told otherwise; None: the checkpoint expects Qwen's own prompt."""

    @abstractmethod
    def generate(self, conversations: list[Conversation], sampling: SamplingParams | None = None) -> list[Generation]:
        """One Generation per conversation, in order; raises ModelError when the backend fails."""

    def chat(self, conversation: Conversation, sampling: SamplingParams | None = None) -> Generation:
        return self.generate([conversation], sampling)[0]

    def close(self) -> None:  # noqa: B027 - optional hook; most backends hold nothing to release
        """Release what the backend holds (servers, GPU memory)."""
