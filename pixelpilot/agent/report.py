"""A trajectory as one self-contained HTML page: each screenshot the model saw, what it thought,
what it called, and a marker where each pointer action landed.

Markers are placed in CSS percentages of the screenshot (``x / 10 %``, ``y / 10 %``), the same
0–1000 grid the model speaks, so they sit on the right pixel at any display size. Every piece
of model text is HTML-escaped: a report of an adversarial page must not run its script.
"""

from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    from pixelpilot.agent.trajectory import CallRecord, Landing, Step, Trajectory

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1500px; padding: 16px; color: #1d2430; }
header, section { border: 1px solid #d6dbe3; border-radius: 8px; padding: 12px 16px; margin-bottom: 16px; }
h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 16px; margin: 0 0 10px; }
h3 { font-size: 13px; margin: 10px 0 4px; color: #5a6475; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; } dt { color: #5a6475; }
.row { display: flex; gap: 16px; align-items: flex-start; }
.shot { position: relative; flex: 0 0 auto; width: min(60%, 900px); line-height: 0; }
.shot img { width: 100%; height: auto; border: 1px solid #c5ccd6; }
.shot svg { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
.marker { position: absolute; box-sizing: border-box; width: 24px; height: 24px; margin: -12px 0 0 -12px;
  border: 3px solid #e0182d;
  border-radius: 50%; background: rgba(224, 24, 45, .25); box-shadow: 0 0 0 2px #fff, 0 0 0 4px #111; }
.marker::after { content: ""; position: absolute; left: 50%; top: 50%; width: 4px; height: 4px; margin: -2px 0 0 -2px;
  border-radius: 50%; background: #111; box-shadow: 0 0 0 1px #fff; }
.marker.start { border-style: dashed; background: transparent; }
.marker .label { position: absolute; left: 26px; top: -4px; line-height: 1.2; white-space: nowrap; font-size: 12px;
  background: #111; color: #fff; padding: 1px 5px; border-radius: 3px; }
.text { flex: 1 1 auto; min-width: 0; }
pre { white-space: pre-wrap; word-break: break-word;
  background: #f5f7fa; padding: 6px 8px; border-radius: 4px; margin: 0; }
.call { border-left: 4px solid #2f9e44; padding: 2px 0 2px 8px; margin: 6px 0; }
.call.failed, .error { border-color: #e0182d; } .error { border-left: 4px solid #e0182d; padding-left: 8px; }
.badge { font-size: 12px; border-radius: 10px; padding: 1px 8px;
  color: #fff; background: #2f9e44; vertical-align: middle; }
.badge.bad { background: #e0182d; } .badge.neutral { background: #5a6475; }
"""


class _Images:
    """PNG data URIs, encoded once per distinct screenshot."""

    def __init__(self) -> None:
        self._cache: dict[int, str] = {}

    def uri(self, image: Image.Image) -> str:
        key = id(image)
        if key not in self._cache:
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            self._cache[key] = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        return self._cache[key]


def _marker(landing: Landing, number: int) -> str:
    label = f"{number}. {landing.action} ({landing.x}, {landing.y})"
    parts = []
    if landing.from_x is not None and landing.from_y is not None:
        parts.append(
            f'<svg viewBox="0 0 1000 1000" preserveAspectRatio="none"><line x1="{landing.from_x}" '
            f'y1="{landing.from_y}" x2="{landing.x}" y2="{landing.y}" stroke="#e0182d" stroke-width="3" '
            'vector-effect="non-scaling-stroke" stroke-dasharray="6 4"/></svg>'
        )
        parts.append(
            f'<div class="marker start" style="left:{landing.from_x / 10:g}%;top:{landing.from_y / 10:g}%"></div>'
        )
    parts.append(
        f'<div class="marker" data-x="{landing.x}" data-y="{landing.y}" title="{escape(label)}" '
        f'style="left:{landing.x / 10:g}%;top:{landing.y / 10:g}%"><span class="label">{escape(label)}</span></div>'
    )
    return "".join(parts)


def _screenshot(image: Image.Image | None, alt: str, landings: list[Landing], images: _Images) -> str:
    if image is None:
        return '<div class="shot"><p>(no screenshot)</p></div>'
    markers = "".join(_marker(landing, i + 1) for i, landing in enumerate(landings))
    return f'<div class="shot"><img src="{images.uri(image)}" alt="{escape(alt)}">{markers}</div>'


def _call(record: CallRecord) -> str:
    if record.call is not None:
        shown = f"{record.call.name} {json.dumps(record.call.arguments, ensure_ascii=False, default=str)}"
    else:
        shown = record.raw or ""
    outcome = (
        f'<div class="error">{escape(record.error)}</div>' if record.error else f"<div>→ {escape(record.text)}</div>"
    )
    reward = f"<div>reward {record.reward:g}</div>" if record.reward else ""
    state = " failed" if record.error else ""
    return f'<div class="call{state}"><pre>{escape(shown)}</pre>{outcome}{reward}</div>'


def _step(step: Step, images: _Images) -> str:
    badge = '<span class="badge bad">failed</span>' if step.failed else '<span class="badge">ok</span>'
    timing = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in step.timings.items())
    thought = f"<h3>Thought</h3><pre>{escape(step.thought)}</pre>" if step.thought else ""
    content = f"<h3>Text</h3><pre>{escape(step.content)}</pre>" if step.content else ""
    calls = "".join(_call(record) for record in step.calls)
    error = f'<div class="error">{escape(step.error)}</div>' if step.error else ""
    flags = [name for name in ("terminated", "truncated", "done") if getattr(step, name)]
    return (
        f'<section class="step" id="step-{step.index}"><h2>Step {step.index} {badge} '
        f"<small>reward {step.reward:g}{' · ' + ', '.join(flags) if flags else ''}</small></h2>"
        f'<div class="row">{_screenshot(step.screenshot, f"screenshot at step {step.index}", step.landings, images)}'
        f'<div class="text">{thought}{content}<h3>Calls</h3>{calls or "<p>(none)</p>"}{error}'
        f"<details><summary>Raw response</summary><pre>{escape(step.text)}</pre></details>"
        f"<h3>Timings</h3><p>{escape(timing)}</p></div></div></section>"
    )


_FOLLOW_JS = "addEventListener('load', () => scrollTo(0, document.body.scrollHeight))"
"""A page reloaded while the episode runs keeps the newest step in sight."""


def render_report(trajectory: Trajectory, refresh_s: float | None = None) -> str:
    """The HTML text of the report; ``refresh_s`` makes the page reload itself (an episode still running)."""
    images = _Images()
    if trajectory.success:
        verdict = '<span class="badge">success</span>'
    elif trajectory.end_reason is None:
        verdict = '<span class="badge neutral">running</span>'
    else:
        verdict = '<span class="badge bad">failure</span>'
    facts = {
        "environment": trajectory.env_id,
        "model": trajectory.model,
        "seed": trajectory.seed,
        "steps": len(trajectory.steps),
        "reward": f"{trajectory.reward:g}",
        "ended by": trajectory.end_reason,
        "answer": trajectory.answer,
        "error": trajectory.error,
    }
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts.items() if v is not None)
    final = _screenshot(trajectory.final_screenshot, "final screen", [], images)
    live = ""
    if refresh_s is not None:
        live = f'<meta http-equiv="refresh" content="{refresh_s:g}"><script>{_FOLLOW_JS}</script>'
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{live}<title>pixelpilot: '
        f"{escape(trajectory.instruction[:80])}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{escape(trajectory.instruction) or '(no instruction)'} {verdict}</h1><dl>{rows}</dl></header>"
        + "".join(_step(step, images) for step in trajectory.steps)
        + f'<section class="outcome"><h2>Outcome {verdict}</h2><div class="row">{final}</div></section>'
        "</body></html>"
    )


def write_report(trajectory: Trajectory, path: str | Path, refresh_s: float | None = None) -> Path:
    """Write the report to path (parents created) in one rename, so that a browser reloading it never
    reads half a page; returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(render_report(trajectory, refresh_s), encoding="utf-8")
    partial.replace(out)
    return out
