"""The vLLM backend on the tiny Qwen3-VL (needs vLLM and a GPU; skipped where vLLM is not importable).

Weights are synced as the RL trainer sends them (``HFModel.model.state_dict()``), and the log-probs
vLLM returns are compared with the trainer's own recompute (``TokenLogprobs``).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from PIL import Image
from support import biased_head

from pixelpilot.errors import ModelError
from pixelpilot.model import SamplingParams, build_tiny_checkpoint, load_model
from pixelpilot.model.hf import HFModel
from pixelpilot.rl.policy import TokenLogprobs, collate
from pixelpilot.rl.sequences import TrainingSequence

pytestmark = pytest.mark.vllm

vllm = pytest.importorskip("vllm", reason="vLLM is not installed (pip install pixelpilot[vllm])")

ENGINE = {"gpu_memory_utilization": 0.2, "max_model_len": 4096, "enforce_eager": True, "dtype": "float32"}
PLAIN = SamplingParams(temperature=1.0, top_p=1.0, top_k=0, presence_penalty=0.0, max_new_tokens=16)


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    backend = load_model(f"vllm:{tiny_checkpoint}", weight_sync=True, **ENGINE)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def reference(tiny_checkpoint):
    """The same checkpoint in transformers: the trainer's side of a weight sync."""
    backend = HFModel(str(tiny_checkpoint))
    yield backend
    backend.close()


def conversation(color: tuple[int, int, int]) -> list[dict]:
    image = Image.new("RGB", (320, 200), (240, 240, 240))
    image.paste(color, (40, 40, 160, 120))
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "Click it."}]},
    ]


def trainer_logprobs(reference: HFModel, conversations, generations, temperature: float) -> list[torch.Tensor]:
    """Each generation's log-probs as the RL trainer recomputes them from the ids vLLM sampled."""
    sequences = [
        TrainingSequence(
            input_ids=g.prompt_token_ids + g.token_ids,
            loss_mask=[0] * len(g.prompt_token_ids) + [1] * len(g.token_ids),
            logprobs=[0.0] * len(g.prompt_token_ids) + g.logprobs,
            images=reference.render(c)[1],
        )
        for c, g in zip(conversations, generations, strict=True)
    ]
    batch = collate(
        sequences, reference.processor.image_processor, reference.pad_token_id, reference.model.config.image_token_id
    )
    with torch.no_grad():
        logprobs, _ = TokenLogprobs(reference.model, temperature)(**batch.model_inputs)
    return [row[mask] for row, mask in zip(logprobs, batch.loss_mask.bool(), strict=True)]


def test_batch_with_images_returns_ids_and_logprobs(model):
    sampling = PLAIN.model_copy(update={"seed": 3})
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


def test_logprobs_are_the_trainers_recompute(model, reference):
    conversations = [conversation((200, 0, 0)), conversation((0, 200, 0))]
    generations = model.generate(conversations, PLAIN.model_copy(update={"seed": 5, "temperature": 0.8}))
    expected = trainer_logprobs(reference, conversations, generations, 0.8)
    for generation, row in zip(generations, expected, strict=True):
        torch.testing.assert_close(torch.tensor(generation.logprobs), row, atol=1e-3, rtol=0)


def test_synced_weights_are_sampled_and_placeholders_never_are(model, reference):
    conversations = [conversation((0, 200, 0))] * 3
    sampling = PLAIN.model_copy(update={"seed": 11, "temperature": 1.5, "max_new_tokens": 24})
    original = {name: tensor.clone() for name, tensor in reference.model.state_dict().items()}
    pushed = biased_head(reference)
    before = model.generate(conversations, sampling)
    model.load_weights(pushed)
    try:
        biased = model.generate(conversations, sampling)
        greedy = model.generate(conversations[:1], SamplingParams(temperature=0.0, max_new_tokens=8))
    finally:
        model.load_weights(original)
    assert [g.token_ids for g in biased] != [g.token_ids for g in before]
    for generation in [*biased, *greedy]:
        assert generation.token_ids and not set(model.suppressed_token_ids).intersection(generation.token_ids)
    # The trainer, holding the same weights, scores the masked distribution vLLM sampled from.
    reference.load_weights(pushed)
    try:
        expected = trainer_logprobs(reference, conversations, biased, 1.5)
    finally:
        reference.load_weights(original)
    for generation, row in zip(biased, expected, strict=True):
        torch.testing.assert_close(torch.tensor(generation.logprobs), row, atol=1e-3, rtol=0)
    # Restored weights (and dropped caches) sample exactly as before the sync.
    assert [g.token_ids for g in model.generate(conversations, sampling)] == [g.token_ids for g in before]


def test_moe_weights_sync_in_vllms_layout(tmp_path: Path):
    """vLLM transposes fused experts as it reads them; synced from transformers they must still match it."""
    checkpoint = build_tiny_checkpoint(tmp_path / "moe", moe=True)
    reference = HFModel(str(checkpoint))
    engine = load_model(f"vllm:{checkpoint}", weight_sync=True, **ENGINE)
    try:
        engine.load_weights(reference.model.state_dict())
        conversations = [conversation((0, 0, 200))]
        generations = engine.generate(conversations, PLAIN.model_copy(update={"seed": 2}))
        (expected,) = trainer_logprobs(reference, conversations, generations, 1.0)
        torch.testing.assert_close(torch.tensor(generations[0].logprobs), expected, atol=1e-3, rtol=0)
    finally:
        engine.close()
        reference.close()


def test_bad_requests_are_model_errors(model):
    with pytest.raises(ModelError):
        model.generate([[]])
    with pytest.raises(ModelError, match="could not load the new weights"):
        model.load_weights({"model.language_model.layers.99.nonexistent.weight": torch.zeros(1)})
