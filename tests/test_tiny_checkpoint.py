"""The offline tiny Qwen3-VL checkpoint loads and runs like a downloaded one."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import (
    AutoProcessor,
    Qwen3VLForConditionalGeneration,
    Qwen3VLMoeForConditionalGeneration,
)

from pixelpilot.model import build_tiny_checkpoint


@pytest.fixture(scope="module", autouse=True)
def one_cpu_thread():
    # Tiny matrices: one thread avoids OpenMP spinning on a shared CPU.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def dense_dir(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-dense"))


@pytest.fixture(scope="module")
def moe_dir(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-moe"), moe=True)


def picture(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), (240, 240, 240))
    image.paste((200, 30, 30), (width // 4, height // 4, width // 2, height // 2))
    return image


def conversation_with(image: Image.Image) -> list[dict]:
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {
            "role": "user",
            "content": [{"type": "image", "image": image}, {"type": "text", "text": "Click the red box."}],
        },
    ]


def forward_with_image(model, processor, image: Image.Image):
    text = processor.apply_chat_template(conversation_with(image), tokenize=False, add_generation_prompt=True)
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    with torch.inference_mode():
        return inputs, model(**inputs).logits


def test_dense_checkpoint_loads_and_sees_images(dense_dir):
    processor = AutoProcessor.from_pretrained(dense_dir)
    model = Qwen3VLForConditionalGeneration.from_pretrained(dense_dir).eval()
    tokenizer = processor.tokenizer
    assert type(processor).__name__ == "Qwen3VLProcessor"
    assert type(tokenizer).__name__ == "Qwen2Tokenizer"
    assert processor.image_processor.patch_size == 16 and processor.image_processor.merge_size == 2

    # Qwen's added tokens, in Qwen's order, wired into the config the way the real checkpoint is.
    ids = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|vision_start|>", "<|image_pad|>"])
    assert ids[1] == ids[0] + 1 and ids[2] == ids[0] + 9 and ids[3] == ids[0] + 12
    assert model.config.image_token_id == ids[3] and model.config.vision_start_token_id == ids[2]
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    assert len(tokenizer) == model.config.text_config.vocab_size < 4000
    # Tool and think markers are single tokens that survive skip_special_tokens, as in Qwen's tokenizer.
    call = '<think>\nok\n</think>\n<tool_call>\n{"name": "computer_use", "arguments": {}}\n</tool_call>'
    encoded = tokenizer(call + "<|im_end|>", add_special_tokens=False).input_ids
    assert tokenizer.convert_tokens_to_ids("<tool_call>") in encoded
    assert tokenizer.decode(encoded, skip_special_tokens=True) == call

    deepstack = model.config.vision_config.deepstack_visual_indexes
    assert all(0 <= i < model.config.vision_config.depth for i in deepstack)
    assert len(deepstack) <= model.config.text_config.num_hidden_layers

    image = picture(320, 200)
    inputs, logits = forward_with_image(model, processor, image)
    grid = inputs["image_grid_thw"][0].tolist()
    assert grid == [1, 12, 20]  # 320x200 -> 320x192 (multiples of 32), in 16 px patches
    assert (inputs["input_ids"] == model.config.image_token_id).sum().item() == grid[0] * grid[1] * grid[2] // 4
    assert logits.shape == (1, inputs["input_ids"].shape[1], len(tokenizer))
    assert torch.isfinite(logits).all()
    # The pixels matter: another image changes the next-token distribution.
    _, other = forward_with_image(model, processor, Image.new("RGB", (320, 200), (0, 0, 255)))
    assert not torch.allclose(logits[0, -1], other[0, -1])

    size = sum(path.stat().st_size for path in dense_dir.iterdir())
    assert size < 10 * 2**20
    generation = json.loads((dense_dir / "generation_config.json").read_text())
    assert generation["eos_token_id"] == tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])


def test_chat_template_renders_qwen_turns(dense_dir):
    processor = AutoProcessor.from_pretrained(dense_dir)
    image = picture(64, 64)
    messages = [
        *conversation_with(image),
        {"role": "assistant", "content": '<tool_call>\n{"name": "computer_use"}\n</tool_call>'},
        {"role": "user", "content": [{"type": "text", "text": "<tool_response>\n"}, {"type": "image", "image": image}]},
    ]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Click the red box.<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>\n{"name": "computer_use"}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_moe_checkpoint_routes_through_experts(moe_dir):
    processor = AutoProcessor.from_pretrained(moe_dir)
    model = Qwen3VLMoeForConditionalGeneration.from_pretrained(moe_dir).eval()
    assert model.config.model_type == "qwen3_vl_moe"
    assert model.config.text_config.num_experts > model.config.text_config.num_experts_per_tok > 1
    inputs, logits = forward_with_image(model, processor, picture(96, 160))
    assert logits.shape[-1] == len(processor.tokenizer) and torch.isfinite(logits).all()
    generated = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] == inputs["input_ids"].shape[1] + 4


def test_same_seed_same_checkpoint(dense_dir, tmp_path):
    again = build_tiny_checkpoint(tmp_path / "again")
    assert (again / "tokenizer.json").read_text() == (dense_dir / "tokenizer.json").read_text()
    first, second = load_file(dense_dir / "model.safetensors"), load_file(again / "model.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)
