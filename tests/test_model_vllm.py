"""The vLLM backend on the tiny Qwen3-VL (needs vLLM and a GPU; skipped where vLLM is not importable)."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from pixelpilot.errors import ModelError
from pixelpilot.model import SamplingParams, load_model

pytestmark = pytest.mark.vllm

vllm = pytest.importorskip("vllm", reason="vLLM is not installed (pip install pixelpilot[vllm])")


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    checkpoint = tiny_checkpoint
    backend = load_model(
        f"vllm:{checkpoint}", gpu_memory_utilization=0.2, max_model_len=4096, enforce_eager=True, dtype="float32"
    )
    yield backend
    backend.close()


def conversation(color: tuple[int, int, int]) -> list[dict]:
    image = Image.new("RGB", (320, 200), (240, 240, 240))
    image.paste(color, (40, 40, 160, 120))
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "Click it."}]},
    ]


def test_batch_with_images_returns_ids_and_logprobs(model):
    sampling = SamplingParams(temperature=1.0, top_k=0, max_new_tokens=16, seed=3)
    first = model.generate([conversation((200, 0, 0)), conversation((0, 0, 200))], sampling)
    again = model.generate([conversation((200, 0, 0)), conversation((0, 0, 200))], sampling)
    assert [g.token_ids for g in first] == [g.token_ids for g in again]
    for generation in first:
        assert 1 <= len(generation.token_ids) == len(generation.logprobs) <= 16
        assert all(math.isfinite(lp) and lp <= 0 for lp in generation.logprobs)
        assert generation.prompt_token_ids and generation.finish_reason in ("stop", "length")
    # The prompt is the hf backend's text: same chat template, same image placeholder expansion.
    image_token = model.processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert first[0].prompt_token_ids.count(image_token) == 60  # 320x192 px in 32 px merged patches


def test_load_weights_keeps_sampling_reproducible(model):
    import torch
    from safetensors.torch import load_file

    checkpoint = model.name
    sampling = SamplingParams(temperature=1.0, top_k=0, max_new_tokens=8, seed=11)
    before = model.generate([conversation((0, 200, 0))], sampling)
    weights = {name: tensor.to(torch.float32) for name, tensor in load_file(f"{checkpoint}/model.safetensors").items()}
    model.load_weights(weights)
    assert model.generate([conversation((0, 200, 0))], sampling)[0].token_ids == before[0].token_ids


def test_bad_conversation_is_a_model_error(model):
    with pytest.raises(ModelError):
        model.generate([[]])
