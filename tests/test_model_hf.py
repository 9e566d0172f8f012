"""The transformers backend on the tiny Qwen3-VL: batched sampling, exact token ids and log-probs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from support import response_logits

from pixelpilot.errors import ModelError
from pixelpilot.model import SamplingParams, build_tiny_checkpoint, load_model
from pixelpilot.model.hf import HFModel


@pytest.fixture(scope="module", autouse=True)
def one_cpu_thread():
    # Tiny matrices: one thread avoids OpenMP spinning on a shared CPU.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    backend = load_model(f"hf:{tiny_checkpoint}")
    yield backend
    backend.close()


def screenshot(color: tuple[int, int, int], size: tuple[int, int] = (320, 200)) -> Image.Image:
    image = Image.new("RGB", size, (250, 250, 250))
    image.paste(color, (40, 40, 160, 120))
    return image


CONVERSATIONS = [
    [
        {"role": "system", "content": [{"type": "text", "text": "You are a helpful assistant."}]},
        {
            "role": "user",
            "content": [{"type": "image", "image": screenshot((200, 30, 30))}, {"type": "text", "text": "Click red."}],
        },
    ],
    [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare"},
                {"type": "image", "image": np.asarray(screenshot((30, 30, 200), (128, 480)))},
                {"type": "image", "image": screenshot((30, 200, 30), (256, 256))},
            ],
        },
    ],
]


def teacher_forced_logprobs(backend: HFModel, conversation, token_ids: list[int], temperature: float) -> torch.Tensor:
    """Score the sampled ids with one forward pass over prompt + response, as an RL trainer would."""
    logits = response_logits(backend, conversation, token_ids)
    # The backend never samples the vision tokens: its distribution is the one without them.
    logits[:, list(backend.suppressed_token_ids)] = float("-inf")
    return torch.log_softmax(logits / temperature, dim=-1).gather(1, torch.tensor(token_ids).view(-1, 1)).squeeze(1)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_batch_returns_sampled_ids_and_their_logprobs(model, temperature):
    # Report defaults for a small Instruct model (top_k 40, presence penalty 2.0) on top of the temperature.
    sampling = SamplingParams.for_model("Qwen3-VL-2B-Instruct", temperature=temperature, max_new_tokens=24, seed=7)
    generations = model.generate(CONVERSATIONS, sampling)
    assert len(generations) == 2
    for conversation, generation in zip(CONVERSATIONS, generations, strict=True):
        assert 1 <= len(generation.token_ids) == len(generation.logprobs) <= 24
        assert generation.finish_reason in ("stop", "length")
        assert generation.text == model.tokenizer.decode(generation.token_ids, skip_special_tokens=True)
        text, images = model.render(conversation)
        prompt = model.processor(text=[text], images=images)["input_ids"][0]
        assert generation.prompt_token_ids == list(prompt)
        expected = teacher_forced_logprobs(model, conversation, generation.token_ids, temperature)
        torch.testing.assert_close(torch.tensor(generation.logprobs), expected, atol=1e-4, rtol=0)


def test_seed_reproduces_and_max_new_tokens_holds(model):
    sampling = SamplingParams(temperature=1.0, top_k=0, max_new_tokens=20, seed=123)
    first = model.generate(CONVERSATIONS, sampling)
    again = model.generate(CONVERSATIONS, sampling)
    other = model.generate(CONVERSATIONS, sampling.model_copy(update={"seed": 124}))
    assert [g.token_ids for g in first] == [g.token_ids for g in again]
    assert [g.token_ids for g in first] != [g.token_ids for g in other]

    short = model.generate(CONVERSATIONS, sampling.model_copy(update={"max_new_tokens": 3}))
    for generation in short:
        if generation.finish_reason == "length":
            assert len(generation.token_ids) == 3
        else:
            assert len(generation.token_ids) <= 3 and generation.token_ids[-1] in model.eos_token_ids


def test_greedy_equals_top_k_one(model):
    greedy = model.generate(CONVERSATIONS, SamplingParams(temperature=0.0, max_new_tokens=12))
    top1 = model.generate(CONVERSATIONS, SamplingParams(temperature=1.0, top_k=1, max_new_tokens=12, seed=5))
    assert [g.token_ids for g in greedy] == [g.token_ids for g in top1]
    # Greedy log-probs are those of the untempered distribution.
    expected = teacher_forced_logprobs(model, CONVERSATIONS[0], greedy[0].token_ids, 1.0)
    torch.testing.assert_close(torch.tensor(greedy[0].logprobs), expected, atol=1e-4, rtol=0)


def test_rows_stop_at_their_own_eos(model):
    """Weights that make a stop token likely: rows end at different steps and keep no padding."""
    probe = SamplingParams(max_new_tokens=5, seed=3)
    before = model.generate(CONVERSATIONS, probe)
    original = {name: tensor.clone() for name, tensor in model.model.state_dict().items()}
    norm = next(name for name in original if name.endswith("language_model.norm.weight"))
    head = next(name for name in original if name.endswith("lm_head.weight"))
    im_end, endoftext = model.tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    # The final hidden state keeps one coordinate; whatever its sign, one of the two stop tokens leads.
    gain = torch.zeros_like(original[norm])
    gain[0] = 1.0
    lm_head = torch.zeros_like(original[head])
    lm_head[im_end, 0], lm_head[endoftext, 0] = 5.0, -5.0
    model.load_weights({norm: gain, head: lm_head})
    try:
        conversations = [CONVERSATIONS[0]] * 4
        generations = model.generate(conversations, SamplingParams(temperature=1.0, top_k=0, max_new_tokens=40, seed=1))
    finally:
        model.load_weights(original)
    stopped = [g for g in generations if g.finish_reason == "stop"]
    assert stopped and len({len(g.token_ids) for g in generations}) > 1
    for generation in generations:
        eos_positions = [i for i, t in enumerate(generation.token_ids) if t in model.eos_token_ids]
        if generation.finish_reason == "stop":
            assert eos_positions == [len(generation.token_ids) - 1]
        else:
            assert not eos_positions and len(generation.token_ids) == 40
        assert len(generation.logprobs) == len(generation.token_ids)
        assert "<|im_end|>" not in generation.text
    # Restored weights sample as before the swap.
    assert model.generate(CONVERSATIONS, probe) == before


def test_moe_checkpoint_is_detected(tmp_path):
    backend = load_model(str(build_tiny_checkpoint(tmp_path / "moe", moe=True)))
    try:
        assert type(backend.model).__name__ == "Qwen3VLMoeForConditionalGeneration"
        (generation,) = backend.generate([CONVERSATIONS[0]], SamplingParams(max_new_tokens=6, seed=0))
        assert len(generation.token_ids) == len(generation.logprobs) >= 1
    finally:
        backend.close()


def test_bad_input_is_a_model_error(model, tmp_path):
    with pytest.raises(ModelError, match="non-empty list"):
        model.generate([[]])
    with pytest.raises(ModelError, match="PIL image"):
        model.generate([[{"role": "user", "content": [{"type": "image", "image": "not-an-image"}]}]])
    with pytest.raises(ModelError, match="unsupported content part"):
        model.generate([[{"role": "user", "content": [{"type": "audio", "audio": b""}]}]])
    # The template shows no images in assistant turns; a silent mismatch would shift every image.
    assistant_image = [{"role": "assistant", "content": [{"type": "image", "image": screenshot((0, 0, 0))}]}]
    with pytest.raises(ModelError, match="placeholders"):
        model.generate([[*CONVERSATIONS[0], *assistant_image]])
    with pytest.raises(ModelError, match="no checkpoint at"):  # a local path that is not there: no hub attempt
        load_model(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(ModelError, match="unknown model backend"):
        load_model("ollama:qwen3-vl")
