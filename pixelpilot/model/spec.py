"""``load_model(spec)``: one string names a backend and a model, for scripts, configs and the CLI.

``hf:DIR-or-hub-id``, ``vllm:hub-id-or-DIR``, ``openai:http://HOST:PORT/v1#model-name``; a spec with
no scheme is a transformers checkpoint. Backends are imported only when named, so a machine
without vLLM can still load the others.
"""

from __future__ import annotations

import re
from typing import Any

from pixelpilot.errors import ModelError
from pixelpilot.model.base import ChatModel

SCHEMES = ("hf", "openai", "vllm")
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


def load_model(spec: str, **kwargs: Any) -> ChatModel:
    """Build the backend a spec names; keyword arguments go to that backend (device, dtype, sampling...)."""
    scheme, target = parse_spec(spec)
    if scheme == "hf":
        from pixelpilot.model.hf import HFModel

        return HFModel(target, **kwargs)
    if scheme == "openai":
        from pixelpilot.model.openai_http import OpenAIModel

        return OpenAIModel.from_spec(target, **kwargs)
    from pixelpilot.model.vllm_backend import VLLMModel

    return VLLMModel(target, **kwargs)
