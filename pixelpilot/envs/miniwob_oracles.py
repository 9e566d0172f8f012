"""Scripted solvers ("oracles") for MiniWoB++ tasks, speaking the same ``computer_use`` calls as a model.

An oracle reads the screen the way a person would (the instruction in ``#query``, the text and
position of elements) and answers with Qwen3-VL tool-call text, one step at a time. It never runs
page script that sets answers or rewards, so a solved episode proves that the environment, the
action parser and the coordinate mapping work end to end, and its steps are valid demonstrations
for supervised fine-tuning.

Each ``ORACLES[task](page, to_grid)`` is a generator: the environment executes each yielded text
before the generator resumes, so an oracle can look at the page again after every action.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from pixelpilot.envs.actions import ComputerAction
from pixelpilot.envs.page_scripts import VISIBLE_POINT_JS

if TYPE_CHECKING:
    from playwright.sync_api import FloatRect, Locator, Page

ToGrid = Callable[[float, float], tuple[int, int]]
Oracle = Callable[["Page", ToGrid], Iterator[str]]

ORACLES: dict[str, Oracle] = {}
"""MiniWoB++ task name (e.g. ``click-button``) -> its oracle."""

# jQuery UI widgets (accordions, tabs) animate; positions read mid-animation would be stale.
_SETTLED_JS = "() => !window.jQuery || window.jQuery(':animated').length === 0"

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


class OracleError(RuntimeError):
    """The page does not look the way the oracle expects (a bug in the oracle or the environment)."""


class _Screen:
    """What an oracle sees and does: reads the page, writes tool-call text."""

    def __init__(self, page: Page, to_grid: ToGrid) -> None:
        self.page = page
        self.to_grid = to_grid

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
            yield self._say(f"What I need is further {direction}; I scroll {direction}.", action)
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

    def css_point(self, target: Locator | str, at: tuple[float, float] = (0.5, 0.5)) -> tuple[float, float]:
        """The CSS-pixel point at which target is visible, nearest the fraction ``at`` of its box."""
        locator = self.locate(target)
        self.settle()
        xy = locator.first.evaluate(VISIBLE_POINT_JS, list(at))
        if xy is None:
            raise OracleError(f"no visible point for {locator}")
        return xy[0], xy[1]

    def point(self, target: Locator | str, at: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
        """The grid point at which target is visible, nearest the fraction ``at`` of its box (centre)."""
        return self.to_grid(*self.css_point(target, at))

    @staticmethod
    def _say(thought: str, action: ComputerAction) -> str:
        call = action.to_tool_call().to_text()
        return f"{thought}\n{call}" if thought else call

    def click(self, target: Locator | str, thought: str = "", at: tuple[float, float] = (0.5, 0.5)) -> str:
        return self._say(thought, ComputerAction(action="left_click", coordinate=self.point(target, at)))

    def type(self, text: str, thought: str = "") -> str:
        return self._say(thought or f'I type "{text}".', ComputerAction(action="type", text=text))

    def key(self, *keys: str, thought: str = "") -> str:
        return self._say(thought, ComputerAction(action="key", keys=list(keys)))

    def scroll_and_click(self, target: Locator | str, thought: str = "") -> Iterator[str]:
        """Bring target into sight if a scrolling box hides it, then click it."""
        yield from self.reveal(target)
        yield self.click(target, thought)

    def triple_click(self, target: Locator | str, thought: str = "", at: tuple[float, float] = (0.5, 0.5)) -> str:
        return self._say(thought, ComputerAction(action="triple_click", coordinate=self.point(target, at)))

    def drag(self, source: Locator | str, dx: float, dy: float, thought: str) -> Iterator[str]:
        """Press on source and drag it by (dx, dy) CSS px: left_click_drag starts where the mouse is."""
        x, y = self.css_point(source)
        yield self._say(thought, ComputerAction(action="mouse_move", coordinate=self.to_grid(x, y)))
        end = self.to_grid(x + dx, y + dy)
        yield self._say("I drag it to its place.", ComputerAction(action="left_click_drag", coordinate=end))

    def fill(self, field: Locator | str, text: str, what: str = "the text field") -> Iterator[str]:
        """Click a text field and type into it."""
        yield self.click(field, f"I click {what}.")
        yield self.type(text, f'I type "{text}" into {what}.')

    def submit(self, label: str = "Submit") -> str:
        return self.click(self.exact("button", label), f'I click "{label}".')


Solver = Callable[[_Screen], Iterator[str]]


def _oracle(*names: str) -> Callable[[Solver], Solver]:
    """Register a solver under one or more task names (variants of a task share its solver)."""

    def register(solver: Solver) -> Solver:
        def oracle(page: Page, to_grid: ToGrid) -> Iterator[str]:
            return solver(_Screen(page, to_grid))

        oracle.__doc__ = solver.__doc__
        for name in names:
            ORACLES[name] = oracle
        return solver

    return register


def _match(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    if match is None:
        raise OracleError(f"instruction {text!r} does not match {pattern!r}")
    return match


# ---------------------------------------------------------------- clicking


@_oracle("click-button", "unicode-test")
def _click_button(s: _Screen) -> Iterator[str]:
    """Click the button whose label the instruction quotes."""
    label = s.quoted()[0]
    yield s.click(s.exact("#area button", label), f'I click the "{label}" button.')


@_oracle("click-test")
def _click_test(s: _Screen) -> Iterator[str]:
    yield s.click("#subbtn", "I click the button.")


@_oracle("click-test-2", "click-test-transfer")
def _click_test_2(s: _Screen) -> Iterator[str]:
    label = _match(r"Click button (\w+)\.", s.query()).group(1)
    yield s.click(s.exact("#area button", label), f'I click the button "{label}".')


@_oracle("click-button-sequence")
def _click_button_sequence(s: _Screen) -> Iterator[str]:
    yield s.click(s.exact("#area button", "ONE"), 'First I click button "ONE".')
    yield s.click(s.exact("#area button", "TWO"), 'Then I click button "TWO".')


@_oracle("click-link")
def _click_link(s: _Screen) -> Iterator[str]:
    word = s.quoted()[0]
    yield s.click(s.exact("#area .alink", word), f'I click the link "{word}".')


@_oracle("click-dialog")
def _click_dialog(s: _Screen) -> Iterator[str]:
    yield from s.scroll_and_click(".ui-dialog-titlebar-close", 'I close the dialog with its "x" button.')


@_oracle("click-dialog-2")
def _click_dialog_2(s: _Screen) -> Iterator[str]:
    label = s.quoted()[0]
    target = ".ui-dialog-titlebar-close" if label == "x" else s.exact(".ui-dialog-buttonpane button", label)
    yield from s.scroll_and_click(target, f'I click "{label}" in the dialog.')


@_oracle("click-tab")
def _click_tab(s: _Screen) -> Iterator[str]:
    tab = _match(r"Tab #\d", s.query()).group(0)
    yield s.click(s.exact("#area ul a", tab), f"I click {tab}.")


@_oracle("click-tab-2", "click-tab-2-easy", "click-tab-2-medium", "click-tab-2-hard")
def _click_tab_2(s: _Screen) -> Iterator[str]:
    """Open the tab that holds the link, then click the link."""
    word = s.quoted()[-1]
    links = s.page.locator("#area .alink").filter(has_text=re.compile(rf"^\s*{re.escape(word)}\s*$"))
    if not links.count():
        # The medium variant may empty a tab; the link is then "on" the tab that shows nothing.
        for tab in s.page.locator("#area ul li:not(.ui-tabs-active) a").all():
            yield s.click(tab, f'"{word}" is not on this tab; I look at "{tab.inner_text().strip()}".')
        return
    if not links.filter(visible=True).count():
        panel = links.first.evaluate("el => el.closest('[role=tabpanel]').id")
        tab = s.page.locator(f'#area ul a[href="#{panel}"]')
        yield s.click(tab, f'The link "{word}" is not on this tab; I open "{tab.inner_text().strip()}".')
    yield s.click(s.exact("#area .alink", word), f'I click the link "{word}".')


@_oracle("click-widget")
def _click_widget(s: _Screen) -> Iterator[str]:
    kind = s.quoted()[0]
    yield s.click(f'#area [data-type="{kind}"]', f"I click a {kind} widget.")


@_oracle("click-option")
def _click_option(s: _Screen) -> Iterator[str]:
    name = _match(r"^Select (.*) and click Submit\.$", s.query()).group(1)
    yield s.click(s.exact("#boxes label", name).locator("input"), f'I select "{name}".')
    yield s.submit()


@_oracle("click-checkboxes", "click-checkboxes-large", "click-checkboxes-transfer")
def _click_checkboxes(s: _Screen) -> Iterator[str]:
    listed = _match(r"^Select (.*) and click Submit\.$", s.query()).group(1)
    names = [] if listed == "nothing" else [n.strip() for n in listed.split(",")]
    for name in names:
        yield s.click(s.exact("#area label", name).locator("input"), f'I check "{name}".')
    yield s.submit()


@_oracle("click-collapsible", "click-collapsible-nodelay")
def _click_collapsible(s: _Screen) -> Iterator[str]:
    yield s.click("#area h3", "I expand the section.")
    yield s.submit()


@_oracle("click-collapsible-2", "click-collapsible-2-nodelay")
def _click_collapsible_2(s: _Screen) -> Iterator[str]:
    """Expand the section that holds the link, then click the link."""
    word = s.quoted()[-1]
    link = s.page.locator("#area .alink").filter(has_text=re.compile(rf"^\s*{re.escape(word)}\s*$")).first
    if not link.is_visible():
        header = link.evaluate("el => el.closest('.ui-accordion-content').previousElementSibling.textContent")
        yield s.click(s.exact("#area h3", header.strip()), f'I expand "{header.strip()}" to look for "{word}".')
    yield s.click(s.exact("#area .alink", word), f'I click the link "{word}".')


@_oracle("identify-shape")
def _identify_shape(s: _Screen) -> Iterator[str]:
    """Name the figure from the SVG element that draws it."""
    tag, text = s.page.locator("#area_svg > *").first.evaluate("el => [el.tagName.toLowerCase(), el.textContent]")
    kind = {"rect": "rectangle", "circle": "circle", "polygon": "triangle"}.get(tag)
    if kind is None:
        kind = "digit" if text.strip().isdigit() else "letter"
    yield s.click(f'#area-buttons button[data-type="{kind}"]', f"The figure is a {kind}.")


@_oracle("navigate-tree")
def _navigate_tree(s: _Screen) -> Iterator[str]:
    """Expand the folders above the file, outermost first, then click it."""
    name = s.quoted()[-1]
    target = s.page.locator("#tree span").filter(has_text=re.compile(rf"^{re.escape(name)}$")).first
    while not target.is_visible():
        closed = target.evaluate(
            """el => { let f = null;
                for (let li = el.closest('li').parentElement.closest('li'); li; li = li.parentElement.closest('li'))
                  if (li.querySelector(':scope > ul').offsetParent === null) f = li;
                return f.querySelector(':scope > span').textContent; }"""
        )
        yield s.click(s.exact("#tree span.folder", closed), f'I open the folder "{closed}".')
    yield s.click(target, f'I click "{name}".')


# ---------------------------------------------------------------- typing


@_oracle("enter-text", "enter-text-dynamic")
def _enter_text(s: _Screen) -> Iterator[str]:
    text = s.quoted()[0]
    yield from s.fill("#tt", text)
    yield s.submit()


@_oracle("enter-text-2")
def _enter_text_2(s: _Screen) -> Iterator[str]:
    word = s.quoted()[0]
    text = word.upper() if "upper case" in s.query() else word.lower()
    yield from s.fill("#tt", text)
    yield s.submit()


@_oracle("enter-password")
def _enter_password(s: _Screen) -> Iterator[str]:
    password = s.quoted()[0]
    yield from s.fill("#password", password, "the password field")
    yield from s.fill("#verify", password, "the verify field")
    yield s.submit()


@_oracle("login-user", "login-user-popup")
def _login_user(s: _Screen) -> Iterator[str]:
    """Fill both fields; dismiss the session popup with Cancel whenever it appears."""
    user, password = s.quoted()[:2]
    for field, value, what in (
        ("#username", user, "the username field"),
        ("#password", password, "the password field"),
    ):
        yield s.click(field, f"I click {what}.")
        if s.page.locator("#popup").is_visible():
            yield s.click("#popup-cancel", "A popup asks to leave; I click Cancel.")
            yield s.click(field, f"I click {what} again.")
        yield s.type(value, f'I type "{value}".')
    label = s.page.locator("#subbtn").inner_text().strip()
    yield s.submit(label)


@_oracle("focus-text")
def _focus_text(s: _Screen) -> Iterator[str]:
    yield s.click("#tt", "I click into the textbox.")


@_oracle("focus-text-2")
def _focus_text_2(s: _Screen) -> Iterator[str]:
    nth = _match(r"(\d)(?:st|nd|rd|th) input", s.query()).group(1)
    yield s.click(f"#tt{nth}", f"I click the textbox number {nth}.")


@_oracle("simple-arithmetic")
def _simple_arithmetic(s: _Screen) -> Iterator[str]:
    problem = s.page.locator("#math-problem").inner_text()
    a, op, b = _match(r"(-?\d+)\s*([-+x])\s*(-?\d+)", problem).groups()
    answer = {"+": int(a) + int(b), "-": int(a) - int(b), "x": int(a) * int(b)}[op]
    yield from s.fill("#math-answer", str(answer), f"the answer box ({a} {op} {b} = {answer})")
    yield s.submit()


@_oracle("find-word")
def _find_word(s: _Screen) -> Iterator[str]:
    nth = int(_match(r"(\d+)(?:st|nd|rd|th) word", s.query()).group(1))
    words = s.page.locator("#area p").inner_text().split()
    word = re.sub(r"[^a-zA-Z]", "", words[nth - 1])
    yield from s.fill("#answer-input", word, f"the textbox (word {nth} is {word})")
    yield s.submit()


@_oracle("read-table")
def _read_table(s: _Screen) -> Iterator[str]:
    key = _match(r"value of (.*) into the text field", s.query()).group(1)
    rows = s.page.locator("#tab tr").all()
    value = next(row.locator("td").nth(1).inner_text() for row in rows if row.locator("td").first.inner_text() == key)
    yield from s.fill("#tt", value, f"the text field ({key} is {value})")
    yield s.submit()


@_oracle("text-transform")
def _text_transform(s: _Screen) -> Iterator[str]:
    text = "".join(span.inner_text() for span in s.page.locator("#captcha span").all())
    yield from s.fill("#tt", text, "the text field")
    yield s.submit()


@_oracle("guess-number")
def _guess_number(s: _Screen) -> Iterator[str]:
    """Binary search on the page's higher/lower feedback."""
    low, high = 0, 9
    while low <= high:
        guess = (low + high) // 2
        # The centre of a number field is its spin arrows; select the text part instead.
        yield s.triple_click("#tt", f"I select the guess box to try {guess}.", at=(0.25, 0.5))
        yield s.type(str(guess))
        yield s.submit()
        # A right guess ends the episode, so getting here means the page said higher or lower.
        if s.page.locator("#higher").is_visible():
            low = guess + 1
        else:
            high = guess - 1
    raise OracleError("the feedback never said the guess was right")


@_oracle("copy-paste")
def _copy_paste(s: _Screen) -> Iterator[str]:
    yield s.click("#to-copy", "I click into the text area.")
    yield s.key("ctrl", "a", thought="I select all of its text.")
    yield s.key("ctrl", "c", thought="I copy it.")
    yield s.click("#answer-input", "I click the textbox.")
    yield s.key("ctrl", "v", thought="I paste the text.")
    yield s.submit()


@_oracle("multi-orderings", "multi-layouts")
def _multi_layouts(s: _Screen) -> Iterator[str]:
    """Find each field by the label next to it, whatever the layout and order."""
    genre, name, year = (b.inner_text() for b in s.page.locator("#query b").all())
    labels = {"genre": genre, "director": name, "year": year, "released": year}
    fields = s.page.locator("#area input[type=text]").all()
    for field in fields:
        label = field.evaluate(
            "el => (el.closest('p, tr, .row, .field, .ui-entry') || el.parentElement).textContent"
        ).strip()
        value = next(v for k, v in labels.items() if k in label.lower())
        yield from s.fill(field, value, f'the "{label}" field')
    button = s.page.locator("#area button, #area .final, #area .ui-submit").first
    yield s.click(button, f'I click "{button.inner_text().strip()}".')


# ---------------------------------------------------------------- lists and widgets


@_oracle("choose-list")
def _choose_list(s: _Screen) -> Iterator[str]:
    """Focus the list, type the item's name to select it, then submit."""
    item = _match(r"^Select (.*) from the list and click Submit\.$", s.query()).group(1)
    yield s.click("#options", "I open the list.")
    yield s.type(item, f'I type "{item}" to pick it.')
    yield s.key("enter", thought="I confirm the choice.")
    yield s.submit()


@_oracle("click-scroll-list")
def _click_scroll_list(s: _Screen) -> Iterator[str]:
    """Click the first item, then add the others with the keyboard: ctrl+arrows move, ctrl+space toggles."""
    listed = _match(r"^Select (.*) from the scroll list and click Submit\.$", s.query()).group(1)
    options, listbox = s.page.locator("#options option"), s.page.locator("#options")
    names = [text.strip() for text in options.all_inner_texts()]
    wanted = sorted(names.index(name.strip()) for name in listed.split(","))
    if _in_view(options.nth(wanted[0]), listbox):
        yield s.click(options.nth(wanted[0]), f'I click "{names[wanted[0]]}".')
    else:
        last_shown = max(i for i in range(len(names)) if _in_view(options.nth(i), listbox))
        yield s.click(options.nth(last_shown), "I click the list to use the keyboard.")
        for _ in range(wanted[0] - last_shown):
            yield s.key("down", thought=f'I move down towards "{names[wanted[0]]}".')
    for previous, index in itertools.pairwise(wanted):
        for _ in range(index - previous):
            yield s.key("ctrl", "down", thought=f'I move to "{names[index]}" keeping the selection.')
        yield s.key("ctrl", "space", thought=f'I add "{names[index]}" to the selection.')
    yield s.submit()


def _in_view(item: Locator, box: Locator) -> bool:
    """Whether item lies wholly inside the scrolled box."""
    inner, outer = item.bounding_box(), box.bounding_box()
    if inner is None or outer is None:
        return False
    return inner["y"] >= outer["y"] and inner["y"] + inner["height"] <= outer["y"] + outer["height"]


@_oracle("use-autocomplete", "use-autocomplete-nodelay")
def _use_autocomplete(s: _Screen) -> Iterator[str]:
    """Type the prefix, then pick the suggestion that matches the wanted ending."""
    start, *ends = s.quoted()
    yield from s.fill("#tags", start, "the Tags field")
    suggestions = s.page.locator("ul.ui-autocomplete li")
    suggestions.first.wait_for(state="visible", timeout=5000)
    # Start and end may overlap ("Ni" ... "iger" is Niger), so test them separately.
    names = [text.strip() for text in suggestions.all_inner_texts()]
    name = next((n for n in names if n.startswith(start) and n.endswith(ends[0] if ends else "")), None)
    if name is None:
        raise OracleError(f"no suggestion starts with {start!r} and ends with {ends}")
    yield s.click(suggestions.nth(names.index(name)), f'I pick "{name}".')
    yield s.submit()


@_oracle("use-spinner")
def _use_spinner(s: _Screen) -> Iterator[str]:
    target = int(_match(r"Select (-?\d+) with", s.query()).group(1))
    while (value := int(s.page.locator("#spinner").input_value() or 0)) != target:
        arrow = ".ui-spinner-up" if value < target else ".ui-spinner-down"
        yield s.click(arrow, f"The spinner shows {value}; I click the {'up' if value < target else 'down'} arrow.")
    yield s.submit()


@_oracle("use-slider")
def _use_slider(s: _Screen) -> Iterator[str]:
    target = int(_match(r"Select (-?\d+) with the slider", s.query()).group(1))
    yield from _set_slider(s, "#slider", target)
    yield s.submit()


def _set_slider(s: _Screen, slider: str, target: int) -> Iterator[str]:
    """Click the track where the value should be, then nudge the focused handle with arrow keys."""
    lo, hi, vertical = s.page.locator(slider).evaluate(
        "el => { const o = jQuery(el).slider('option'); return [o.min, o.max, o.orientation === 'vertical']; }"
    )
    fraction = (target - lo) / (hi - lo)
    at = (0.5, 1 - fraction) if vertical else (fraction, 0.5)
    yield s.click(slider, f"I click the slider where {target} should be.", at=at)
    for _ in range(hi - lo):
        value = int(s.page.locator("#val").inner_text())
        if value == target:
            return
        key = ("up" if vertical else "right") if value < target else ("down" if vertical else "left")
        yield s.key(key, thought=f"The slider shows {value}; I press {key} to move it towards {target}.")
    raise OracleError(f"the slider never reached {target}")


@_oracle("form-sequence")
def _form_sequence(s: _Screen) -> Iterator[str]:
    match = _match(r"Select (-?\d+) with the slider, click the (\d)\w+ checkbox", s.query())
    target, nth = int(match.group(1)), match.group(2)
    yield from _set_slider(s, "#slider", target)
    yield s.click(f"#checkbox-{nth}", f"I click checkbox number {nth}.")
    yield s.submit()


@_oracle("simple-algebra")
def _simple_algebra(s: _Screen) -> Iterator[str]:
    problem = " ".join(s.page.locator("#math-problem").inner_text().split())
    if match := re.fullmatch(r"x ([-+]) (\d+) = (-?\d+)", problem):
        op, digit, total = match.group(1), int(match.group(2)), int(match.group(3))
        answer = total - digit if op == "+" else total + digit
    else:
        match = _match(r"^(\d+) ([-+]) x = (-?\d+)$", problem)
        digit, op, total = int(match.group(1)), match.group(2), int(match.group(3))
        answer = total - digit if op == "+" else digit - total
    yield from s.fill("#math-answer", str(answer), f"the answer box ({problem}, so x = {answer})")
    yield s.submit()


@_oracle("odd-or-even")
def _odd_or_even(s: _Screen) -> Iterator[str]:
    for row in s.page.locator("#numbers .row").all():
        number = int(row.locator(".display-number").inner_text())
        parity = "odd" if number % 2 else "even"
        yield s.click(row.locator(f"button.{parity}"), f"{number} is {parity}.")
    yield s.submit()


@_oracle("click-color")
def _click_color(s: _Screen) -> Iterator[str]:
    """Match the colour named (or shown as a swatch) in the instruction against the boxes' colours."""
    swatch = s.page.locator("#query-color")
    if swatch.count():
        wanted = swatch.evaluate("el => el.style.backgroundColor")
    else:
        wanted = s.page.locator("#query .bold").inner_text().strip()
    for box in s.page.locator("#area .color").all():
        if box.evaluate("el => el.style.backgroundColor") == wanted:
            yield s.click(box, f"I click the {wanted} box.")
            return
    raise OracleError(f"no box is {wanted}")


@_oracle("grid-coordinate")
def _grid_coordinate(s: _Screen) -> Iterator[str]:
    point = _match(r"\((-?\d),(-?\d)\)", s.query()).group(0)
    yield s.click(f'#area circle[id="{point}"]', f"I click the point {point} of the grid.")


@_oracle("search-engine")
def _search_engine(s: _Screen) -> Iterator[str]:
    """Search, turn to the page that holds the n-th result (three per page), click it."""
    term = s.quoted()[0]
    nth = int(_match(r"(\d+)(?:st|nd|rd|th) search result", s.query()).group(1))
    yield from s.fill("#search-text", term, "the search box")
    yield s.submit("Search")
    page_number = (nth - 1) // 3 + 1
    if page_number > 1:
        yield s.click(s.exact("#pagination a", str(page_number)), f"Result {nth} is on page {page_number}.")
    link = s.page.locator("#page-content a").nth((nth - 1) % 3)
    yield s.click(link, f'I click result {nth}, "{link.inner_text().strip()}".')


@_oracle(
    "email-inbox",
    "email-inbox-delete",
    "email-inbox-forward",
    "email-inbox-important",
    "email-inbox-noscroll",
    "email-inbox-reply",
    "email-inbox-star-reply",
)
def _email_inbox(s: _Screen) -> Iterator[str]:
    """Find the sender's email in the (scrolling) inbox and act on it."""
    query = s.query()
    sender = s.page.locator("#query .bold").first.inner_text()
    thread = (
        s.page.locator("#main .email-thread")
        .filter(has=s.page.locator(".email-sender", has_text=re.compile(rf"^{re.escape(sender)}$")))
        .first
    )
    if "trash icon" in query or "star icon" in query:
        icon = thread.locator(".trash" if "trash icon" in query else ".star")
        what = "trash" if "trash icon" in query else "star"
        yield from s.scroll_and_click(icon, f"I click the {what} icon of the email from {sender}.")
        return
    yield from s.scroll_and_click(thread.locator(".email-sender"), f"I open the email from {sender}.")
    if "reply to them" in query:
        message = s.quoted()[0]
        yield from s.scroll_and_click("#email .email-reply", "I click Reply.")
        yield from s.fill("#reply-text", message, "the reply box")
        yield s.click("#send-reply", "I send the reply.")
    else:
        recipient = s.page.locator("#query .bold").nth(1).inner_text()
        yield from s.scroll_and_click("#email .email-forward", "I click Forward.")
        yield from s.fill("#forward .forward-sender", recipient, "the recipient field")
        yield s.click("#send-forward", "I send the email.")


_SOCIAL_LABELS = {
    "Reply": "reply",
    "Retweet": "retweet",
    "Like": "like",
    "Share": "share",
    "Share via DM": "share",
    "Copy link to Tweet": "copy",
    "Embed Tweet": "embed",
    "Mute": "menu-user",
    "Block": "block-user",
    "Report": "report",
}


@_oracle("social-media", "social-media-all", "social-media-some")
def _social_media(s: _Screen) -> Iterator[str]:
    """Press the named button on the user's posts (all of them, some, or one), scrolling the feed."""
    label = s.quoted()[0]
    user = _match(r"(@\S+?)[,.]? ", s.query() + " ").group(1)
    some = re.search(r"on (\d+) posts? by", s.query())
    posts = s.page.locator("#area .media").filter(
        has=s.page.locator(".username", has_text=re.compile(rf"^{re.escape(user)}$"))
    )
    count = posts.count()
    wanted = int(some.group(1)) if some else (count if "on all posts" in s.query() else 1)
    cls = _SOCIAL_LABELS[label]
    for i in range(wanted):
        post = posts.nth(i)
        if not post.locator(f".controls > .{cls}").count():
            more, menu = post.locator(".more"), post.locator(".controls ul")
            yield from s.scroll_and_click(more, f"I open the menu of the post by {user}.")
            # Icons swap their image on hover; a click that lands while it loads is lost, so look and retry.
            for _ in range(2):
                if menu.is_visible():
                    break
                yield s.click(more, "The menu did not open; I click the menu icon again.")
        button = post.locator(f".controls > .{cls}, li.{cls}").first
        yield from s.scroll_and_click(button, f'I click "{label}" on a post by {user}.')
        # A button that toggles shows "active" once pressed; one that does not ends the episode, so the
        # oracle only gets back here if the click was lost.
        for _ in range(2):
            if "active" in (button.get_attribute("class") or "").split():
                break
            yield s.click(button, f'Nothing happened; I click "{label}" again.')
    submit = s.exact("#area button", "Submit")
    if submit.count():
        yield from s.scroll_and_click(submit, 'I click "Submit".')


@_oracle("enter-date")
def _enter_date(s: _Screen) -> Iterator[str]:
    """Type the date into the month/day/year segments of the date field (US order)."""
    month, day, year = _match(r"(\d\d)/(\d\d)/(\d{4})", s.query()).groups()
    yield s.click("#tt", "I click the month part of the date field.", at=(0.1, 0.5))
    yield s.type(f"{month}{day}{year}", f"I type {month}/{day}/{year}; the field moves from month to day to year.")
    yield s.submit()


@_oracle("enter-time")
def _enter_time(s: _Screen) -> Iterator[str]:
    """Type hours, minutes and AM/PM into the segments of the time field."""
    hour, minute, half = _match(r"(\d{1,2}):(\d\d) ?([AP]M)", s.query()).groups()
    yield s.click("#tt", "I click the hour part of the time field.", at=(0.1, 0.5))
    yield s.type(f"{int(hour):02d}{minute}{half}", f"I type {hour}:{minute} {half}.")
    yield s.submit()


@_oracle("drag-box")
def _drag_box(s: _Screen) -> Iterator[str]:
    """Drag the small box so that its corner lands in the middle of the large box's free margin."""
    small, large = s.box("#draggableSmall"), s.box("#draggableLarge")
    inset = (large["width"] - small["width"]) / 2
    dx, dy = large["x"] + inset - small["x"], large["y"] + inset - small["y"]
    yield from s.drag("#draggableSmall", dx, dy, "I press on the small box.")
    yield s.submit()


@_oracle("highlight-text")
def _highlight_text(s: _Screen) -> Iterator[str]:
    yield s.triple_click("#randomText", "I triple-click the paragraph to select all of it.")
    yield s.submit()


_DRAG_PLACES = {"to the top": 0, "to the bottom": -1, "down by one position": 1, "up by one position": -1}


@_oracle("drag-items")
def _drag_items(s: _Screen) -> Iterator[str]:
    """Drag the item onto the slot it must take, a little past that slot's centre."""
    match = _match(
        r"^Drag (.+?) (to the (?:top|bottom)|(?:down|up) by one position|to the (\d)\w\w position)\.$", s.query()
    )
    name, place = match.group(1), match.group(2)
    rows = s.page.locator("#sortable li")
    names = [text.strip() for text in rows.all_inner_texts()]
    index = names.index(name)
    if match.group(3):
        target = int(match.group(3)) - 1
    elif "by one" in place:
        target = index + _DRAG_PLACES[place]
    else:
        target = _DRAG_PLACES[place] % len(names)
    start, end = s.box(rows.nth(index)), s.box(rows.nth(target))
    dy = end["y"] - start["y"] + end["height"] * (0.3 if target > index else -0.3)
    yield from s.drag(rows.nth(index), 0, dy, f'I press on "{name}".')
