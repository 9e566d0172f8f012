"""Oracles of the multi-screen apps: flights, tickets, email, phone book, calendar, food, stocks, terminal, editor."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pixelpilot.envs.core.actions import ComputerAction
from pixelpilot.envs.web.miniwob.oracles.forms import pick_date
from pixelpilot.envs.web.miniwob.oracles.screen import MiniWoBScreen, match_instruction, oracle
from pixelpilot.envs.web.miniwob.oracles.widgets import act_on_email, email_senders
from pixelpilot.envs.web.oracle import OracleError

if TYPE_CHECKING:
    from playwright.sync_api import FloatRect, Locator


def _minutes(duration: str) -> int:
    """Minutes of a duration shown as "5h 12m"."""
    hours, minutes = match_instruction(r"(\d+)h (\d+)m", duration).groups()
    return int(hours) * 60 + int(minutes)


def _best(flights: Locator, button: str, want: str) -> tuple[Locator, str]:
    """The flight the instruction wants (cheapest, shortest, longest, most expensive) and its button's label."""
    offers = [
        (flight.locator(button), flight.locator(".time-duration").inner_text().strip()) for flight in flights.all()
    ]
    prices = [int(b.inner_text().split("$")[-1]) for b, _ in offers]
    minutes = [_minutes(d) for _, d in offers]
    keys = {"cheapest": prices, "most expensive": [-p for p in prices], "shortest": minutes}
    key = next((v for k, v in keys.items() if want.startswith(k)), [-m for m in minutes])
    best = key.index(min(key))
    return offers[best][0], f"{offers[best][0].inner_text().strip()} ({offers[best][1]})"


@oracle("buy-ticket")
def _buy_ticket(s: MiniWoBScreen) -> Iterator[str]:
    want = s.page.locator("#query .bold").inner_text().strip()
    button, label = _best(s.page.locator("#area .flight"), ".buy-ticket", want)
    yield from s.scroll_and_click(button, f'The ticket with the {want} is "{label}"; I click it.')


@oracle("book-flight", "book-flight-nodelay")
def _book_flight(s: MiniWoBScreen) -> Iterator[str]:
    """Pick both airports from the suggestions, the date from the calendar, search, book the flight asked for."""
    want, origin, destination, date = (b.inner_text().strip() for b in s.page.locator("#query .bold").all())
    for field, city, what in (("#flight-from", origin, "From"), ("#flight-to", destination, "To")):
        yield from s.fill(field, city, f'the "{what}" field')
        suggestions = s.page.locator("ul.ui-autocomplete:visible li")
        suggestions.first.wait_for(state="visible", timeout=5000)
        names = [text.strip() for text in suggestions.all_inner_texts()]
        name = next((n for n in names if city in n.removesuffix(")").split(" (")), None)
        if name is None:
            raise OracleError(f"no suggestion for {city!r} among {names}")
        yield s.click(suggestions.nth(names.index(name)), f'I pick "{name}".')
    yield from pick_date(s, "#datepicker", date)
    yield s.click("#search", 'I click "Search".')
    button, label = _best(s.page.locator("#results .flight"), ".flight-price", want)
    yield from s.scroll_and_click(button, f'The {want} flight is "{label}"; I book it.')


_SOURCE_CUES = {
    r"(?:from|by|author) (?:or by )?NAME": 2,
    r"NAME(?:'s| sent| wants his| wrote| email)": 1,
    r"(?:that|email|mail|message|information|Get|see|Find) NAME": 1,
}
"""Phrasings that make NAME the sender of the email to forward, with their weight."""
_DEST_CUES = {
    r"(?:to|Give|give|Send|send|Forward|forward|Email|email|Let|Ask|sure|want) NAME(?!'?s| sent| wrote)": 1,
    r"^NAME(?! ?'s| sent| wants his| wrote)": 1,
}
"""Phrasings that make NAME the one to forward the email to."""
_DELETE_WORDS = r"delet|trash|remov|erase|discard|get rid|throw|don't want|out of my inbox|recycl"


def _read_email_request(query: str, senders: list[str]) -> tuple[str, str, str]:
    """(sender, action, text) of a request in free words: forward names two senders, reply quotes its text."""
    found = {n for n in senders if n in query}
    named = sorted((n for n in found if not any(n != m and n in m for m in found)), key=query.index)
    if not named:
        raise OracleError(f"no sender of the inbox is named in {query!r}")
    if len(named) >= 2:
        source = max(named, key=lambda n: _cues(query, n, _SOURCE_CUES) - _cues(query, n, _DEST_CUES))
        return source, "forward", next(n for n in named if n != source)
    if quoted := re.search(r'"([^"]*[^"\s][^"]*)"', query):
        return named[0], "reply", quoted.group(1).strip()
    if re.search(_DELETE_WORDS, query, re.IGNORECASE):
        return named[0], "delete", ""
    return named[0], "star", ""


def _cues(query: str, name: str, cues: dict[str, int]) -> int:
    """The weight of the phrasings around name's mentions that read as cues of one role."""
    return sum(weight * len(re.findall(cue.replace("NAME", re.escape(name)), query)) for cue, weight in cues.items())


@oracle("email-inbox-forward-nl", "email-inbox-forward-nl-turk", "email-inbox-nl-turk")
def _email_inbox_nl(s: MiniWoBScreen) -> Iterator[str]:
    sender, action, text = _read_email_request(s.query(), email_senders(s))
    yield from act_on_email(s, sender, action, text)


@oracle("phone-book")
def _phone_book(s: MiniWoBScreen) -> Iterator[str]:
    """Page through the contacts (one a page) to the person, then click the detail asked for."""
    person, detail = match_instruction(r"^Find (.+) in the contact book and click on their (\w+)", s.query()).groups()
    for _ in range(5):
        if s.page.locator("#contact .name").inner_text().strip() == person:
            yield s.click(f"#contact .{detail}", f"This is {person}; I click their {detail}.")
            return
        yield s.click(s.exact("#pagination a", ">"), f"This is not {person}; I go to the next contact.")
    raise OracleError(f"{person} is not in the contact book")


@oracle("terminal")
def _terminal(s: MiniWoBScreen) -> Iterator[str]:
    """List the files, then remove one with the extension asked for."""
    wanted = s.page.locator("#query .bold").inner_text().strip()
    yield s.click("#terminal", "I click the terminal.")
    yield s.type("ls", "I list the files.")
    yield s.key("enter")
    files = s.page.locator("#terminal .terminal-output .output").last.inner_text().split()
    if wanted == "no file extension":
        name = next(f for f in files if "." not in f)
    else:
        name = next(f for f in files if f.endswith(wanted))
    yield s.type(f"rm {name}", f"{name} is the file to delete.")
    yield s.key("enter")


_SWATCHES = {
    "red": "#e60000",
    "orange": "#ff9900",
    "yellow": "#ffff00",
    "green": "#008a00",
    "blue": "#0066cc",
    "purple": "#9933ff",
}
"""The strongest swatch of each colour in the editor's palette."""
_STYLE_BUTTONS = {"bold": ".ql-bold", "italics": ".ql-italic", "underlined": ".ql-underline"}

_WORD_BOX_JS = """([text, nth]) => {
  const node = document.querySelector('#editor .ql-editor p').firstChild;
  let at = -1;
  for (let i = 0; i <= nth; i++) at = node.textContent.indexOf(text, at + 1);
  const range = document.createRange();
  range.setStart(node, at);
  range.setEnd(node, at + text.replace(/[^A-Za-z]+$/, '').length);
  const r = range.getBoundingClientRect();
  return [r.x + r.width / 2, r.y + r.height / 2];
}"""
"""Where a word (without trailing punctuation) is drawn in the editor: the layout a reader sees."""


@oracle("text-editor")
def _text_editor(s: MiniWoBScreen) -> Iterator[str]:
    """Select the word (or everything), then press the style button or pick the colour."""
    word, style = (b.inner_text().strip() for b in s.page.locator("#query .bold").all())
    if word == "everything":
        yield s.click("#editor .ql-editor", "I click into the text.")
        yield s.key("ctrl", "a", thought="I select all of it.")
    else:
        text = s.page.locator("#editor .ql-editor p").inner_text()
        start = next(m.start() for m in re.finditer(re.escape(word), text) if _is_word_at(text, m.start(), word))
        x, y = s.page.evaluate(_WORD_BOX_JS, [word, text[:start].count(word)])
        yield s.say(
            f'I double-click "{word}" to select it.', ComputerAction(action="double_click", coordinate=s.to_grid(x, y))
        )
        for _ in word[len(word.rstrip(".,")) :]:
            yield s.key("shift", "right", thought="I extend the selection over the punctuation.")
    # The editor takes in a new selection a moment after it shows (on selectionchange, then a timer); a
    # toolbar click before that formats the old one.
    yield s.say("I give the editor a moment to take the selection.", ComputerAction(action="wait", time=0.3))
    if style in _SWATCHES:
        yield s.click("#area .ql-color .ql-picker-label", "I open the colour picker.")
        swatch = f'#area .ql-color .ql-picker-item[data-value="{_SWATCHES[style]}"]'
        yield s.click(swatch, f"I pick {style}.")
    else:
        yield s.click(f"#area {_STYLE_BUTTONS[style]}", f"I press the {style} button.")
    yield s.submit()


def _is_word_at(text: str, start: int, word: str) -> bool:
    """Whether word stands alone at start of text (not inside a longer word)."""
    end = start + len(word)
    return (start == 0 or text[start - 1] == " ") and (end == len(text) or text[end] in " .,")


@oracle("stock-market")
def _stock_market(s: MiniWoBScreen) -> Iterator[str]:
    """Watch the price; buy once it is under the limit by more than a tick's move (1.50), or, late, once under."""
    limit = float(match_instruction(r"less than \$(\d+\.\d+)", s.query()).group(1))
    for _ in range(38):  # the 100 prices last 10 s; a step is at least the 0.2 s wait
        shown = s.page.locator("#stock-price").inner_text().lstrip("$")
        price = float(shown) if shown else float("inf")  # empty until the first price comes
        ticks = s.page.locator("#area svg circle").count()
        if price <= limit - 1.5 or (price <= limit and ticks >= 50):
            yield s.click("#buy", f"The price is ${price:.2f}, under ${limit:.2f}; I buy.")
            return
        yield s.say(f"The price is ${price:.2f}; I wait.", ComputerAction(action="wait", time=0.2))
    raise OracleError("the price never fell under the limit")


@oracle("order-food")
def _order_food(s: MiniWoBScreen) -> Iterator[str]:
    """Add one of each dish named, or the number asked of a dish whose icons show the food type."""
    query = s.query()
    items = s.page.locator("#area .food-item")
    if by_type := re.match(r"^Order (\d+) items that are (\S+)$", query):
        count, kind = int(by_type.group(1)), by_type.group(2)
        item = items.filter(has=s.page.locator(f'.types img[alt="{kind}"]')).first
        name = item.locator(".item-name").inner_text().strip()
        for n in range(count):
            yield from s.scroll_and_click(item.locator(".add"), f'"{name}" is {kind}; I add one ({n + 1} of {count}).')
    else:
        for name in match_instruction(r"^Order one of each item: (.+)$", query).group(1).split(", "):
            item = items.filter(has=s.exact(".item-name", name.strip())).first
            yield from s.scroll_and_click(item.locator(".add"), f'I add one "{name.strip()}".')
    yield from s.scroll_and_click("#submit-order button", 'I click "Order!".')


_WINDOW_STARTS = {"8AM": 16, "12PM": 24, "4PM": 32}
"""The first half-hour (0 = 12am-12:30am) of each window the instruction names."""


@oracle("daily-calendar")
def _daily_calendar(s: MiniWoBScreen) -> Iterator[str]:
    """Drag over free half-hours inside the window (ending on the new event, which takes the drop), then name it."""
    match = match_instruction(r'^Create a ([\d.]+) (hours?|mins) event named "(\w+)", between (\w+) and', s.query())
    amount, unit, name, opens = match.groups()
    halves = round(float(amount) * (2 if unit.startswith("hour") else 1 / 30))
    busy = [s.box(event) for event in s.page.locator("#area .event").all()]
    first = _WINDOW_STARTS[opens]
    start = next(
        h
        for h in range(first, first + 9 - halves)
        if not any(_covers(s, b, f"#hh-{h + i}") for b in busy for i in range(halves))
    )
    top, bottom = f"#hh-{start}", f"#hh-{start + halves - 1}"
    yield from s.reveal(top)
    yield from s.reveal(bottom)
    left = s.box(top)
    yield s.say(
        f"The half-hours from slot {start} are free; I put the mouse on the first, left of where events are drawn.",
        ComputerAction(action="mouse_move", coordinate=s.to_grid(left["x"] + 3, left["y"] + left["height"] / 2)),
    )
    yield s.say(
        f"I drag down over {halves} half-hour(s).", ComputerAction(action="left_click_drag", coordinate=s.point(bottom))
    )
    yield from s.reveal("#event-name")
    yield from s.fill("#event-name", name, "the event name field")
    yield from s.scroll_and_click("#controls .create", 'I click "Create".')


def _covers(s: MiniWoBScreen, event: FloatRect, slot: str) -> bool:
    """Whether an event's box overlaps a half-hour's box."""
    box = s.box(slot)
    return event["y"] < box["y"] + box["height"] - 1 and box["y"] < event["y"] + event["height"] - 1
