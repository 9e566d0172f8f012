"""MiniWoB++ tasks (the PyPI ``miniwob`` package's pages) as WebTasks, one gymnasium id per task.

The pages are opened from the installed package over ``file://``; an episode is seeded and
started the way ``miniwob`` itself does it (``Math.seedrandom``, ``core.startEpisodeReal``), but
MiniWoB's 10-second episode timer is switched off: an agent's budget is its step limit, not the
wall clock, which would make rewards depend on model speed. Success is the page's own raw reward.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import PrivateAttr, model_validator

from pixelpilot.envs.core.registry import Suite
from pixelpilot.envs.core.task import TaskStatus
from pixelpilot.envs.web.tasks import WebTask

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from pixelpilot.envs.web.env import WebEnv

TASK_AREA = (160, 210)
"""MiniWoB's ``#wrap`` in CSS px, the same for every task (core.css)."""

TALL_TASKS = {"drag-circle": (160, 220), "drag-shapes": (160, 220), "scroll-text": (160, 220)}
"""Tasks whose Submit button hangs below ``#wrap`` (measured: bottoms at 215–217 px over seeds)."""

ANIMATED_TASKS = frozenset({"chase-circle", "moving-items", "sign-agreement", "simon-says", "stock-market"})
"""Pages that change with no input (measured), so equal seeds need not give equal screenshots."""

DEVICE_SCALE_FACTOR = 3.0
"""160x210 CSS px become a 480x630 screenshot: text legible for a vision-language model."""

START_EPISODE_JS = """([seed, mode]) => {
  Math.seedrandom(seed);
  core.setDataMode(mode);
  core.startEpisodeReal();
  clearTimeout(core.EP_TIMER);
  core.EP_TIMER = 0;  // not null, so that endEpisode still records the reward
  core.clearTimer();
  const utterance = core.getUtterance();
  return [typeof utterance === 'string' ? utterance : utterance.utterance, WOB_TASK_READY === true];
}"""
"""Seed and start an episode as the ``miniwob`` package does, then disarm MiniWoB's episode timer."""
_STATUS_JS = "() => [WOB_DONE_GLOBAL === true, Number(WOB_RAW_REWARD_GLOBAL), WOB_REWARD_REASON]"


def miniwob_html_dir() -> Path:
    """The installed package's task pages, found without importing it (its import registers its own envs)."""
    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the 'miniwob' package is not installed (pip install miniwob)")
    return Path(next(iter(spec.submodule_search_locations))) / "html" / "miniwob"


@functools.cache
def miniwob_tasks() -> list[str]:
    """Every MiniWoB++ task name (``click-button``, ...), from the package's ``html/miniwob/*.html``."""
    return sorted(path.stem for path in miniwob_html_dir().glob("*.html"))


class MiniWoBTask(WebTask):
    """One MiniWoB++ task; ``data_mode`` is MiniWoB's train/test split switch (a few tasks use it)."""

    data_mode: str = "train"
    device_scale_factor: float = DEVICE_SCALE_FACTOR
    fresh_context: bool = False
    """MiniWoB pages keep no cookies or storage (checked: none use them), so reloading is a clean episode."""
    _last: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _task_area(cls, data: Any) -> Any:
        if isinstance(data, dict) and "viewport" not in data:
            return {**data, "viewport": TALL_TASKS.get(data.get("name", ""), TASK_AREA)}
        return data

    @model_validator(mode="after")
    def _known(self) -> MiniWoBTask:
        if self.name not in miniwob_tasks():
            raise ValueError(f"unknown MiniWoB++ task {self.name!r}")
        return self

    @property
    def url(self) -> str:
        return (miniwob_html_dir() / f"{self.name}.html").as_uri()

    def setup(self, page: Page, seed: int) -> str:
        page.goto(self.url)
        instruction, ready = page.evaluate(_HIDE_AND_START_JS, [seed, self.data_mode, HIDDEN_OUTSIDE_AREA_CSS])
        if not ready:
            page.wait_for_function("() => WOB_TASK_READY === true")
        self._last = {"raw_reward": 0.0, "reason": None}
        return " ".join(str(instruction).split())

    def validate(self, page: Page, answer: str | None = None) -> TaskStatus:
        done, raw, reason = page.evaluate(_STATUS_JS)
        self._last = {"raw_reward": float(raw), "reason": None if reason is None else str(reason)}
        if not done:
            return TaskStatus(0.0, False)
        return TaskStatus(1.0 if raw > 0 else 0.0, True, f"raw reward {raw:g}" + (f" ({reason})" if reason else ""))

    def episode_info(self, page: Page) -> dict[str, Any]:
        return dict(self._last)

    def default_origins(self) -> tuple[str, ...]:
        return ("file://",)

    def oracle(self, env: WebEnv) -> Iterator[str]:
        from pixelpilot.envs.web.miniwob.oracles import ORACLES

        if self.name not in ORACLES:
            raise NotImplementedError(f"MiniWoB++ task {self.name!r} has no oracle")
        return ORACLES[self.name](env.page, env.to_grid, env.oracle_cells)


HIDDEN_OUTSIDE_AREA_CSS = "#reward-display, #click-canvas { display: none !important; }"
"""MiniWoB's reward panel sits just right of the 160-px task area; when a task moves focus (click-dialog
does) the page scrolls sideways onto it and the task leaves the screen: it is hidden."""
_HIDE_AND_START_JS = f"""([seed, mode, css]) => {{
  const style = document.createElement('style');
  style.textContent = css;
  document.head.appendChild(style);
  return ({START_EPISODE_JS})([seed, mode]);
}}"""
"""The panel hidden and the episode started in one round trip (a reset's cost is mostly round trips)."""


def has_oracle(task: str) -> bool:
    from pixelpilot.envs.web.miniwob.oracles import ORACLES

    return task in ORACLES


def unsolved(task: str) -> str | None:
    """Why no oracle solves task reliably, for a page known to be broken."""
    from pixelpilot.envs.web.miniwob.oracles import UNSOLVED

    return UNSOLVED.get(task)


def make_miniwob_env(task: str, data_mode: str = "train", **kwargs: Any) -> WebEnv:
    """gymnasium entry point of ``pixelpilot/miniwob-<task>-v0``; kwargs go to WebEnv."""
    from pixelpilot.envs.web.env import WebEnv

    return WebEnv(MiniWoBTask(name=task, data_mode=data_mode), **kwargs)


MINIWOB = Suite(
    name="miniwob",
    id_format="pixelpilot/miniwob-{task}-v0",
    entry_point="pixelpilot.envs.web.miniwob.suite:make_miniwob_env",
    tasks=miniwob_tasks,
    has_oracle=has_oracle,
    unsolved=unsolved,
    nondeterministic=ANIMATED_TASKS.__contains__,
)
env_id = MINIWOB.env_id
