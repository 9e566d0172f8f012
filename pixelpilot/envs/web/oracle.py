"""What every oracle over a Playwright page shares: where an element can be touched, and how a step is said.

An oracle reads the page the way a person reads the screen (labels, text, where things are drawn,
what is on top), never the app's data or script, and answers with the tool-call text a model would
write: a solved episode checks the page, the input path, the grid mapping and the task check at
once, and its steps are demonstrations for supervised fine-tuning. MiniWoB++ (``computer_use``) and
the simulated phone (``mobile_use``) build their screens on this one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pixelpilot.envs.web.dom import SHOWS_AT_JS, VISIBLE_POINT_JS
from pixelpilot.errors import OracleError

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from pixelpilot.envs.core.actions import Action

ToGrid = Callable[[float, float], tuple[int, int]]
"""CSS px of the viewport -> the 0–1000 grid point of the observation (the env's ``to_grid``)."""

Cells = tuple[int, int]
"""A model's merged image tokens across and down the screenshot (``pixelpilot.model.images.token_cells``)."""


class PageScreen:
    """What an oracle sees (a page) and says (tool-call text, with the thought before it)."""

    def __init__(self, page: Page, to_grid: ToGrid, cells: Cells | None = None) -> None:
        self.page = page
        self.to_grid = to_grid
        self.cells = cells
        """When set, clicks aim at the centre of the image token that holds the target's centre (``aim``)."""

    def aim(self, element: Locator, x: float, y: float) -> tuple[float, float]:
        """The centre of the image token holding (x, y) where element shows there, else (x, y) (CSS px).

        A small model places a click to about one image token and writes the lower digits of a coordinate
        from habit; a token's own centre is a point it can name exactly (docs/nano.md, "Where a click lands").
        """
        if self.cells is None:
            return x, y
        width, height = self.page.evaluate("[innerWidth, innerHeight]")
        cell_x, cell_y = width / self.cells[0], height / self.cells[1]
        centre = ((x // cell_x + 0.5) * cell_x, (y // cell_y + 0.5) * cell_y)
        return centre if element.evaluate(SHOWS_AT_JS, list(centre)) else (x, y)

    def visible_point(self, element: Locator, at: tuple[float, float] = (0.5, 0.5)) -> tuple[float, float]:
        """The CSS-pixel point at which element shows on top, nearest the fraction ``at`` of its box."""
        xy = element.evaluate(VISIBLE_POINT_JS, list(at))
        if xy is None:
            raise OracleError(f"{element} is covered or off the screen")
        return xy[0], xy[1]

    @staticmethod
    def say(thought: str, action: Action) -> str:
        """One assistant turn: the thought, then the action's tool call."""
        call = action.to_tool_call().to_text()
        return f"{thought}\n{call}" if thought else call
