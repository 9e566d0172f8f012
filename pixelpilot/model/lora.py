"""LoRA adapters through ``peft``: added for training, saved alone, merged back for everything else.

A Qwen3-VL-2B/8B full fine-tune does not fit where most researchers work; low-rank adapters on the
language model's projections (TRL's ``peft_config``, verl's ``lora_rank``) train a fraction of a percent
of the weights. The adapted module stays the one the trainer already drives: peft injects its layers
in place, so ``TokenLogprobs``, DDP and the in-process sampler see the same object, and the reference
policy of the KL penalty is that object with its adapters switched off (no second copy).

An adapter checkpoint is a folder with ``adapter_config.json`` (naming its base) beside the processor.
``load_pretrained`` reads it as the merged model, so every consumer of a checkpoint (``load_model``,
``pixelpilot export``/``merge``, the ``model.path`` of the next stage) takes either kind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from pixelpilot.errors import ModelError

ADAPTER_CONFIG = "adapter_config.json"
LANGUAGE_MODEL = r"model\.language_model\.layers\.\d+\.(?:self_attn|mlp)"
VISION_MERGER = r"model\.visual\.(?:merger|deepstack_merger_list\.\d+)"
MERGER_LAYERS = ("linear_fc1", "linear_fc2")


def is_adapter(path: str | Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).exists()


def adapter_base(path: str | Path) -> str:
    """The base checkpoint an adapter was trained on, as recorded in its config."""
    config = json.loads((Path(path) / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path")
    if not base:
        raise ModelError(f"the adapter at {path} does not name its base model")
    return str(base)


def target_pattern(target_modules: Sequence[str], vision_merger: bool) -> str:
    """A peft ``target_modules`` regex: the named projections of the LM's layers (and the merger's linears).

    A bare name list would also match the vision tower's ``qkv``/``proj`` or ``mlp`` layers where the
    names coincide; the pattern keeps the adapters on the parts asked for.
    """
    names = "|".join(sorted(set(target_modules)))
    pattern = rf"{LANGUAGE_MODEL}\.(?:{names})"
    if vision_merger:
        pattern += rf"|{VISION_MERGER}\.(?:{'|'.join(MERGER_LAYERS)})"
    return rf"^(?:{pattern})$"


def add_adapters(
    model: Any,
    base: str,
    *,
    r: int,
    alpha: float,
    dropout: float,
    target_modules: Sequence[str],
    vision_merger: bool,
) -> Any:
    """Inject fresh LoRA layers into ``model`` (in place) and freeze everything else; returns the PeftModel."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_pattern(target_modules, vision_merger),
        base_model_name_or_path=_absolute(base),
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise ModelError(f"cannot add LoRA adapters: {exc}") from exc


def load_adapters(model: Any, path: str | Path, *, trainable: bool) -> Any:
    """Put a saved adapter onto ``model`` (in place); trainable to resume training it."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(path), is_trainable=trainable)


def load_pretrained(path: str, **kwargs: Any) -> Any:
    """A checkpoint's model; an adapter checkpoint comes back merged into its base (read the same way)."""
    from transformers import AutoModelForImageTextToText

    if not is_adapter(path):
        return AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    base = load_pretrained(adapter_base(path), **kwargs)
    return load_adapters(base, path, trainable=False).merge_and_unload()


def trainable_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trained, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total


def merged_state(adapted: Any) -> dict[str, torch.Tensor]:
    """The weights with the adapters folded in, named as the plain model's (to sync a separate engine).

    Each adapted layer's weight is computed out of place (base + its delta): merging into the module and
    unmerging after would leave the base weights a rounding error off at every sync.
    """
    from peft.tuners.lora import LoraLayer

    inner = adapted.get_base_model()
    state = {
        name.replace(".base_layer.", "."): tensor.detach().clone()
        for name, tensor in inner.state_dict().items()
        if "lora_" not in name
    }
    with torch.no_grad():
        for name, module in inner.named_modules():
            if isinstance(module, LoraLayer):
                delta = sum(module.get_delta_weight(active) for active in module.active_adapters)
                state[f"{name}.weight"] = module.get_base_layer().weight.detach() + delta
    return state


def _absolute(path: str) -> str:
    """A local base is recorded by absolute path, so the adapter loads from any working directory."""
    local = Path(path).expanduser()
    return str(local.resolve()) if local.exists() else path
