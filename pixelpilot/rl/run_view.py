"""``pixelpilot view OUTPUT_DIR``: one page for a training run, the way a person would want to read it.

A run folder holds its story in many files (``metrics.jsonl``, ``config.yaml``, ``run.json``,
``rollouts/step-N/``, ``checkpoints/``); ``index.html`` puts them together: the curves, the last step's
numbers, the last held-out evaluation per task, links to the saved rollouts, the checkpoints with the
spec that loads each, and the config and starts of the run. It is rebuilt from the files on every call,
so it is current whether the run is going, finished or was killed.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from pixelpilot.rl.checkpoint import list_checkpoints
from pixelpilot.rl.metrics import METRICS_FILE, PLOT_FILE, plot_curves, read_metrics
from pixelpilot.rl.pages import page
from pixelpilot.rl.rollout_log import INDEX_FILE, ROLLOUTS_DIR
from pixelpilot.rl.run_folder import CONFIG_FILE, RUN_FILE

LAST_STEP_KEYS = ("loss", "reward_mean", "success_rate", "eval_success_rate", "lr", "grad_norm", "tokens_trained")
EVAL_PREFIX = "eval/"


def is_run_folder(path: str | Path) -> bool:
    folder = Path(path)
    return any((folder / name).exists() for name in (METRICS_FILE, CONFIG_FILE, RUN_FILE))


def _last_eval(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    evaluated = [record for record in records if isinstance(record.get("eval_success_rate"), (int, float))]
    return evaluated[-1] if evaluated else None


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else escape(str(value))


def _curves(folder: Path, records: list[dict[str, Any]]) -> str:
    if not records or plot_curves(folder / METRICS_FILE, folder / PLOT_FILE) is None:
        return ""
    return f'<img src="{PLOT_FILE}" alt="training curves">'


def _last_step(records: list[dict[str, Any]]) -> str:
    if not records:
        return ""
    last = records[-1]
    cells = "".join(f"<tr><td>{key}</td><td>{_number(last[key])}</td></tr>" for key in LAST_STEP_KEYS if key in last)
    return f'<h2>step {last.get("step")}</h2><table class="numbers">{cells}</table>'


def _eval_table(records: list[dict[str, Any]]) -> str:
    evaluated = _last_eval(records)
    if evaluated is None:
        return ""
    rows = "".join(
        f"<tr><td>{escape(key[len(EVAL_PREFIX) :])}</td><td>{evaluated[key]:.1%}</td></tr>"
        for key in sorted(key for key in evaluated if key.startswith(EVAL_PREFIX))
    )
    rows += f"<tr><th>overall</th><th>{evaluated['eval_success_rate']:.1%}</th></tr>"
    return (
        f"<h2>held-out success at step {evaluated.get('step')}</h2>"
        f'<table class="numbers"><tr><th>task</th><th>success</th></tr>{rows}</table>'
    )


def _rollouts(folder: Path) -> str:
    pages = sorted((folder / ROLLOUTS_DIR).glob(f"step-*/{INDEX_FILE}"))
    if not pages:
        return ""
    links = "".join(f'<li><a href="{escape(p.relative_to(folder).as_posix())}">{p.parent.name}</a></li>' for p in pages)
    return f"<h2>rollouts</h2><ul>{links}</ul>"


def _checkpoints(folder: Path) -> str:
    found = list_checkpoints(folder)
    if not found:
        return ""
    items = "".join(f"<li>{path.name}: <code>--model hf:{escape(str(path))}</code></li>" for _, path in found)
    return f"<h2>checkpoints</h2><ul>{items}</ul><p>the newest: <code>--model run:{escape(str(folder))}</code></p>"


def _starts(folder: Path) -> str:
    run_file = folder / RUN_FILE
    if not run_file.exists():
        return ""
    run = json.loads(run_file.read_text(encoding="utf-8"))
    starts = "".join(
        f"<li>{escape(start['time'])} on {escape(start['host'])} from step {start['from_step']}: "
        f"<code>{escape(' '.join(start['command']))}</code></li>"
        for start in run.get("starts", [])
    )
    versions = ", ".join(f"{key} {value}" for key, value in run.items() if key != "starts" and value)
    return f"<h2>starts</h2><ul>{starts}</ul><p>{escape(versions)}</p>"


def _config(folder: Path) -> str:
    config_file = folder / CONFIG_FILE
    if not config_file.exists():
        return ""
    text = escape(config_file.read_text(encoding="utf-8"))
    return f"<details><summary>{CONFIG_FILE}</summary><pre>{text}</pre></details>"


def write_run_index(output_dir: str | Path) -> Path:
    """Write ``OUTPUT_DIR/index.html`` from the run's files; returns its path."""
    folder = Path(output_dir)
    if not is_run_folder(folder):
        raise FileNotFoundError(f"{folder} is not a run folder (no {METRICS_FILE}, {CONFIG_FILE} or {RUN_FILE})")
    records = read_metrics(folder / METRICS_FILE)
    sections = [
        _curves(folder, records),
        _last_step(records),
        _eval_table(records),
        _rollouts(folder),
        _checkpoints(folder),
        _starts(folder),
        _config(folder),
    ]
    body = "\n".join(filter(None, sections)) or "<p>nothing recorded yet</p>"
    path = folder / INDEX_FILE
    path.write_text(page(f"pixelpilot run: {folder.resolve().name}", body), encoding="utf-8")
    return path
