"""A run folder that explains itself: the resolved config, what ran it, and a resume that cannot mix configs.

``config.yaml`` is the whole config with every default filled in, so a run is reproduced from its
folder alone; ``run.json`` says which code and which machine ran it, once per start. A resumed run
compares its config with the saved one: what only changes how long the run goes or what it reports
(``steps``, ``eval``, ``logging``, ``checkpoint``) is applied, anything else is refused with each key's
old and new value unless the user allows it, so that an edited learning rate is never silently
ignored nor silently mixed into a run that started with another.
"""

from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from pixelpilot.errors import ConfigError

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
SAFE_TO_CHANGE = ("steps", "eval", "logging", "checkpoint")
"""Top-level sections a resumed run may change freely: they do not change what a step computes."""


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys (list items numbered) to leaf values, as command-line overrides name them."""
    if isinstance(data, dict):
        items: list[tuple[str, Any]] = list(data.items())
    elif isinstance(data, list):
        items = [(str(index), value) for index, value in enumerate(data)]
    else:
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    if not items and prefix:
        flat[prefix] = data
    return flat


def config_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, old, new)`` for every leaf that differs outside the sections safe to change."""
    old, new = flatten(saved), flatten(current)
    changed = []
    for key in sorted(old.keys() | new.keys()):
        if key.split(".", 1)[0] in SAFE_TO_CHANGE:
            continue
        if old.get(key) != new.get(key):
            changed.append((key, old.get(key), new.get(key)))
    return changed


def check_resume(output: Path, config: BaseModel, *, allow_change: bool) -> list[tuple[str, Any, Any]]:
    """Refuse a resume whose config differs from the saved one in a key that changes the training.

    Returns the changes (applied by the caller) when ``allow_change`` is set; a run folder without a
    saved config (made by an older pixelpilot) is resumed as it is.
    """
    path = output / CONFIG_FILE
    if not path.exists():
        return []
    saved = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    changes = config_changes(saved, config.model_dump(mode="json"))
    if changes and not allow_change:
        lines = "\n".join(f"  {key}: {old!r} -> {new!r}" for key, old, new in changes)
        raise ConfigError(
            f"{output} was started with another config; resuming would mix the two:\n{lines}\n"
            "use another output_dir, restore these values, or pass --allow-config-change to apply them"
        )
    return changes


def write_run_files(output: Path, config: BaseModel, step: int) -> None:
    """Write ``config.yaml`` (resolved) and add this start to ``run.json``."""
    output.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    (output / CONFIG_FILE).write_text(text, encoding="utf-8")
    run_file = output / RUN_FILE
    record = json.loads(run_file.read_text(encoding="utf-8")) if run_file.exists() else {}
    record.update(_versions())
    record.setdefault("starts", []).append(
        {
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "command": sys.argv,
            "cwd": str(Path.cwd()),
            "from_step": step,
        }
    )
    run_file.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _versions() -> dict[str, Any]:
    versions: dict[str, Any] = {"python": platform.python_version(), "git_commit": _git_commit()}
    for package in ("pixelpilot", "torch", "transformers"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _git_commit() -> str | None:
    """The commit of the checkout pixelpilot runs from, when it runs from one."""
    source = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None
