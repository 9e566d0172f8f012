"""Scripted solvers ("oracles") for MiniWoB++ tasks, one module per family of tasks.

``ORACLES[task](page, to_grid)`` yields the tool-call texts that solve the episode the page shows;
importing this package registers every family's solvers (``screen.oracle``).
"""

from __future__ import annotations

from pixelpilot.envs.web.miniwob.oracles import apps, clicking, forms, pointer, shapes, text, widgets
from pixelpilot.envs.web.miniwob.oracles.screen import BY_CHANCE, ORACLES, UNSOLVED, Oracle, ToGrid

__all__ = [
    "BY_CHANCE",
    "ORACLES",
    "UNSOLVED",
    "Oracle",
    "ToGrid",
    "apps",
    "clicking",
    "forms",
    "pointer",
    "shapes",
    "text",
    "widgets",
]
