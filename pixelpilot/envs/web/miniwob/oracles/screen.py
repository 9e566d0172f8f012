"""What a MiniWoB++ oracle sees and does, and the registry its solvers join with ``@oracle(task, ...)``.

An oracle reads the screen the way a person would (the instruction in ``#query``, the text and
position of elements) and answers with Qwen3-VL tool-call text, one step at a time. It never runs
page script that sets answers or rewards, so a solved episode proves that the environment, the
action parser and the coordinate mapping work end to end, and its steps are valid demonstrations
for supervised fine-tuning.

Each ``ORACLES[task](page, to_grid, cells=None)`` is a generator: the environment executes each yielded text
before the generator resumes, so an oracle can look at the page again after every action.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from pixelpilot.envs.core.actions import ComputerAction
from pixelpilot.envs.web.oracle import Cells, OracleError, PageScreen, ToGrid

if TYPE_CHECKING:
    from playwright.sync_api import FloatRect, Locator, Page

Oracle = Callable[["Page", ToGrid], Iterator[str]]

ORACLES: dict[str, Oracle] = {}
"""MiniWoB++ task name (e.g. ``click-button``) -> its oracle."""

UNSOLVED: dict[str, str] = {}
"""MiniWoB++ task name -> why no oracle solves it reliably (a bug of the page itself), said where the
task is listed (``pixelpilot envs``, the README) instead of an oracle that passes by luck."""

BY_CHANCE: dict[str, tuple[float, str]] = {}
"""MiniWoB++ task name -> (the share of episodes its oracle wins, why): the page plays against the agent by
chance, so no player wins every seed; the oracle plays the best odds."""

# jQuery UI widgets (accordions, tabs) animate; positions read mid-animation would be stale.
_SETTLED_JS = "() => !window.jQuery || window.jQuery(':animated').length === 0"

_CENTRES_JS = """(els) => els.map(el => {
  const r = el.getBoundingClientRect();
  return [r.x + r.width / 2, r.y + r.height / 2];
})"""

_NEXT_FRAME_JS = "() => new Promise(done => requestAnimationFrame(() => done()))"

# How far the nearest box that clips el must scroll to show it wholly, as [axis, CSS px (positive =
# down or right), x, y of a point over that box], or null when el is in sight. Vertical comes first.
_SCROLL_NEEDED_JS = """(el) => {
  const r = el.getBoundingClientRect();
  for (const [axis, lo, hi, overflow, size, client] of [
    ['y', 'top', 'bottom', 'overflowY', 'scrollHeight', 'clientHeight'],
    ['x', 'left', 'right', 'overflowX', 'scrollWidth', 'clientWidth'],
  ]) {
    let box = el.parentElement;
    while (box && box !== document.body && box !== document.documentElement
           && !(box[size] > box[client] + 1 && /(auto|scroll)/.test(getComputedStyle(box)[overflow])))
      box = box.parentElement;
    const page = !box || box === document.body || box === document.documentElement;
    const b = page ? null : box.getBoundingClientRect();
    const view = {
      top: page ? 0 : Math.max(0, b.top + box.clientTop),
      left: page ? 0 : Math.max(0, b.left + box.clientLeft),
    };
    view.bottom = Math.min(window.innerHeight, page ? window.innerHeight : view.top + box.clientHeight);
    view.right = Math.min(window.innerWidth, page ? window.innerWidth : view.left + box.clientWidth);
    if (r[lo] >= view[lo] - 0.5 && r[hi] <= view[hi] + 0.5) continue;
    const delta = r[lo] < view[lo] ? r[lo] - view[lo] - 4 : Math.min(r[hi] - view[hi] + 4, r[lo] - view[lo] - 4);
    return [axis, delta, (view.left + view.right) / 2, (view.top + view.bottom) / 2];
  }
  return null;
}"""


class MiniWoBScreen(PageScreen):
    """What a MiniWoB++ oracle sees and does: reads the page, writes ``computer_use`` text."""

    def query(self) -> str:
        """The task instruction, whitespace-normalised as MiniWoB's own getUtterance does."""
        return " ".join(self.page.locator("#query").inner_text().split())

    def quoted(self) -> list[str]:
        """The double-quoted strings of the instruction, in order."""
        return re.findall(r'"([^"]*)"', self.query())

    def settle(self) -> None:
        """Wait until widget animations end, so that positions are final."""
        if not self.page.evaluate(_SETTLED_JS):  # cheaper than wait_for_function, which waits a frame
            self.page.wait_for_function(_SETTLED_JS, timeout=5000)

    def reveal(self, target: Locator | str, max_scrolls: int = 8) -> Iterator[str]:
        """Scroll (with the mouse wheel) the box that clips target until target is wholly in sight."""
        locator = self.locate(target)
        for _ in range(max_scrolls):
            self.settle()
            self.page.evaluate(_NEXT_FRAME_JS)  # a wheel scroll shows on the frame after the event
            needed = locator.first.evaluate(_SCROLL_NEEDED_JS)
            if needed is None:
                return
            axis, delta, x, y = needed
            if axis == "y":
                direction = "down" if delta > 0 else "up"
                action = ComputerAction(action="scroll", coordinate=self.to_grid(x, y), pixels=-round(delta))
            else:
                direction = "right" if delta > 0 else "left"
                action = ComputerAction(action="hscroll", coordinate=self.to_grid(x, y), pixels=round(delta))
            yield self.say(f"What I need is further {direction}; I scroll {direction}.", action)
        raise OracleError(f"could not scroll {locator} into view")

    def exact(self, selector: str, text: str) -> Locator:
        """Visible elements matching selector whose whole text is exactly text."""
        pattern = re.compile(rf"^\s*{re.escape(text)}\s*$")
        return self.page.locator(selector).filter(has_text=pattern).filter(visible=True)

    def locate(self, target: Locator | str) -> Locator:
        return self.page.locator(target) if isinstance(target, str) else target

    def box(self, target: Locator | str) -> FloatRect:
        """Target's box in CSS px of the viewport."""
        box = self.locate(target).first.bounding_box()
        if box is None:
            raise OracleError(f"{target} is not displayed")
        return box

    def centres(self, target: Locator | str) -> list[tuple[float, float]]:
        """The centres of the boxes of everything target matches, in CSS px (where drawn figures are)."""
        return [(x, y) for x, y in self.locate(target).evaluate_all(_CENTRES_JS)]

    def css_point(self, target: Locator | str, at: tuple[float, float] = (0.5, 0.5)) -> tuple[float, float]:
        """The CSS-pixel point at which target is visible, nearest the fraction ``at`` of its box."""
        locator = self.locate(target)
        self.settle()
        return self.visible_point(locator.first, at)

    def point(self, target: Locator | str, at: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
        """The grid point at which target is visible, nearest the fraction ``at`` of its box (centre).

        Aimed at its image token's centre when the screen has ``cells`` and the point is the box's centre.
        """
        x, y = self.css_point(target, at)
        if at == (0.5, 0.5):
            x, y = self.aim(self.locate(target).first, x, y)
        return self.to_grid(x, y)

    def click(self, target: Locator | str, thought: str = "", at: tuple[float, float] = (0.5, 0.5)) -> str:
        return self.say(thought, ComputerAction(action="left_click", coordinate=self.point(target, at)))

    def type(self, text: str, thought: str = "") -> str:
        return self.say(thought or f'I type "{text}".', ComputerAction(action="type", text=text))

    def key(self, *keys: str, thought: str = "") -> str:
        return self.say(thought, ComputerAction(action="key", keys=list(keys)))

    def scroll_and_click(self, target: Locator | str, thought: str = "") -> Iterator[str]:
        """Bring target into sight if a scrolling box hides it, then click it."""
        yield from self.reveal(target)
        yield self.click(target, thought)

    def triple_click(self, target: Locator | str, thought: str = "", at: tuple[float, float] = (0.5, 0.5)) -> str:
        return self.say(thought, ComputerAction(action="triple_click", coordinate=self.point(target, at)))

    def drag(self, source: Locator | str, dx: float, dy: float, thought: str) -> Iterator[str]:
        """Press on source and drag it by (dx, dy) CSS px: left_click_drag starts where the mouse is."""
        x, y = self.css_point(source)
        yield self.say(thought, ComputerAction(action="mouse_move", coordinate=self.to_grid(x, y)))
        end = self.to_grid(x + dx, y + dy)
        yield self.say("I drag it to its place.", ComputerAction(action="left_click_drag", coordinate=end))

    def drag_onto(self, source: Locator, target: Locator, thought: str, past: float = 0.3) -> Iterator[str]:
        """Drag source past target's centre in the direction of travel: a sortable list moves only once crossed."""
        start, end = self.box(source), self.box(target)
        dx = end["x"] + end["width"] / 2 - start["x"] - start["width"] / 2
        dy = end["y"] + end["height"] / 2 - start["y"] - start["height"] / 2
        dx += math.copysign(end["width"] * past, dx) if abs(dx) > 1 else 0
        dy += math.copysign(end["height"] * past, dy) if abs(dy) > 1 else 0
        yield from self.drag(source, dx, dy, thought)

    def set_slider(self, slider: str, target: int, value: str = "#val") -> Iterator[str]:
        """Click the track where target should be, then nudge the handle with arrow keys until value shows it."""
        lo, hi, vertical = self.page.locator(slider).evaluate(
            "el => { const o = jQuery(el).slider('option'); return [o.min, o.max, o.orientation === 'vertical']; }"
        )
        fraction = (target - lo) / (hi - lo)
        at = (0.5, 1 - fraction) if vertical else (fraction, 0.5)
        yield self.click(slider, f"I click the slider where {target} should be.", at=at)
        for _ in range(hi - lo):
            shown = int(self.page.locator(value).inner_text())
            if shown == target:
                return
            key = ("up" if vertical else "right") if shown < target else ("down" if vertical else "left")
            yield self.key(key, thought=f"The slider shows {shown}; I press {key} to move it towards {target}.")
        raise OracleError(f"the slider never reached {target}")

    def fill(self, field: Locator | str, text: str, what: str = "the text field") -> Iterator[str]:
        """Click a text field and type into it."""
        yield self.click(field, f"I click {what}.")
        yield self.type(text, f'I type "{text}" into {what}.')

    def submit(self, label: str = "Submit") -> str:
        return self.click(self.exact("button", label), f'I click "{label}".')


Solver = Callable[[MiniWoBScreen], Iterator[str]]


def oracle(*names: str) -> Callable[[Solver], Solver]:
    """Register a solver under one or more task names (variants of a task share its solver)."""

    def register(solver: Solver) -> Solver:
        def oracle(page: Page, to_grid: ToGrid, cells: Cells | None = None) -> Iterator[str]:
            return solver(MiniWoBScreen(page, to_grid, cells))

        oracle.__doc__ = solver.__doc__
        for name in names:
            ORACLES[name] = oracle
        return solver

    return register


def match_instruction(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    if match is None:
        raise OracleError(f"instruction {text!r} does not match {pattern!r}")
    return match
