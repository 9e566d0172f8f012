"""Oracles of the form tasks: dates, menus, checkboxes, numbers, reading and scrolling text."""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from pixelpilot.envs.core.actions import ComputerAction
from pixelpilot.envs.web.miniwob.oracles.screen import MiniWoBScreen, match_instruction, oracle
from pixelpilot.envs.web.oracle import OracleError

if TYPE_CHECKING:
    from playwright.sync_api import Locator

_POSITIONS = {"1st": 1, "2nd": 2, "3rd": 3}


def pick_date(s: MiniWoBScreen, field: str, date: str) -> Iterator[str]:
    """Open the jQuery UI datepicker of field, page back to the month of date (MM/DD/YYYY), click its day."""
    month, day, year = (int(part) for part in match_instruction(r"(\d\d)/(\d\d)/(\d{4})", date).groups())
    yield s.click(field, "I click the date field to open the calendar.")
    for _ in range(24):
        shown = s.page.locator(".ui-datepicker-title").inner_text().split()
        shown_month, shown_year = list(calendar.month_name).index(shown[0]), int(shown[1])
        if (shown_year, shown_month) == (year, month):
            break
        back = (shown_year, shown_month) > (year, month)
        button = ".ui-datepicker-prev" if back else ".ui-datepicker-next"
        yield s.click(button, f"The calendar shows {shown[0]} {shown_year}; I go {'back' if back else 'on'} a month.")
    day_link = s.exact(".ui-datepicker-calendar td[data-handler=selectDay] a", str(day))
    yield s.click(day_link, f"I click day {day} of {calendar.month_name[month]} {year}.")


@oracle("choose-date", "choose-date-easy", "choose-date-medium", "choose-date-nodelay")
def _choose_date(s: MiniWoBScreen) -> Iterator[str]:
    yield from pick_date(s, "#datepicker", s.query())
    yield s.submit()


_SYNONYMS = [
    {"big", "large", "huge", "enormous", "gigantic"},
    {"small", "tiny", "little", "mini", "petite"},
    {"red", "scarlet", "crimson", "vermillion"},
    {"happy", "cheerful", "joyful", "gleeful", "delighted"},
    {"sad", "unhappy", "sorrowful", "miserable", "tragic"},
    {"angry", "mad", "furious", "irritated"},
    {"evil", "wicked", "immoral", "sinful", "corrupt", "depraved"},
    {"wrong", "incorrect", "mistaken", "erroneous"},
    {"real", "genuine", "actual"},
    {"strange", "odd", "peculiar", "unusual", "weird"},
    {"stop", "cease", "halt", "end", "finish"},
    {"scared", "terrified", "panicked", "fearful", "frightened", "afraid"},
    {"quiet", "calm", "peaceful", "serene", "mild"},
    {"old", "aged", "archaic"},
    {"love", "like", "adore", "favor"},
    {"kill", "murder", "assassinate"},
    {"keep", "retain", "preserve", "sustain", "maintain"},
    {"hide", "conceal", "camouflage"},
    {"hate", "despise", "loathe", "detest", "dislike"},
    {"funny", "humorous", "amusing", "comical", "laughable"},
    {"fat", "fleshy", "plump", "chubby"},
    {"stupid", "dumb", "dull", "unwise"},
    {"delicious", "savory", "delectable", "appetizing"},
    {"cut", "slice", "carve", "chop"},
    {"brave", "courageous", "fearless"},
    {"begin", "start", "initiate", "launch"},
    {"answer", "reply", "response"},
    {"television", "televisions", "TV", "TVs"},
    {"house", "home", "houses", "homes"},
    {"fire", "flame", "fires", "flames"},
    {"pig", "pork", "swine"},
    {"rabbit", "rabbits", "bunny", "bunnies"},
    {"car", "cars", "automobile", "automobiles", "vehicle", "vehicles"},
]
"""The words the task treats as similar: what a reader of English knows, as the page's groups."""


@oracle("click-checkboxes-soft")
def _click_checkboxes_soft(s: MiniWoBScreen) -> Iterator[str]:
    """Check each box whose word means the same as one of the words asked for."""
    listed = match_instruction(r"^Select words similar to (.*) and click Submit\.$", s.query()).group(1)
    asked = {word.strip() for word in listed.split(",")} - {"nothing"}
    for label in s.page.locator("#boxes label").all():
        word = label.inner_text().strip()
        similar = next((asked & group for group in _SYNONYMS if word in group), set())
        if similar:
            yield s.click(label.locator("input"), f'"{word}" is similar to "{min(similar)}"; I check it.')
    yield s.submit()


@oracle("click-menu")
def _click_menu(s: MiniWoBScreen) -> Iterator[str]:
    """Hover each menu on the path (a click on a parent would select it), then click the last item."""
    *parents, leaf = match_instruction(r"^Select (.+)$", s.query()).group(1).split(">")
    menu = s.page.locator("#menu")
    for name in parents:
        item = menu.locator(":scope > li").filter(has=s.page.locator(":scope > div", has_text=_whole(name))).first
        yield s.say(f'I point at "{name}" to open its submenu.', _move(s, item.locator(":scope > div")))
        yield from _wait_until_shown(s, item.locator(":scope > ul"), f'the submenu of "{name}"')
        menu = item.locator(":scope > ul")
    yield s.click(menu.locator(":scope > li > div").filter(has_text=_whole(leaf)), f'I click "{leaf}".')


def _whole(text: str) -> re.Pattern[str]:
    """Matches an element whose whole text is text."""
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def _move(s: MiniWoBScreen, target: Locator) -> ComputerAction:
    return ComputerAction(action="mouse_move", coordinate=s.point(target))


def _wait_until_shown(s: MiniWoBScreen, target: Locator, what: str) -> Iterator[str]:
    """Wait (in half-second steps) for something that opens after a delay (jQuery UI menus wait 300 ms)."""
    for _ in range(6):
        if target.first.is_visible():
            return
        yield s.say(f"I wait for {what} to open.", ComputerAction(action="wait", time=0.5))
    raise OracleError(f"{what} never opened")


@oracle("click-menu-2")
def _click_menu_2(s: MiniWoBScreen) -> Iterator[str]:
    """Open the menu; find the item by its label or by the icon the instruction shows; open Playback if it is there."""
    yield s.click("#open-menu", 'I click the "Menu" button.')
    icon = s.page.locator("#query .ui-icon")
    if icon.count():
        shape = next(c for c in (icon.get_attribute("class") or "").split() if c.startswith("ui-icon-"))
        item = s.page.locator("#menu li").filter(has=s.page.locator(f":scope > div > .{shape}")).first
    else:
        label = s.quoted()[-1]
        item = s.page.locator("#menu li").filter(has=s.page.locator(":scope > div", has_text=_whole(label))).first
    name = item.inner_text().strip()
    if not item.is_visible():
        playback = s.page.locator("#menu > li").filter(has=s.exact(":scope > div", "Playback"))
        yield s.say('It is under "Playback"; I point at it.', _move(s, playback.locator(":scope > div")))
        yield from _wait_until_shown(s, item, "the Playback submenu")
    yield s.click(item.locator(":scope > div"), f'I click "{name}".')


@oracle("copy-paste-2")
def _copy_paste_2(s: MiniWoBScreen) -> Iterator[str]:
    nth = _POSITIONS[s.page.locator("#query .bold").inner_text().strip()]
    yield s.click(f"#text-{nth}", f"I click into text area number {nth}.")
    yield s.key("ctrl", "a", thought="I select all of its text.")
    yield s.key("ctrl", "c", thought="I copy it.")
    yield s.click("#answer-input", "I click the text input.")
    yield s.key("ctrl", "v", thought="I paste the text.")
    yield s.submit()


@oracle("find-greatest")
def _find_greatest(s: MiniWoBScreen) -> Iterator[str]:
    """Turn the cards over one at a time (only one shows), then turn the greatest over again and submit."""
    cards = s.page.locator("#cardholder .card").all()
    numbers = []
    for i, card in enumerate(cards):
        yield s.click(card, f"I turn card {i + 1} over.")
        numbers.append(int(card.inner_text()))
    best = numbers.index(max(numbers))
    if best != len(cards) - 1:
        yield s.click(cards[best], f"The greatest is {numbers[best]}, on card {best + 1}; I turn it over again.")
    yield s.click("#submit", 'I click "Submit".')


@oracle("form-sequence-2")
def _form_sequence_2(s: MiniWoBScreen) -> Iterator[str]:
    match = match_instruction(
        r"the (\d\w\w) radio button and enter the number \"(-?\d+)\" into the (\d\w\w)", s.query()
    )
    radio, number, box = _POSITIONS[match.group(1)], match.group(2), _POSITIONS[match.group(3)]
    yield s.click(f"#area input[type=radio][value='{radio}']", f"I check radio button {radio}.")
    yield from s.fill(f"#input-{box}", number, f"textbox {box}")
    yield s.submit()


@oracle("form-sequence-3")
def _form_sequence_3(s: MiniWoBScreen) -> Iterator[str]:
    match = match_instruction(r"^Choose (.+) from the dropdown, then click the button labeled \"(\w+)\"", s.query())
    choice, label = match.groups()
    yield s.click("#dropdown-container .selectric", "I open the dropdown.")
    yield from s.scroll_and_click(s.exact(".selectric-items li", choice), f'I choose "{choice}".')
    yield s.click(s.exact("#buttons button", label), f'I click "{label}".')


_WANTS = {
    r"less than (\d+)": lambda n, bound: n < bound,
    r"greater than (\d+)": lambda n, bound: n > bound,
    r"an odd number": lambda n, _: n % 2 == 1,
    r"an even number": lambda n, _: n % 2 == 0,
}


@oracle("generate-number")
def _generate_number(s: MiniWoBScreen) -> Iterator[str]:
    """Generate numbers until one fits the rule, then submit."""
    rule, match = next((rule, m) for rule in _WANTS if (m := re.search(rule, s.query())))
    bound = int(match.group(1)) if match.groups() else 0
    for _ in range(30):
        shown = s.page.locator("#display-number").inner_text().strip()
        if shown.lstrip("-").isdigit() and _WANTS[rule](int(shown), bound):
            yield s.click("#submit", f"{shown} fits; I click Submit.")
            return
        yield s.click("#generate", "I click Generate for a new number.")
    raise OracleError("no generated number fitted the rule")


@oracle("read-table-2")
def _read_table_2(s: MiniWoBScreen) -> Iterator[str]:
    table = {
        row.locator("td").first.inner_text().strip(): row.locator("td").nth(1).inner_text().strip()
        for row in s.page.locator("#tab tr").all()
    }
    for nth in (1, 2):
        key = s.page.locator(f"#ll{nth}").inner_text().strip().removesuffix(":")
        yield from s.fill(f"#tt{nth}", table[key], f'the "{key}" field ({table[key]} in the table)')
    yield s.submit()


def _scroll_to_end(s: MiniWoBScreen, box: str, down: bool = True) -> Iterator[str]:
    """Turn the mouse wheel over a scrolling box until its scrollbar reaches the bottom (or top)."""
    where = "bottom" if down else "top"
    for _ in range(6):
        top, height, client = s.page.locator(box).evaluate("el => [el.scrollTop, el.scrollHeight, el.clientHeight]")
        if (top >= height - client - 1) if down else top <= 0:
            return
        pixels = -(height - client - top) if down else top
        action = ComputerAction(action="scroll", coordinate=s.point(box), pixels=round(pixels) - (1 if down else -1))
        yield s.say(f"I scroll the text to the {where}.", action)
    raise OracleError(f"{box} did not scroll to the {where}")


@oracle("scroll-text")
def _scroll_text(s: MiniWoBScreen) -> Iterator[str]:
    """Scroll the text area down to read its last word."""
    yield from _scroll_to_end(s, "#text-area")
    word = re.sub(r"[^a-zA-Z0-9]", "", s.page.locator("#text-area").input_value().split()[-1])
    yield from s.fill("#answer-input", word, f"the text field (the last word is {word})")
    yield s.submit()


@oracle("scroll-text-2")
def _scroll_text_2(s: MiniWoBScreen) -> Iterator[str]:
    where = match_instruction(r"to the (bottom|top)", s.query()).group(1)
    yield from _scroll_to_end(s, "#text-area", down=where == "bottom")
    yield s.submit()


@oracle("sign-agreement")
def _sign_agreement(s: MiniWoBScreen) -> Iterator[str]:
    """Scroll the agreement to its end (which unlocks the form), sign if asked, press the button asked for."""
    query = s.query()
    if query.startswith("Click the cancel button"):
        yield s.click("#cancel", 'I click "Cancel".')
        return
    name, button = match_instruction(r'enter the name "(.+)" then press "(\w+)"', query).groups()
    yield from _scroll_to_end(s, "#text-area")
    yield from s.fill("#name", name, "the name field")
    yield s.click(f"#{button.lower()}", f'I click "{button}".')


@oracle("ascending-numbers")
def _ascending_numbers(s: MiniWoBScreen) -> Iterator[str]:
    """Remember where 2 to 5 are, click 1 (which hides them all under squares), then click the squares in order."""
    texts = s.page.locator("#area_svg text")
    spots = {int(t.text_content() or 0): s.css_point(t) for t in texts.all()}
    yield s.click(texts.filter(has_text=re.compile(r"^1$")), "I click 1; I remember where the other numbers are.")
    squares = {i: s.css_point(rect) for i, rect in enumerate(s.page.locator("#area_svg rect").all())}
    for number in range(2, 6):
        square = min(squares, key=lambda i: _distance(squares[i], spots[number]))
        x, y = squares.pop(square)
        yield s.say(
            f"I click the square over {number}.", ComputerAction(action="left_click", coordinate=s.to_grid(x, y))
        )


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5


@oracle("button-delay")
def _button_delay(s: MiniWoBScreen) -> Iterator[str]:
    """Click ONE, wait the seconds asked (timing each wait step), then click TWO."""
    delay = int(match_instruction(r"wait (\d+) seconds", s.query()).group(1))
    two = s.point("#subbtn2")
    start = time.monotonic()
    yield s.click("#subbtn", 'I click "ONE".')
    overhead = time.monotonic() - start
    while (left := delay - (time.monotonic() - start)) > overhead:
        asked = left - overhead
        before = time.monotonic()
        yield s.say(f"I wait {asked:.2f} more seconds.", ComputerAction(action="wait", time=round(asked, 3)))
        overhead = time.monotonic() - before - asked
    yield s.say('Time is up; I click "TWO".', ComputerAction(action="left_click", coordinate=two))


_DIGITS = {
    "0": "0110 1001 1001 1001 1001 1001 0110",
    "1": "0010 0110 0010 0010 0010 0010 0010",
    "2": "0110 1001 1001 0010 0100 1000 1111",
    "3": "0110 1001 0001 0110 0001 1001 0110",
    "4": "1000 1010 1010 1111 0010 0010 0010",
    "5": "1111 1000 1000 1110 0001 1001 0110",
    "6": "0110 1001 1000 1110 1001 1001 0110",
    "7": "1111 1001 0001 0010 0010 0100 0100",
    "8": "0110 1001 1001 0110 1001 1001 0110",
    "9": "0110 1001 1001 0111 0001 1001 0110",
}
"""Each digit as the example picture beside the boxes draws it: seven rows of four boxes, 1 = checked."""


@oracle("number-checkboxes")
def _number_checkboxes(s: MiniWoBScreen) -> Iterator[str]:
    """Check the boxes that draw the digit, row by row, as the example shows."""
    digit = s.quoted()[0]
    rows = s.page.locator("#checkboxes p").all()
    for r, pattern in enumerate(_DIGITS[digit].split()):
        for c, mark in enumerate(pattern):
            if mark == "1":
                yield s.click(rows[r].locator("input").nth(c), f"Row {r + 1} of the {digit} has box {c + 1} checked.")
    yield s.submit()


_HEAT = {"HOT": (0.0, 5.0), "WARM": (5.0, 10.0), "COLD": (10.0, 40.0), "ICE COLD": (40.0, float("inf"))}
"""How far from the hot spot (CSS px) each word of the hot-cold signal means."""


@oracle("hot-cold")
def _hot_cold(s: MiniWoBScreen) -> Iterator[str]:
    """Move the mouse where the signal tells most about the hot spot; click as soon as it says HOT.

    Every point of the area is a candidate for the spot until a signal rules it out (with a pixel of slack
    for rounding); each move goes where the four answers split the candidates most evenly.
    """
    box = s.box("#touch-area")
    xs = np.arange(box["x"] + 2, box["x"] + box["width"] - 1)
    ys = np.arange(box["y"] + 2, box["y"] + box["height"] - 1)
    points = np.stack([a.ravel() for a in np.meshgrid(xs, ys)], axis=1)
    probes, candidates = points[::7], points
    for _ in range(30):
        probe = _best_probe(candidates, probes)
        coordinate = s.to_grid(*probe)
        thought = f"The spot is at one of {len(candidates)} places still; I move the mouse to read the signal."
        yield s.say(thought, ComputerAction(action="mouse_move", coordinate=coordinate))
        heat = s.page.locator("#signal").inner_text().strip()
        if heat == "HOT":
            yield s.say("It says HOT here; I click.", ComputerAction(action="left_click", coordinate=coordinate))
            return
        lo, hi = _HEAT[heat]
        distance = np.hypot(*(candidates - probe).T)
        candidates = candidates[(distance >= lo - 1) & (distance < hi + 1)]
    raise OracleError("the signal never said HOT")


def _best_probe(candidates: np.ndarray, probes: np.ndarray) -> tuple[float, float]:
    """The probe whose signal splits the candidates most evenly (entropy), favouring a likely HOT."""
    sample = candidates[:: max(1, len(candidates) // 1500)]
    distance = np.hypot(sample[None, :, 0] - probes[:, None, 0], sample[None, :, 1] - probes[:, None, 1])
    edges = [hi for _, hi in _HEAT.values()][:-1]
    shares = np.stack([(np.digitize(distance, edges) == level).mean(axis=1) for level in range(len(_HEAT))], axis=1)
    entropy = -(shares * np.log2(np.where(shares > 0, shares, 1))).sum(axis=1)
    best = int(np.argmax(entropy + shares[:, 0]))
    return float(probes[best, 0]), float(probes[best, 1])
