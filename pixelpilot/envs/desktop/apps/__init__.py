"""Small Tk programs that pixelpilot ships for desktop tasks, each saving its real state as JSON.

Each app is a standalone script (``<name>.py``) started with ``--state FILE --params JSON``; it
rewrites FILE atomically after every change with ``{"ready", "state", "widgets", "geometry",
"window"}``: ``state`` is what a task's check reads, the rest (screen rectangles in pixels) is
what an oracle aims with. ``tkapp.py`` is their shared scaffolding.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

APP_DIR = Path(__file__).resolve().parent
APPS = ("checklist", "form", "gallery", "longlist", "notes", "recorder", "records", "settings", "shapes")


def app_argv(app: str, state_path: Path, params: dict[str, Any]) -> list[str]:
    """The command line that starts one app writing its state to state_path."""
    if app not in APPS:
        raise ValueError(f"unknown desktop app {app!r}; shipped: {', '.join(APPS)}")
    return [sys.executable, str(APP_DIR / f"{app}.py"), "--state", str(state_path), "--params", json.dumps(params)]


def read_state(path: Path) -> dict[str, Any] | None:
    """An app's last saved document, or None before its first save."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None
