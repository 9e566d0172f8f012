"""pixelpilot: agents that see a screen and act on it, built around Qwen3-VL.

Importing the package registers its gymnasium environment ids (``pixelpilot/...``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixelpilot.envs.core.registry import register_envs

__version__ = "0.1.0"
register_envs()

if TYPE_CHECKING:
    from pixelpilot.agent import Agent
    from pixelpilot.model import load_model

__all__ = ["Agent", "__version__", "load_model"]


def __getattr__(name: str) -> Any:
    # Agent and load_model pull in torch/transformers; import them only when asked for.
    if name == "Agent":
        from pixelpilot.agent import Agent

        return Agent
    if name == "load_model":
        from pixelpilot.model import load_model

        return load_model
    raise AttributeError(f"module 'pixelpilot' has no attribute {name!r}")
