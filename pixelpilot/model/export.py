"""Shipping a trained checkpoint: the model in half precision beside its processor, nothing of the run.

A training checkpoint holds optimizer state and float32 weights (or a LoRA adapter); a shipped one
holds what ``load_model`` needs. bfloat16 halves the files (pixelpilot-nano travels inside the package) and
loads back to float32 on a CPU without loss beyond the rounding itself.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pixelpilot.errors import ModelError


def export_checkpoint(src: str | Path, dst: str | Path, *, dtype: str = "bfloat16", greedy: bool = False) -> Path:
    """Write ``src``'s model (cast to ``dtype``) and processor to ``dst``, a plain Qwen3-VL checkpoint.

    ``src`` is anything ``hf:`` takes locally (a model, checkpoint or run folder); a LoRA adapter is
    merged into its base on the way (``pixelpilot merge``).

    ``greedy`` makes greedy decoding the checkpoint's default (its generation config).
    """
    from transformers import AutoProcessor

    from pixelpilot.model.lora import load_pretrained
    from pixelpilot.model.spec import resolve_checkpoint

    out = Path(dst)
    weights = resolve_checkpoint(str(src))
    try:
        processor = AutoProcessor.from_pretrained(weights)
        model = load_pretrained(weights, dtype=getattr(torch, dtype))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot export {src}: {exc}") from exc
    if greedy:
        config = model.generation_config
        for field in ("temperature", "top_p", "top_k"):
            setattr(config, field, None)
        config.do_sample = False
        config.max_new_tokens = config.max_new_tokens or 256
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
