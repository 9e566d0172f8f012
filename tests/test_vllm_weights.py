"""What the vLLM backend sends to ``load_weights``, checked without vLLM: layout and chunking.

vLLM reads weights as Qwen's checkpoints store them. Whether the converted state dict is such a
checkpoint is judged by transformers' own reader: saved as ``model.safetensors`` and loaded with
``from_pretrained``, it must give back the model it came from.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModelForImageTextToText

from pixelpilot.errors import ModelError
from pixelpilot.model import build_tiny_checkpoint
from pixelpilot.model.vllm_backend import checkpoint_layout, weight_chunks


@pytest.fixture(scope="module")
def moe_config(tmp_path_factory: pytest.TempPathFactory):
    """The tiny MoE config with experts whose layouts cannot be mistaken for one another (2 * 48 != 64)."""
    config = AutoConfig.from_pretrained(build_tiny_checkpoint(tmp_path_factory.mktemp("moe"), moe=True))
    config.text_config.moe_intermediate_size = 48
    return config


def reload_as_checkpoint(state: dict[str, torch.Tensor], config, directory: Path) -> dict[str, torch.Tensor]:
    directory.mkdir()
    config.save_pretrained(directory)
    save_file({k: v.contiguous() for k, v in state.items()}, str(directory / "model.safetensors"), {"format": "pt"})
    return AutoModelForImageTextToText.from_pretrained(directory, dtype=torch.float32).state_dict()


def test_moe_experts_go_out_in_qwens_checkpoint_layout(moe_config, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_config(moe_config)
    state = model.state_dict()
    converted = checkpoint_layout(state, moe_config)
    gate_up = next(name for name in state if name.endswith("mlp.experts.gate_up_proj"))
    down = next(name for name in state if name.endswith("mlp.experts.down_proj"))
    assert tuple(state[gate_up].shape) == (4, 96, 64) and tuple(converted[gate_up].shape) == (4, 64, 96)
    assert tuple(state[down].shape) == (4, 64, 48) and tuple(converted[down].shape) == (4, 48, 64)
    reloaded = reload_as_checkpoint(converted, moe_config, tmp_path / "converted")
    assert reloaded.keys() == state.keys()
    assert all(torch.equal(reloaded[name], state[name]) for name in state)
    # Sent unconverted, the checkpoint reader would take the experts for something else.
    with pytest.raises(ModelError, match="gate_up_proj"):
        checkpoint_layout(converted, moe_config)


def test_dense_weights_go_out_unchanged(tiny_checkpoint: Path) -> None:
    model = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint, dtype=torch.float32)
    state = model.state_dict()
    converted = checkpoint_layout(state, model.config)
    assert converted.keys() == state.keys() and all(converted[k] is state[k] for k in state)


def test_weights_go_in_bounded_chunks() -> None:
    weights = {f"w{i}": torch.zeros(size, dtype=torch.float32) for i, size in enumerate([10, 20, 5, 100, 1, 1])}
    chunks = list(weight_chunks(weights, max_bytes=30 * 4))
    assert [[name for name, _ in chunk] for chunk in chunks] == [["w0", "w1"], ["w2"], ["w3"], ["w4", "w5"]]
    sent = [tensor for chunk in chunks for _, tensor in chunk]
    assert len(sent) == len(weights) and all(a is b for a, b in zip(sent, weights.values(), strict=True))
