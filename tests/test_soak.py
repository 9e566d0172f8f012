"""The soak bench at small size: episodes over web, desktop and simulated-Android tasks with their browser, X
server, program and phone killed mid-episode; nothing is lost and nothing outlives ``close()``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[1] / "bench" / "soak.py"


def test_killed_processes_lose_no_episode_and_leave_nothing_behind() -> None:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    report = module.soak(episodes=12, kill_every=6, max_steps=2)
    assert report.lost == []
    assert report.kills == 3  # the web browser, the desktop's program, the phone's browser
    assert sum(report.ends.values()) == 12 and report.ends.get("env_truncated", 0) >= 2
    assert report.left == []
    assert report.steps > 12
