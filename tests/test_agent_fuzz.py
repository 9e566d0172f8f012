"""10,000 random and mutated model responses through the parser and ``Episode.advance``.

Whatever a model writes, the agent must turn it into a step and an observation, never an
uncaught exception. The responses come from a seeded RNG so that a failure replays exactly.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from typing import Any

import pytest
from test_agent_loop import ButtonEnv

from pixelpilot.agent import Episode, parse_response
from pixelpilot.envs.core.toolcall import ToolCall
from pixelpilot.model.base import Generation
from pixelpilot.tools import image_zoom_in_tool

N_RESPONSES = 10_000
SEED = 20240611

ACTIONS = [
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click", "double_click",
    "triple_click", "scroll", "hscroll", "wait", "terminate", "answer",
]  # fmt: skip
TAGS = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]
SOUP = [
    *TAGS, "{", "}", "[", "]", '"', "'", ":", ",", "\n", " ", '"name"', '"arguments"', '"computer_use"', '"action"',
    '"left_click"', '"coordinate"', "500", "-1", "1e309", "NaN", "null", "true", "\\", "\\u", "é", "🙂",
]  # fmt: skip
JUNK: list[Any] = [
    None, True, False, 0, -5, 1001, 10**30, 1.5, 1e308, float("nan"), float("inf"), "", "abc", "500,300",
    "(500, 300)", [], [1], [1, 2, 3], [500, 300], [-1, 5], [5000, 5], ["a", "b"], [[1, 2]], [None, 1],
    {"x": 1}, {"a": [1, {"b": 2}]}, "\ud800", "x" * 2000,
]  # fmt: skip


def valid_call(rng: random.Random) -> dict[str, Any]:
    action = rng.choice(ACTIONS)
    arguments: dict[str, Any] = {"action": action}
    point = [rng.randint(0, 1000), rng.randint(0, 1000)]
    needs = {
        "key": {"keys": ["ctrl", "a"]}, "type": {"text": "hello"}, "scroll": {"pixels": -3}, "hscroll": {"pixels": 2},
        "wait": {"time": 0}, "terminate": {"status": rng.choice(["success", "failure"])}, "answer": {"text": "red"},
    }  # fmt: skip
    arguments.update(needs.get(action, {"coordinate": point}))
    return {"name": "computer_use", "arguments": arguments}


def zoom_call(rng: random.Random) -> dict[str, Any]:
    x1, y1 = rng.randint(-50, 1000), rng.randint(-50, 1000)
    bbox = [x1, y1, x1 + rng.randint(-10, 600), y1 + rng.randint(-10, 600)]
    return {"name": "image_zoom_in_tool", "arguments": {"bbox_2d": bbox, "img_idx": rng.randint(-1, 4)}}


def mutate(rng: random.Random, payload: dict[str, Any]) -> dict[str, Any]:
    arguments = dict(payload["arguments"])
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(6)
        if kind == 0:
            arguments[rng.choice([*arguments, "coordinate", "text", "keys", "time", "status"])] = rng.choice(JUNK)
        elif kind == 1 and arguments:
            arguments.pop(rng.choice(list(arguments)))
        elif kind == 2:
            arguments["action"] = rng.choice(["fly", "LEFT_CLICK", "click", "swipe", "", *ACTIONS])
        elif kind == 3:
            arguments["coordinate"] = [rng.randint(-2000, 3000), rng.randint(-2000, 3000)]
        elif kind == 4:
            arguments[rng.choice(["extra", "coordinate2", "button"])] = rng.choice(JUNK)
        else:
            payload = {**payload, "name": rng.choice(["computer_use", "mobile_use", "nope", "", "image_zoom_in_tool"])}
    return {**payload, "arguments": arguments}


def render_call(rng: random.Random, payload: Any) -> str:
    body = json.dumps(payload, ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.2:
        body = body.replace('"', "'")
    if rng.random() < 0.2:
        body = body[: rng.randrange(len(body) + 1)]
    close = "\n</tool_call>" if rng.random() < 0.8 else ""
    return f"<tool_call>\n{body}{close}"


def response(rng: random.Random, previous: str) -> str:
    kind = rng.randrange(10)
    if kind == 8:
        return previous  # models repeat themselves
    if kind == 9:
        move = {"action": rng.choice(["mouse_move", "scroll"]), "coordinate": [rng.randrange(1001)] * 2, "pixels": 1}
        return f"<think>Looking around.</think>\n{render_call(rng, {'name': 'computer_use', 'arguments': move})}"
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(200))).decode("utf-8", "replace")
    if kind == 1:
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(80)))
    if kind == 2:
        return "".join(rng.choice(SOUP) for _ in range(rng.randrange(60)))
    if kind == 3:
        full = "<think>look</think>" + render_call(rng, valid_call(rng))
        return full[: rng.randrange(len(full) + 1)]
    if kind == 4:
        return render_call(rng, mutate(rng, valid_call(rng)))
    if kind == 5:
        payload = zoom_call(rng)
        return render_call(rng, mutate(rng, payload) if rng.random() < 0.3 else payload)
    if kind == 6:
        parts = [render_call(rng, rng.choice([valid_call, zoom_call])(rng)) for _ in range(rng.randint(2, 4))]
        parts.insert(rng.randrange(len(parts)), rng.choice(["<tool_call>{oops", "</think>", "text", "<tool_call>[]"]))
        return "\n".join(parts)
    return render_call(rng, rng.choice(JUNK))


@pytest.fixture
def quiet_registry():
    # The registry logs unexpected tool exceptions with tracebacks; thousands of them would
    # only slow the run down. They still become error results, which the test checks.
    logger = logging.getLogger("pixelpilot.tools.registry")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def test_fuzz_parser_and_episode_never_raise(quiet_registry):
    rng = random.Random(SEED)
    env = ButtonEnv(width=64, height=48)
    episode = Episode(env, [image_zoom_in_tool], history_images=2, max_steps=12, max_failures=8, max_repeats=3)
    episode.reset(seed=0)
    ends: Counter[str] = Counter()
    calls = errors = 0
    text = ""
    try:
        for i in range(N_RESPONSES):
            text = response(rng, text)
            parsed = parse_response(text)
            assert all(isinstance(c, ToolCall) for c in parsed.calls)
            if episode.done:
                json.loads(episode.trajectory.model_dump_json())
                ends[episode.trajectory.end_reason] += 1
                episode.reset(seed=i)
            messages = episode.messages()
            done = episode.advance(Generation(text=text, token_ids=[1, 2], logprobs=[-0.1, -0.2]))
            step = episode.trajectory.steps[-1]
            assert done is episode.done and step.text == parsed.raw
            assert len(step.calls) <= len(parsed.blocks)
            calls += len(step.calls)
            errors += len(step.errors)
            # Every model turn got its observation back as a tool response.
            feedback = episode.messages()[len(messages) + 1]
            assert feedback["role"] == "user" and feedback["content"][0]["text"].startswith("<tool_response>")
    finally:
        episode.registry.close()
        env.close()
    # The generator reached every way an episode can end, and both good and bad calls.
    assert {"max_failures", "max_repeats", "terminate", "answer", "env_terminated", "max_steps"} <= set(ends)
    assert calls > 3000 and 0 < errors < N_RESPONSES * 2
