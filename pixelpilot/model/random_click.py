"""A policy that clicks at random: the chance level of a screen task, and a model-free load for benchmarks.

It writes real tool calls (for ``computer_use`` a move to a point and a click there, in one turn;
for ``mobile_use`` a tap), so environments, tools and rollouts run exactly as under a model, at
their own speed: environment and rollout benchmarks use it, and a task's success under it is the
level a trained agent has to beat. Its points depend only on the sampling seed and the batch, so a
run repeats exactly.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np

from pixelpilot.model.base import ChatModel, Conversation, Generation, SamplingParams


class RandomClickModel(ChatModel):
    """Uniform clicks on the 0-1000 grid; with a ``tokenizer`` the responses carry token ids too (no log-probs).

    It calls the GUI tool the system turn offers (``tool`` when the prompt names none).
    """

    name = "random-click"

    def __init__(self, tokenizer: Any | None = None, *, tool: Literal["computer_use", "mobile_use"] = "computer_use"):
        self.tokenizer = tokenizer
        self.tool = tool
        self.default_sampling = SamplingParams(seed=0)

    def generate(self, conversations: list[Conversation], sampling: SamplingParams | None = None) -> list[Generation]:
        seed = (sampling or self.default_sampling).seed
        rng = np.random.default_rng(None if seed is None else [seed, len(conversations)])
        generations = []
        points = rng.integers(0, 1000, size=(len(conversations), 2)).tolist()
        for conversation, (x, y) in zip(conversations, points, strict=True):
            calls = self._calls(x, y, _offered_tool(conversation) or self.tool)
            text = "".join(f"<tool_call>\n{json.dumps(call)}\n</tool_call>" for call in calls)
            ids = self.tokenizer.encode(text, add_special_tokens=False) if self.tokenizer is not None else []
            generations.append(Generation(text=text, token_ids=ids, logprobs=[]))
        return generations

    @staticmethod
    def _calls(x: int, y: int, tool: str) -> list[dict[str, Any]]:
        if tool == "mobile_use":
            return [{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [x, y]}}]
        return [
            {"name": "computer_use", "arguments": {"action": "mouse_move", "coordinate": [x, y]}},
            {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [x, y]}},
        ]


def _offered_tool(conversation: Conversation) -> str | None:
    """The GUI tool the system turn offers, read as a model reads it: a phone's tool or a computer's."""
    for message in conversation:
        if message.get("role") != "system":
            continue
        content = message.get("content")
        parts = [content] if isinstance(content, str) else [p.get("text", "") for p in content or []]
        text = "".join(part for part in parts if isinstance(part, str))
        for tool in ("mobile_use", "computer_use"):
            if f'"name": "{tool}"' in text:
                return tool
    return None
