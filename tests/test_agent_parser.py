"""Taking model responses apart: thoughts, free text, calls, per-call errors, answers."""

from __future__ import annotations

import pytest

from pixelpilot.agent.parser import parse_response, split_thought
from pixelpilot.envs.core.toolcall import ToolCall, extract_tool_calls

CLICK = (
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 300]}}'
    "\n</tool_call>"
)
CLICK_CALL = ToolCall(name="computer_use", arguments={"action": "left_click", "coordinate": [500, 300]})


def test_plain_call_without_thought():
    parsed = parse_response(CLICK)
    assert parsed.thought is None and parsed.text == "" and parsed.errors == []
    assert parsed.calls == [CLICK_CALL] and parsed.answer is None


def test_think_free_text_and_call():
    parsed = parse_response(f"<think>\nThe OK button is centred.\n</think>\n\nI will click OK.\n{CLICK}")
    assert parsed.thought == "The OK button is centred."
    assert parsed.text == "I will click OK."
    assert parsed.calls == [CLICK_CALL]


@pytest.mark.parametrize(
    ("text", "thought", "rest"),
    [
        ("<think>a</think>b", "a", "b"),
        ("a</think>b", "a", "b"),  # thinking models: the template opened the think block
        ("<think>still thinking", "still thinking", ""),  # cut off mid-thought
        ("x<think>a</think>b", "a", "xb"),
        ("<think>\n\n</think>b", None, "b"),  # thinking switched off
        ("no thought", None, "no thought"),
        ("a</think>b<think>c", "a", "bc"),  # stray tags after the thought are dropped
    ],
)
def test_thought_shapes(text, thought, rest):
    assert split_thought(text) == (thought, rest)


def test_unclosed_think_that_goes_on_to_a_call_keeps_the_call():
    parsed = parse_response(f"<think>I see the button. {CLICK}")
    assert parsed.thought == "I see the button." and parsed.calls == [CLICK_CALL]


def test_calls_inside_the_thought_are_not_calls():
    parsed = parse_response(f"<think>maybe {CLICK}? no.</think>done")
    assert parsed.calls == [] and parsed.blocks == [] and parsed.text == "done"


def test_several_calls_in_order():
    second = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "hi"}}\n</tool_call>'
    parsed = parse_response(f"{CLICK}\n{second}")
    assert [c.arguments["action"] for c in parsed.calls] == ["left_click", "type"]


def test_a_bad_call_does_not_lose_the_good_ones():
    parsed = parse_response(f"{CLICK}<tool_call>{{broken json</tool_call><tool_call>[1, 2]</tool_call>{CLICK}")
    assert [b.call is not None for b in parsed.blocks] == [True, False, False, True]
    assert parsed.calls == [CLICK_CALL, CLICK_CALL]
    assert len(parsed.errors) == 2
    assert "not valid JSON" in parsed.errors[0] and parsed.blocks[1].raw == "{broken json"


def test_trailing_commas_and_single_quotes_are_forgiven():
    parsed = parse_response(
        "<tool_call>{'name': 'computer_use', 'arguments': {'action': 'wait', 'time': 1,},}</tool_call>"
    )
    assert parsed.calls == [ToolCall(name="computer_use", arguments={"action": "wait", "time": 1})]


def test_missing_closing_tags_and_braces():
    parsed = parse_response('<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 2')
    assert parsed.calls == [ToolCall(name="computer_use", arguments={"action": "wait", "time": 2})]
    two = parse_response(
        '<tool_call>{"name": "a", "arguments": {}}<tool_call>{"name": "b", "arguments": {"x": 1}}</tool_call>'
    )
    assert [c.name for c in two.calls] == ["a", "b"]


def test_arguments_as_a_json_string():
    parsed = parse_response('<tool_call>{"name": "a", "arguments": "{\\"x\\": 1}"}</tool_call>')
    assert parsed.calls == [ToolCall(name="a", arguments={"x": 1})]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("", "no JSON object"),
        ('{"arguments": {}}', "no 'name'"),
        ('{"name": "a", "arguments": [1]}', "must be a JSON object"),
        ('{"name": "a", "arguments": {"x": ' + "1" * 5000 + "}}", "not valid JSON"),
        ('{"name": "a", "arguments": ' + "[" * 3000 + "]" * 3000 + "}", "not valid JSON"),
        ('{"name": "a", "arguments": {"x": ' + '{"y": ' * 20 + "1" + "}" * 20 + "}}", "nested deeper"),
    ],
)
def test_unreadable_blocks_give_an_error_each(body, needle):
    parsed = parse_response(f"<tool_call>{body}</tool_call>")
    (error,) = parsed.errors
    assert needle in error and parsed.calls == []


def test_answer_is_read_from_an_answer_call():
    parsed = parse_response(
        '<think>The total is 42.</think><tool_call>{"name": "computer_use", "arguments": '
        '{"action": "answer", "text": "42"}}</tool_call>'
    )
    assert parsed.answer == "42"
    mobile = parse_response('<tool_call>{"name": "mobile_use", "arguments": {"action": "answer", "text": "yes"}}')
    assert mobile.answer == "yes"
    not_text = parse_response('<tool_call>{"name": "computer_use", "arguments": {"action": "answer", "text": 3}}')
    assert not_text.answer is None


def test_lone_surrogates_are_replaced_so_the_response_can_be_saved():
    parsed = parse_response('x\ud800<tool_call>{"name": "computer_use", "arguments": {"text": "\\udc00"}}</tool_call>')
    assert parsed.raw == 'x\ufffd<tool_call>{"name": "computer_use", "arguments": {"text": "\\udc00"}}</tool_call>'
    assert parsed.calls[0].arguments == {"text": "\ufffd"}
    assert parsed.model_dump_json()


def test_stray_closing_tag_stays_in_the_free_text():
    parsed = parse_response("hello </tool_call> world")
    assert parsed.blocks == [] and parsed.text == "hello </tool_call> world"


@pytest.mark.parametrize(
    "text",
    [
        CLICK,
        f"{CLICK}\n{CLICK}",
        '<tool_call>{"name": "a", "arguments": {"x": 1,}}',
        '<tool_call>{"name": "a"}<tool_call>{"name": "b"}</tool_call>tail',
    ],
)
def test_agrees_with_the_environment_raw_text_path(text):
    assert parse_response(text).calls == extract_tool_calls(text)


def test_never_raises_on_odd_strings():
    for text in ["", "<", "<tool_call>", "</think>", "<think>", "<tool_call></tool_call>" * 3, "{" * 10000, "\x00\xff"]:
        parse_response(text)
