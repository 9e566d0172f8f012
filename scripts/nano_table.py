"""Print the README's pixelpilot-nano tables (markdown) from the summaries scripts/eval_nano.sh wrote.

python scripts/nano_table.py [RUNS]      # RUNS defaults to runs/nano
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = (("random", "random clicks"), ("sft", "nano after SFT"), ("nano", "nano after RL (shipped)"))


def cell(summary: dict | None) -> str:
    if summary is None:
        return "–"
    return f"{summary['success_rate']:.0%} ({summary['ci_low']:.0%}–{summary['ci_high']:.0%})"


def table(runs: Path, kind: str) -> str:
    found = {}
    for name, _ in COLUMNS:
        path = runs / "eval" / f"{name}-{kind}" / "summary.json"
        if path.exists():
            found[name] = {s["task"]: s for s in json.loads(path.read_text())["summaries"]}
    tasks = list(next(iter(found.values()), {}))
    lines = [
        "| task | " + " | ".join(title for _, title in COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for task in tasks:
        row = [cell(found.get(name, {}).get(task)) for name, _ in COLUMNS]
        label = f"**{task}**" if task == "overall" else task
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/nano")
    for kind in ("trained", "unseen"):
        print(f"### {kind}\n\n{table(runs, kind)}\n")


if __name__ == "__main__":
    main()
