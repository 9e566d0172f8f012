"""Checkpoints and backends: transformers (in process), vLLM (in process), OpenAI-compatible HTTP.

``load_model("hf:DIR")``, ``load_model("vllm:Qwen/Qwen3-VL-8B-Instruct")`` and
``load_model("openai:http://127.0.0.1:8000/v1#model")`` all return a ``ChatModel``. Backends and the
tiny-checkpoint builder are imported only when used, so importing the interface pulls in no
torch and no engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixelpilot.model.base import ChatModel, Conversation, Generation, Message, SamplingParams
from pixelpilot.model.spec import load_model

if TYPE_CHECKING:
    from pixelpilot.model.tiny import build_tiny_checkpoint

__all__ = [
    "ChatModel",
    "Conversation",
    "Generation",
    "Message",
    "SamplingParams",
    "build_tiny_checkpoint",
    "load_model",
]


def __getattr__(name: str) -> Any:
    if name == "build_tiny_checkpoint":
        from pixelpilot.model.tiny import build_tiny_checkpoint

        return build_tiny_checkpoint
    raise AttributeError(f"module 'pixelpilot.model' has no attribute {name!r}")
