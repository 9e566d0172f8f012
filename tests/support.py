"""Small helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pixelpilot.envs.core.actions import ComputerAction, parse_action

VISION_TOKENS = ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def solve_with_oracle(env: Any, texts: Iterable[str], where: str, max_steps: int) -> None:
    """Feed an oracle's texts to ``env.step`` as a model's raw text; assert each step and the solved episode."""
    reward, info = play_with_oracle(env, texts, where, max_steps)
    assert reward == 1.0, f"{where}: reward {reward}, {info.get('message')}"
    assert info["success"] is True


def play_with_oracle(env: Any, texts: Iterable[str], where: str, max_steps: int) -> tuple[float, dict[str, Any]]:
    """Feed an oracle's texts to ``env.step`` as a model's raw text; assert each step and that the episode ended.
    Returns the last reward and info."""
    reward, terminated, steps, info, obs = 0.0, False, 0, {}, {"instruction": ""}
    for text in texts:
        assert text.count("<tool_call>") == 1 and text.rstrip().endswith("</tool_call>")
        assert isinstance(parse_action(text), ComputerAction)
        obs, reward, terminated, truncated, info = env.step(text)
        steps += 1
        assert "action_error" not in info, f"{where}: {info['action_error']}"
        assert not truncated
        if terminated or steps >= max_steps:
            break
    assert terminated, f"{where} ({obs['instruction']!r}): not done after {steps} steps"
    return reward, info


def rl_config(tiny_checkpoint: Path, out: Path, **overrides: object) -> dict:
    """A small RL run on the synthetic click task: two steps of 2 queries x 3 episodes, checkpoints every step."""
    config = {
        "model": {"path": str(tiny_checkpoint)},
        "output_dir": str(out),
        "seed": 0,
        "steps": 2,
        "agent": {"max_steps": 1, "role_prompt": "You are a GUI agent."},
        "tasks": [{"env_id": "pixelpilot/synthetic-click-button-v0", "num_seeds": 20}],
        "rollout": {
            "group_size": 3,
            "queries_per_step": 2,
            "sampling": {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "max_new_tokens": 16},
        },
        "optim": {"lr": 0.002, "micro_batch_size": 4},
        "checkpoint": {"every": 1, "keep": 1},
        "logging": {"progress": False},
    }
    config.update(overrides)
    return config


def response_logits(backend: Any, conversation: list[dict], token_ids: list[int]) -> Any:
    """The model's raw logits at each response position, from one teacher-forced pass over prompt + response."""
    import torch

    text, images = backend.render(conversation)
    inputs = backend.processor(text=[text], images=images or None, return_tensors="pt")
    prompt_length = inputs["input_ids"].shape[1]
    response = torch.tensor([token_ids])
    inputs["input_ids"] = torch.cat([inputs["input_ids"], response], dim=1)
    inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    inputs["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(response)], dim=1)
    with torch.inference_mode():
        logits = backend.model(**inputs).logits[0, prompt_length - 1 : -1].float()
    return logits.clone()  # a normal tensor: callers mask it in place


def biased_head(backend: Any) -> dict[str, Any]:
    """Weights of the backend's model whose head puts most of its mass on the vision tokens.

    The final norm keeps two coordinates of the hidden state, and each vision token's row reads one
    of them with a large weight, one sign per token of a pair: whatever the signs of the hidden
    state, a vision token leads. The other rows are the checkpoint's own.
    """
    import torch

    state = backend.model.state_dict()
    norm = next(name for name in state if name.endswith("language_model.norm.weight"))
    head = next(name for name in state if name.endswith("lm_head.weight"))
    gain = torch.zeros_like(state[norm])
    gain[:2] = 1.0
    lm_head = state[head].clone()
    tokens = backend.tokenizer.convert_tokens_to_ids(list(VISION_TOKENS))
    for token, column, sign in zip(tokens, (0, 0, 1, 1), (1, -1, 1, -1), strict=True):
        lm_head[token] = 0.0
        lm_head[token, column] = 40.0 * sign
    return {**state, norm: gain, head: lm_head}


ORACLE_SEEDS = range(int(os.environ.get("PIXELPILOT_ORACLE_SEEDS", "3")))
"""Seeds each task's oracle is played on: 3 by default, more with ``PIXELPILOT_ORACLE_SEEDS`` for a full sweep."""
