"""Small helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pixelpilot.envs.actions import ComputerAction, parse_action


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def solve_with_oracle(env: Any, texts: Iterable[str], where: str, max_steps: int) -> None:
    """Feed an oracle's texts to ``env.step`` as a model's raw text; assert each step and the solved episode."""
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
    where = f"{where} ({obs['instruction']!r})"
    assert terminated, f"{where}: not done after {steps} steps"
    assert reward == 1.0, f"{where}: reward {reward}, {info.get('message')}"
    assert info["success"] is True


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
