"""``load_model(spec)``: one string names a backend and a model, for scripts, configs and the CLI.

``hf:DIR-or-hub-id``, ``vllm:hub-id-or-DIR``, ``openai:http://HOST:PORT/v1#model-name``; a spec with
no scheme is a transformers checkpoint. Backends are imported only when named, so a machine
without vLLM can still load the others.

Two names need no path: ``nano`` is pixelpilot-nano, the small Qwen3-VL shipped inside the package
(trained by ``scripts/train_nano.sh``), and ``random`` is the seeded random-click policy, the chance
level of a task.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from pixelpilot.errors import ModelError
from pixelpilot.model.base import ChatModel

SCHEMES = ("hf", "openai", "vllm")
NANO_PACKAGE_DIR = "checkpoints/nano"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9_+.-]*):(?!//)")


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``scheme:target``; a bare path or hub id means ``hf``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ModelError("a model spec must be a non-empty string such as 'hf:/path/to/checkpoint'")
    spec = spec.strip()
    match = _SCHEME.match(spec)
    if match is None:
        return "hf", spec
    scheme, target = match.group(1).lower(), spec[match.end() :]
    if scheme not in SCHEMES:
        raise ModelError(f"unknown model backend {scheme!r} in {spec!r}: use one of {', '.join(SCHEMES)}")
    if not target:
        raise ModelError(f"model spec {spec!r} names no model")
    return scheme, target


def nano_checkpoint() -> Path:
    """The directory of the pixelpilot-nano checkpoint shipped with the package."""
    path = Path(str(resources.files("pixelpilot.model").joinpath(NANO_PACKAGE_DIR)))
    if not (path / "config.json").exists():
        raise ModelError(f"pixelpilot-nano is not in this installation ({path}); run scripts/train_nano.sh")
    return path


def load_model(spec: str, **kwargs: Any) -> ChatModel:
    """Build the backend a spec names; keyword arguments go to that backend (device, dtype, sampling...)."""
    name = spec.strip() if isinstance(spec, str) else spec
    if name == "random":
        from pixelpilot.model.random_click import RandomClickModel

        return RandomClickModel(**kwargs)
    if name == "nano":
        spec = f"hf:{nano_checkpoint()}"
    scheme, target = parse_spec(spec)
    if scheme == "hf":
        from pixelpilot.model.hf import HFModel

        return HFModel(target, **kwargs)
    if scheme == "openai":
        from pixelpilot.model.openai_http import OpenAIModel

        return OpenAIModel.from_spec(target, **kwargs)
    from pixelpilot.model.vllm_backend import VLLMModel

    return VLLMModel(target, **kwargs)
