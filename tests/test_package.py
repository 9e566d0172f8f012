"""What ``import pixelpilot`` costs: the environment ids, and none of the heavy libraries behind them."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym

from pixelpilot.envs import registered_envs

HEAVY = ("playwright", "torch", "transformers", "ray", "vllm")


def test_import_registers_the_ids_and_loads_no_heavy_library() -> None:
    code = (
        "import json, sys, gymnasium, pixelpilot; "
        f"print(json.dumps([[m for m in {HEAVY!r} if m in sys.modules], "
        "sorted(i for i in gymnasium.registry if i.startswith('pixelpilot/'))]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    heavy, ids = json.loads(done.stdout)
    assert heavy == []  # a browser, a model or a cluster loads when an environment or a trainer needs it
    assert (
        len(ids) > 130 and "pixelpilot/miniwob-click-test-v0" in ids and "pixelpilot/synthetic-click-button-v0" in ids
    )


def test_every_id_registered_before_the_envs_redesign_is_still_registered_in_its_suite() -> None:
    """``tests/data/registered_envs.json`` is the id -> suite list of the flat ``envs/`` layout; adding an
    id means adding it there, so a suite that silently stops registering shows here."""
    expected = json.loads((Path(__file__).parent / "data" / "registered_envs.json").read_text(encoding="utf-8"))
    assert {entry.env_id: entry.suite for entry in registered_envs()} == expected
    for env_id in expected:
        module, _, name = str(gym.spec(env_id).entry_point).partition(":")
        assert callable(getattr(importlib.import_module(module), name)), env_id
