"""How the simulated phone's oracles see and act: find an element by what it shows, answer in ``mobile_use``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixelpilot.envs.core.actions import MobileAction
from pixelpilot.envs.web.oracle import OracleError, PageScreen

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Locator

    from pixelpilot.envs.android.env import AndroidEnv

# How far the list that holds el must scroll to show it wholly: [pixels (positive: el is below),
# the list's centre x, top, bottom], or null when el is in sight or in no scrolling list.
_SCROLL_NEEDED_JS = """(el) => {
  const list = el.closest('.scroll');
  if (!list) return null;
  const r = el.getBoundingClientRect(), c = list.getBoundingClientRect();
  const margin = 16;
  if (r.top >= c.top - 0.5 && r.bottom <= c.bottom + 0.5) return null;
  const delta = r.bottom > c.bottom ? r.bottom - c.bottom + margin : r.top - c.top - margin;
  return [delta, c.left + c.width / 2, c.top, c.bottom];
}"""

TOUCH_SLOP = 16
"""CSS px a finger moves before Chromium starts to scroll; a swipe scrolls its length less this."""


class PhoneScreen(PageScreen):
    """What an oracle sees (the phone's page) and says (``mobile_use`` tool-call text)."""

    def __init__(self, env: AndroidEnv) -> None:
        super().__init__(env.page, env.to_grid)

    # -- finding things on the screen --------------------------------------------------------------

    def button(self, name: str) -> Locator:
        """A button (or menu item, tab, radio choice) by its label, as screen readers name it."""
        found = self.page.get_by_role("button", name=name, exact=True)
        for role in ("menuitem", "tab", "radio"):
            found = found.or_(self.page.get_by_role(role, name=name, exact=True))  # type: ignore[arg-type]
        return found

    def text(self, text: str) -> Locator:
        return self.page.get_by_text(text, exact=True)

    def field(self, label: str) -> Locator:
        return self.page.get_by_role("textbox", name=label, exact=True)

    def switch(self, name: str) -> Locator:
        return self.page.get_by_role("switch", name=name, exact=True)

    def read(self, target: Locator) -> str:
        """The text an element shows."""
        return " ".join(self._one(target).inner_text().split())

    def _one(self, target: Locator) -> Locator:
        visible = target.filter(visible=True)
        if visible.count() == 0:
            raise OracleError(f"{target} is not on the screen")
        return visible.first

    def point(self, target: Locator) -> tuple[int, int]:
        """The grid point at which target can be touched."""
        return self.to_grid(*self.visible_point(self._one(target)))

    # -- acting ------------------------------------------------------------------------------------

    def tap(self, target: Locator, thought: str) -> str:
        return self.say(thought, MobileAction(action="click", coordinate=self.point(target)))

    def long_press(self, target: Locator, thought: str) -> str:
        return self.say(thought, MobileAction(action="long_press", coordinate=self.point(target)))

    def type(self, text: str, thought: str = "") -> str:
        return self.say(thought or f'I type "{text}".', MobileAction(action="type", text=text))

    def key(self, key: str, thought: str) -> str:
        return self.say(thought, MobileAction(action="key", text=key))

    def system_button(self, button: str, thought: str) -> str:
        return self.say(thought, MobileAction(action="system_button", button=button))

    def open(self, app: str) -> str:
        return self.say(f"I open the {app} app.", MobileAction(action="open", text=app))

    def answer(self, text: str, thought: str) -> str:
        return self.say(thought, MobileAction(action="answer", text=text))

    def reveal(self, target: Locator, max_swipes: int = 12) -> Iterator[str]:
        """Swipe the list that holds target until target is wholly in sight."""
        for _ in range(max_swipes):
            needed = self._one(target).evaluate(_SCROLL_NEEDED_JS)
            if needed is None:
                return
            delta, x, top, bottom = needed
            height = bottom - top
            distance = min(abs(delta) + TOUCH_SLOP, 0.6 * height)
            middle = (top + bottom) / 2
            start, end = (
                (middle + distance / 2, middle - distance / 2)
                if delta > 0
                else (middle - distance / 2, middle + distance / 2)
            )
            direction = "further down" if delta > 0 else "further up"
            action = MobileAction(action="swipe", coordinate=self.to_grid(x, start), coordinate2=self.to_grid(x, end))
            yield self.say(f"What I need is {direction} the list; I swipe to scroll.", action)
        raise OracleError(f"could not scroll {target} into sight")

    def scroll_and_tap(self, target: Locator, thought: str) -> Iterator[str]:
        yield from self.reveal(target)
        yield self.tap(target, thought)

    def fill(self, label: str, text: str) -> Iterator[str]:
        """Tap a text field and type into it."""
        yield self.tap(self.field(label), f'I tap the "{label}" field.')
        yield self.type(text, f'I type "{text}".')
