"""Rollouts you can watch: a few groups of an RL step saved as trajectories, HTML reports and an index.

A curve says that the reward moved; the rollouts say what the policy did to move it (which
buttons it clicked, what it wrote, where a format penalty came from). Every
``logging.rollouts_every`` steps the trainer writes ``rollouts/step-NNNNNN/``: one folder per
episode of the first ``logging.rollouts_groups`` groups (``trajectory.json``, screenshots and
``report.html`` with where each action landed) and an ``index.html`` listing each episode's reward
components and advantage.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

from pixelpilot.rl.pages import page
from pixelpilot.rl.rollout import EpisodeRecord

ROLLOUTS_DIR = "rollouts"
INDEX_FILE = "index.html"


@dataclass(frozen=True)
class ScoredEpisode:
    """An episode of the step with what the trainer made of it."""

    record: EpisodeRecord
    reward: float
    parts: dict[str, float]
    advantage: float | None
    """None when query filtering left its group out of the update."""


def save_rollouts(output_dir: Path, step: int, episodes: list[ScoredEpisode], groups: int) -> Path:
    """Write the first ``groups`` groups' episodes and their index; returns the step's folder."""
    folder = output_dir / ROLLOUTS_DIR / f"step-{step:06d}"
    chosen: list[str] = []
    for episode in episodes:
        if episode.record.group not in chosen and len(chosen) < groups:
            chosen.append(episode.record.group)
    rows = []
    for number, group in enumerate(chosen):
        members = [episode for episode in episodes if episode.record.group == group]
        for index, episode in enumerate(members):
            name = f"group-{number:02d}/episode-{index:02d}"
            directory = folder / name
            trajectory = episode.record.trajectory
            trajectory.save(directory)
            trajectory.to_html(directory / "report.html")
            parts = " ".join(f"{key} {value:+.2f}" for key, value in sorted(episode.parts.items()))
            advantage = "filtered out" if episode.advantage is None else f"{episode.advantage:+.3f}"
            rows.append(
                f'<tr><td>{escape(group)}</td><td><a class="{"ok" if episode.record.success else "fail"}" '
                f'href="{name}/report.html">{index}</a></td><td>{episode.reward:+.3f}</td><td>{escape(parts)}</td>'
                f"<td>{advantage}</td><td>{len(trajectory.steps)}</td>"
                f"<td>{escape(trajectory.end_reason or '')}</td></tr>"
            )
    table = (
        "<table><tr><th>group (query)</th><th>episode</th><th>reward</th><th>components</th><th>advantage</th>"
        f"<th>turns</th><th>ended</th></tr>\n{''.join(rows)}\n</table>"
    )
    html = page(f"rollouts, step {step}", table)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / INDEX_FILE).write_text(html, encoding="utf-8")
    return folder
