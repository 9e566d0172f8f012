"""``load_model(spec)``: one string names a backend and a model, for scripts, configs and the CLI.

``hf:DIR-or-hub-id``, ``vllm:hub-id-or-DIR``, ``openai:http://HOST:PORT/v1#model-name``; a spec with
no scheme is a transformers checkpoint. Backends are imported only when named, so a machine
without vLLM can still load the others.

A local DIR may be the path a trainer prints (a checkpoint folder, whose weights are in its
``model/``) or ``run:OUTPUT_DIR``, the newest checkpoint of a training run. A path that is local
and does not exist fails at once, never as a hub download retried offline.

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

SCHEMES = ("hf", "openai", "vllm", "run")
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


def _looks_local(target: str) -> bool:
    """A path rather than a hub id (``org/name``): absolute, relative, or under a folder that exists here."""
    if target.startswith(("/", ".", "~")) or target.count("/") > 1 or "\\" in target:
        return True
    return "/" in target and Path(target.split("/", 1)[0]).is_dir()


def resolve_checkpoint(target: str) -> str:
    """The directory of the weights a local target names, or the target unchanged when it is a hub id.

    A checkpoint folder of a training run (``.../checkpoints/step-N``) holds its weights in ``model/``, and
    a run's output folder its checkpoints in ``checkpoints/``: both resolve to the weights inside.
    """
    from pixelpilot.rl.checkpoint import CHECKPOINTS, MODEL_DIR

    path = Path(target).expanduser()
    if not path.exists():
        if _looks_local(target):
            raise ModelError(f"no checkpoint at {target}")
        return target
    if _holds_model(path):
        return str(path)
    if _holds_model(path / MODEL_DIR):
        return str(path / MODEL_DIR)
    if (path / CHECKPOINTS).is_dir():
        return run_checkpoint(target)
    raise ModelError(f"no checkpoint at {target}: neither a model (config.json), a checkpoint nor a run folder")


def _holds_model(path: Path) -> bool:
    """Weights and their config, or a LoRA adapter (read merged into the base it names)."""
    from pixelpilot.model.lora import ADAPTER_CONFIG

    return (path / "config.json").exists() or (path / ADAPTER_CONFIG).exists()


def run_checkpoint(output_dir: str) -> str:
    """The weights of a training run's newest checkpoint (``run:OUTPUT_DIR``)."""
    from pixelpilot.rl.checkpoint import MODEL_DIR, latest_checkpoint

    newest = latest_checkpoint(Path(output_dir).expanduser())
    if newest is None:
        raise ModelError(f"no checkpoint in run folder {output_dir}")
    return str(newest / MODEL_DIR)


def resolve_model_path(spec: str) -> str:
    """A trainer's ``model.path`` or an ``hf:`` target: ``run:DIR``, a checkpoint, a model folder or a hub id."""
    scheme, target = parse_spec(spec)
    if scheme == "run":
        return run_checkpoint(target)
    if scheme != "hf":
        raise ModelError(f"{spec!r} is not a transformers checkpoint (use a folder, run:DIR or a hub id)")
    return resolve_checkpoint(target)


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
    if scheme in ("hf", "run"):
        from pixelpilot.model.hf import HFModel

        return HFModel(resolve_model_path(spec), **kwargs)
    if scheme == "openai":
        from pixelpilot.model.openai_http import OpenAIModel

        return OpenAIModel.from_spec(target, **kwargs)
    from pixelpilot.model.vllm_backend import VLLMModel

    return VLLMModel(resolve_checkpoint(target), **kwargs)
