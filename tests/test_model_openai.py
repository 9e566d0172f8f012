"""The OpenAI-compatible backend against a real ``transformers serve`` of the tiny Qwen3-VL."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from support import free_port

from pixelpilot.errors import ModelError
from pixelpilot.model import SamplingParams, load_model
from pixelpilot.model.images import ResizeRule, resize_for_qwen, to_data_url
from pixelpilot.model.openai_http import OpenAIModel, raw_text


def screen(color: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (300, 170), (245, 245, 245))
    image.paste(color, (20, 20, 120, 80))
    return image


def conversation(color: tuple[int, int, int]) -> list[dict]:
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": [{"type": "image", "image": screen(color)}, {"type": "text", "text": "Click it."}]},
    ]


def test_generates_against_transformers_serve(tiny_server, tiny_checkpoint):
    model = load_model(f"openai:{tiny_server}#{tiny_checkpoint}")
    try:
        assert isinstance(model, OpenAIModel)
        # The local checkpoint gives the resize rule and the tokenizer.
        assert model.resize == ResizeRule(factor=32, min_pixels=4096, max_pixels=262144)
        generations = model.generate(
            [conversation((200, 0, 0)), conversation((0, 0, 200))], SamplingParams(max_new_tokens=6, seed=1)
        )
        assert len(generations) == 2
        for generation in generations:
            assert generation.text and generation.finish_reason in ("stop", "length")
            # transformers serve returns no log-probs: ids are the re-tokenized text, log-probs left empty.
            assert generation.token_ids == model.tokenizer.encode(generation.text, add_special_tokens=False) + (
                [model.tokenizer.eos_token_id] if generation.finish_reason == "stop" else []
            )
            assert generation.logprobs == []
        # It rejects vLLM's extra fields by name; they were dropped and the request went through.
        assert model.rejected_fields == {"top_k", "return_tokens_as_token_ids", "return_token_ids"}

        (short,) = model.generate([conversation((0, 200, 0))], SamplingParams(max_new_tokens=2, seed=0))
        assert short.finish_reason == "length"
    finally:
        model.close()


def test_server_refusal_is_not_retried(tiny_server):
    # The server is pinned to the checkpoint: another model name is a 400, reported without retrying.
    model = load_model(f"openai:{tiny_server}#someone/else", max_retries=5, backoff=5.0)
    with pytest.raises(ModelError, match=r"refused the request \(HTTP 400: .*pinned"):
        model.chat(conversation((1, 2, 3)), SamplingParams(max_new_tokens=2))
    model.close()


def test_nothing_listening_is_a_model_error_after_retries():
    model = load_model(f"openai:http://127.0.0.1:{free_port()}/v1#tiny", max_retries=2, backoff=0.05)
    with pytest.raises(ModelError, match="after 3 attempts"):
        model.generate([[{"role": "user", "content": "hi"}]])
    model.close()
    with pytest.raises(ModelError, match="cannot list the models"):
        load_model(f"openai:http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ModelError, match="http"):
        load_model("openai:127.0.0.1:8000#tiny")


def test_images_follow_qwen_resize_rule():
    rule = ResizeRule()
    for size in [(1280, 800), (100, 40), (5000, 3000)]:
        resized = resize_for_qwen(Image.new("RGB", size), rule)
        width, height = resized.size
        assert width % 32 == 0 and height % 32 == 0
        assert rule.min_pixels <= width * height <= rule.max_pixels
    already = Image.new("RGB", (640, 320))
    assert resize_for_qwen(already, rule) is already
    with pytest.raises(ModelError, match="cannot be resized"):
        resize_for_qwen(Image.new("RGB", (4000, 10)), rule)

    image = screen((10, 200, 30))
    url = to_data_url(image)
    assert url.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert np.array_equal(np.asarray(decoded.convert("RGB")), np.asarray(image))
    assert to_data_url(image, "jpeg").startswith("data:image/jpeg;base64,")


def test_logprob_tokens_map_back_to_ids(tiny_checkpoint):
    """Log-prob entries as vLLM writes them (decoded text and its UTF-8 bytes, or ``token_id:N``)."""
    model = OpenAIModel("http://127.0.0.1:9/v1", str(tiny_checkpoint))
    tokenizer = model.tokenizer
    text = 'Zoom: <tool_call>\n{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [1, 2, 30, 400]}}\n</tool_call>'
    ids = [*tokenizer.encode(text, add_special_tokens=False), tokenizer.eos_token_id]

    def entry(token: str) -> dict:
        return {"token": token, "bytes": list(token.encode()), "logprob": -1.0}

    assert model.ids_from_logprobs([entry(tokenizer.decode([i])) for i in ids]) == ids
    assert model.ids_from_logprobs([{"token": f"token_id:{i}", "logprob": -1.0} for i in ids]) == ids
    # A token holding half a UTF-8 character decodes to U+FFFD: no exact id, so the caller falls back.
    halves = tokenizer.encode("é", add_special_tokens=False)
    assert len(halves) == 2
    assert model.ids_from_logprobs([entry(tokenizer.decode([i])) for i in halves]) is None
    model.close()


def test_raw_text_undoes_server_side_parsing():
    message = {
        "content": "I will click.",
        "reasoning_content": "The button is red.",
        "tool_calls": [{"function": {"name": "computer_use", "arguments": '{"action": "left_click"}'}}],
    }
    assert raw_text(message) == (
        "<think>\nThe button is red.\n</think>\n\nI will click.\n"
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click"}}\n</tool_call>'
    )
    assert raw_text({"content": None, "tool_calls": [{"function": {"name": "f", "arguments": "{bad"}}]}) == (
        '<tool_call>\n{"name": "f", "arguments": {bad}\n</tool_call>'
    )
