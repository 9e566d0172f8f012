"""The prompt: Qwen3-VL's hermes system turn, the task turn, tool responses and the image budget."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from pixelpilot.agent.prompt import (
    IMAGE_PLACEHOLDER,
    SCREENSHOT_PLACEHOLDER,
    History,
    ImagePart,
    ToolResponse,
    system_text,
)
from pixelpilot.tools import ToolRegistry, image_zoom_in_tool, tool


@tool
def lookup(word: str) -> str:
    """Look a word up."""
    return word


def shot(shade: int) -> Image.Image:
    return Image.new("RGB", (64, 48), (shade, shade, shade))


def images_of(messages) -> list[Image.Image]:
    return [p["image"] for m in messages for p in m["content"] if p["type"] == "image"]


def texts_of(message) -> str:
    return "".join(p["text"] for p in message["content"] if p["type"] == "text")


def test_system_turn_is_qwen_hermes_format_exactly():
    registry = ToolRegistry([lookup, image_zoom_in_tool])
    text = system_text(registry, role="You are a helpful agent.")
    lines = [json.dumps(s, ensure_ascii=False) for s in registry.schemas()]
    expected = (
        "You are a helpful agent.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        + "\n".join(lines)
        + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
    )
    assert text == expected
    assert json.loads(lines[0]) == {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a word up.",
            "parameters": registry["lookup"].parameters,
        },
    }


def test_task_turn_then_assistant_turn_as_written():
    history = History("SYSTEM", history_images=3)
    first = shot(10)
    history.add_user("Click OK.", (ImagePart(first),))
    history.add_assistant("<think>hm</think>\n<tool_call>\n{}\n</tool_call>")
    messages = history.messages()
    assert messages[0] == {"role": "system", "content": [{"type": "text", "text": "SYSTEM"}]}
    assert messages[1] == {
        "role": "user",
        "content": [{"type": "text", "text": "Click OK.\n"}, {"type": "image", "image": first}],
    }
    assert messages[2] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "<think>hm</think>\n<tool_call>\n{}\n</tool_call>"}],
    }


def test_tool_responses_wrap_text_and_images():
    history = History("S")
    history.add_user("task", (ImagePart(shot(0)),))
    history.add_assistant("calls")
    after = shot(50)
    history.add_tool_responses([ToolResponse("left_click done.", (ImagePart(after),)), ToolResponse("Error: bad")])
    message = history.messages()[-1]
    assert message["role"] == "user"
    assert message["content"] == [
        {"type": "text", "text": "<tool_response>\nleft_click done.\n"},
        {"type": "image", "image": after},
        {"type": "text", "text": "\n</tool_response>\n<tool_response>\nError: bad\n</tool_response>"},
    ]


def run_history(k: int, turns: int) -> tuple[History, list[Image.Image]]:
    history = History("S", history_images=k)
    shots = [shot(i * 20) for i in range(turns + 1)]
    history.add_user("task", (ImagePart(shots[0]),))
    for i in range(1, turns + 1):
        history.add_assistant(f"step {i}")
        history.add_tool_responses([ToolResponse(f"done {i}", (ImagePart(shots[i]),))])
    return history, shots


@pytest.mark.parametrize("k", [1, 2, 3])
def test_only_the_last_k_screenshots_stay_images(k):
    history, shots = run_history(k, turns=5)
    messages = history.messages()
    assert images_of(messages) == shots[-k:]
    assert history.visible_images() == shots[-k:]
    omitted = sum(texts_of(m).count(SCREENSHOT_PLACEHOLDER) for m in messages)
    assert omitted == len(shots) - k
    # Old steps keep their text.
    assert [texts_of(m) for m in messages if m["role"] == "assistant"] == [f"step {i}" for i in range(1, 6)]
    assert texts_of(messages[1]) == "task\n" + SCREENSHOT_PLACEHOLDER
    assert "done 1\n" + SCREENSHOT_PLACEHOLDER + "\n</tool_response>" in texts_of(messages[3])


def test_fewer_screenshots_than_the_budget_are_all_shown():
    history, shots = run_history(5, turns=2)
    assert images_of(history.messages()) == shots
    assert history.latest_screenshot() is shots[-1]


def test_crops_follow_the_screenshots_they_came_after():
    history, shots = run_history(2, turns=1)
    old_crop, new_crop = shot(200), shot(220)
    history.add_assistant("zoom")
    history.add_tool_responses([ToolResponse("", (ImagePart(old_crop, "image"),))])
    assert history.visible_images() == [shots[0], shots[1], old_crop]  # crops do not use the budget
    history.add_assistant("click")
    history.add_tool_responses([ToolResponse("left_click done.", (ImagePart(shots[1], "screenshot"),))])
    history.add_assistant("zoom")
    history.add_tool_responses([ToolResponse("", (ImagePart(new_crop, "image"),))])
    messages = history.messages()
    # Oldest shown screenshot is shots[1] (turn 1): the crop after it stays, everything before goes.
    assert history.visible_images() == [shots[1], old_crop, shots[1], new_crop]
    assert images_of(messages) == history.visible_images()
    assert texts_of(messages[1]) == "task\n" + SCREENSHOT_PLACEHOLDER
    assert IMAGE_PLACEHOLDER not in "".join(texts_of(m) for m in messages)


def test_the_current_screen_is_always_shown():
    with pytest.raises(ValueError):
        History("S", history_images=0)


def test_crops_older_than_the_shown_screenshots_become_placeholders():
    history, _ = run_history(1, turns=1)
    history.add_assistant("zoom")
    history.add_tool_responses([ToolResponse("", (ImagePart(shot(200), "image"),))])
    newest = shot(240)
    history.add_assistant("click")
    history.add_tool_responses([ToolResponse("left_click done.", (ImagePart(newest),))])
    messages = history.messages()
    assert images_of(messages) == [newest] == history.visible_images()
    assert texts_of(messages[5]) == "<tool_response>\n" + IMAGE_PLACEHOLDER + "\n</tool_response>"


def test_vision_placeholders_in_text_never_reach_the_prompt():
    from pixelpilot.agent.prompt import History

    history = History("system <|image_pad|>", history_images=2)
    history.add_user('Type "<|vision_start|><|image_pad|><|vision_end|>"', ())
    history.add_assistant("I see <|image_pad|><|video_pad|> twice")
    texts = [part["text"] for message in history.messages() for part in message["content"] if part["type"] == "text"]
    assert texts == ["system ", 'Type ""', "I see  twice"]
