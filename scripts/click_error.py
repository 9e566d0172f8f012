"""How far from the oracle's click does a model's first click land? Per task, from `pixelpilot eval` folders.

Each episode's seed is reset again and its oracle asked for its first click (the element's centre on the
0-1000 grid); the table compares it with the click the model made on the same screen. A model that knows
*which* element but not *where* inside it clicks near the oracle in one axis and off in the other; the
commonest last two digits show whether a coordinate's lower digits follow the screen or a habit.

    python scripts/click_error.py runs/nano/eval/nano-trained [more eval folders ...]

Seeds whose oracle does not click first, or cannot (its target covered), are left out of the table.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import gymnasium as gym
from rich.console import Console
from rich.table import Table

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.envs.web.oracle import OracleError
from pixelpilot.rl.demos import oracle_texts

CLICK = re.compile(r'"coordinate": \[(\d+), (\d+)\]')


def first_click(arguments: dict) -> tuple[int, int] | None:
    coordinate = arguments.get("coordinate")
    if isinstance(coordinate, list) and len(coordinate) == 2 and all(isinstance(v, int) for v in coordinate):
        return coordinate[0], coordinate[1]
    return None


def oracle_click(env: gym.Env, seed: int) -> tuple[int, int] | None:
    env.reset(seed=seed)
    try:
        text = next(oracle_texts(env))
    except (OracleError, StopIteration):
        return None
    found = CLICK.search(text)
    return (int(found[1]), int(found[2])) if found else None


def pairs(folder: Path) -> dict[str, list[tuple[tuple[int, int], tuple[int, int]]]]:
    """Task → (model's first click, oracle's first click) for every episode of an eval folder."""
    found: dict[str, list[tuple[tuple[int, int], tuple[int, int]]]] = defaultdict(list)
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    for task in sorted({row["task"] for row in rows}):
        trajectories = [
            json.loads((folder / row["trajectory"] / "trajectory.json").read_text())
            for row in rows
            if row["task"] == task
        ]
        env = gym.make(trajectories[0]["env_id"])
        try:
            for trajectory in trajectories:
                steps = trajectory["steps"]
                calls = steps[0]["calls"] if steps else []
                model = first_click(calls[0]["call"]["arguments"]) if calls else None
                oracle = oracle_click(env, trajectory["seed"])
                if model is not None and oracle is not None:
                    found[task].append((model, oracle))
        finally:
            env.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="pixelpilot eval --out folders")
    args = parser.parse_args()
    table = Table("folder", "task", "episodes", "median |dx|", "median |dy|", "|dy| ≤ 50", "x mod 100", "y mod 100")
    for folder in args.folders:
        for task, found in pairs(folder).items():
            dx = [abs(model[0] - oracle[0]) for model, oracle in found]
            dy = [abs(model[1] - oracle[1]) for model, oracle in found]
            habits = [Counter(model[axis] % 100 for model, _ in found).most_common(1)[0] for axis in (0, 1)]
            table.add_row(
                folder.name,
                task,
                str(len(found)),
                f"{statistics.median(dx):.0f}",
                f"{statistics.median(dy):.0f}",
                f"{sum(d <= 50 for d in dy) / len(dy):.0%}",
                *(f"{digits:02d} ({count / len(found):.0%})" for digits, count in habits),
            )
    Console().print(table)


if __name__ == "__main__":
    main()
