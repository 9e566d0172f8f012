"""Vision placeholder tokens are never sampled, and the log-probs stay those the trainer recomputes.

A model whose head favours ``<|image_pad|>`` and its kin (a loaded copy of the tiny Qwen3-VL with
those rows of ``lm_head`` pushed up) samples through the transformers backend; the recorded
log-probs are checked against ``pixelpilot.rl.policy.TokenLogprobs``, the trainer's own scoring.
The HTTP backend is checked against a real ``transformers serve``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image
from support import VISION_TOKENS, biased_head, response_logits

from pixelpilot.model import SamplingParams, load_model
from pixelpilot.model.hf import HFModel, vision_token_ids
from pixelpilot.model.openai_http import OpenAIModel
from pixelpilot.rl.policy import TokenLogprobs, collate
from pixelpilot.rl.sequences import TrainingSequence

HOT = SamplingParams(temperature=1.5, top_p=1.0, top_k=0, presence_penalty=0.0, max_new_tokens=40)


def conversation(color: tuple[int, int, int], question: str) -> list[dict]:
    image = Image.new("RGB", (160, 128), (240, 240, 240))
    image.paste(color, (20, 20, 90, 70))
    return [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": question}]}]


CONVERSATIONS = [
    conversation((200, 20, 20), "Which button is red?"),
    conversation((20, 20, 200), "Click the blue box."),
    [{"role": "user", "content": [{"type": "text", "text": "Say something."}]}],
]


@pytest.fixture(scope="module")
def biased(tiny_checkpoint: Path) -> Iterator[HFModel]:
    """The tiny checkpoint with a head that puts most of its mass on the vision tokens."""
    model = HFModel(str(tiny_checkpoint))
    model.load_weights(biased_head(model))
    yield model
    model.close()


def unmasked_vision_mass(model: HFModel, conversation: list[dict], token_ids: list[int]) -> torch.Tensor:
    """Per sampled position, the probability the model's own (unmasked) head gives the vision tokens."""
    logits = response_logits(model, conversation, token_ids)
    probs = torch.softmax(logits / HOT.temperature, dim=-1)
    return probs[:, list(model.suppressed_token_ids)].sum(dim=-1)


def test_the_suppressed_ids_are_the_checkpoints_vision_tokens(biased: HFModel) -> None:
    expected = tuple(sorted(biased.tokenizer.convert_tokens_to_ids(list(VISION_TOKENS))))
    assert biased.suppressed_token_ids == expected
    # The trainer reads them from the model's config, the sampler from the processor: the same ids.
    assert vision_token_ids(biased.model.config) == vision_token_ids(biased.processor) == expected
    assert vision_token_ids(object()) == ()


def test_a_model_that_favours_placeholders_never_samples_one(biased: HFModel) -> None:
    suppressed = set(biased.suppressed_token_ids)
    sampled = biased.generate(CONVERSATIONS, HOT.model_copy(update={"seed": 5}))
    greedy = biased.generate(CONVERSATIONS, SamplingParams(temperature=0.0, max_new_tokens=12))
    for generation in [*sampled, *greedy]:
        assert generation.token_ids and not suppressed.intersection(generation.token_ids)
    # Unmasked, the same head would have drawn a vision token at most of those positions.
    masses = torch.cat(
        [unmasked_vision_mass(biased, c, g.token_ids) for c, g in zip(CONVERSATIONS, sampled, strict=True)]
    )
    assert masses.mean() > 0.5


def test_recorded_logprobs_are_the_trainers_recompute(biased: HFModel) -> None:
    generations = biased.generate(CONVERSATIONS, HOT.model_copy(update={"seed": 11}))
    sequences = []
    for conversation, generation in zip(CONVERSATIONS, generations, strict=True):
        assert generation.prompt_token_ids is not None
        prompt = generation.prompt_token_ids
        sequences.append(
            TrainingSequence(
                input_ids=prompt + generation.token_ids,
                loss_mask=[0] * len(prompt) + [1] * len(generation.token_ids),
                logprobs=[0.0] * len(prompt) + generation.logprobs,
                images=biased.render(conversation)[1],
            )
        )
    config = biased.model.config
    batch = collate(sequences, biased.processor.image_processor, biased.pad_token_id, config.image_token_id)
    mask = batch.loss_mask.bool()
    with torch.no_grad():
        recomputed, entropy = TokenLogprobs(biased.model, HOT.temperature)(**batch.model_inputs)
        unmasked, _ = TokenLogprobs(biased.model, HOT.temperature, suppressed_ids=())(**batch.model_inputs)
    torch.testing.assert_close(recomputed[mask], batch.logprobs[mask], atol=1e-5, rtol=0)
    assert torch.isfinite(entropy[mask]).all() and (entropy[mask] > 0).all()
    # Without the mask the trainer would score a different policy than the one that sampled.
    assert (unmasked[mask] - batch.logprobs[mask]).abs().max() > 0.1


def test_the_http_backend_keeps_the_server_off_placeholders(tiny_server: str, tiny_checkpoint: Path) -> None:
    """``transformers serve`` applies ``logit_bias``; the backend's -100 on the vision ids wins over any other."""
    probe = load_model(f"openai:{tiny_server}#{tiny_checkpoint}")
    assert isinstance(probe, OpenAIModel)
    (word,) = probe.tokenizer.encode(" button", add_special_tokens=False)
    image_pad = probe.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    probe.close()
    sampling = SamplingParams(temperature=1.0, top_k=0, max_new_tokens=5, seed=2)
    forced = load_model(f"openai:{tiny_server}#{tiny_checkpoint}", extra_body={"logit_bias": {word: 100.0}})
    pushed = load_model(f"openai:{tiny_server}#{tiny_checkpoint}", extra_body={"logit_bias": {image_pad: 100.0}})
    try:
        # The server honours the field: +100 on a word makes it the whole answer.
        (answer,) = forced.generate([CONVERSATIONS[2]], sampling)
        assert answer.text.split() == ["button"] * 5
        # +100 on <|image_pad|> would make it "<|image_pad|>" five times over; the backend's -100
        # replaces that bias, and the model writes ordinary tokens.
        (answer,) = pushed.generate([CONVERSATIONS[2]], sampling)
        assert answer.text.strip() and image_pad not in answer.token_ids
        assert not any(token in answer.text for token in VISION_TOKENS)
        assert "logit_bias" not in pushed.rejected_fields
    finally:
        forced.close()
        pushed.close()
