"""What ``import pixelpilot`` costs: the environment ids, and none of the heavy libraries behind them."""

from __future__ import annotations

import json
import subprocess
import sys

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
