"""Oracles of the lists and widgets: lists, autocomplete, spinners, sliders, dates, drag and drop, apps."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pixelpilot.envs.web.miniwob.oracles.screen import MiniWoBScreen, match_instruction, oracle
from pixelpilot.envs.web.oracle import OracleError

if TYPE_CHECKING:
    from playwright.sync_api import Locator


@oracle("choose-list")
def _choose_list(s: MiniWoBScreen) -> Iterator[str]:
    """Focus the list, type the item's name to select it, then submit."""
    item = match_instruction(r"^Select (.*) from the list and click Submit\.$", s.query()).group(1)
    yield s.click("#options", "I open the list.")
    yield s.type(item, f'I type "{item}" to pick it.')
    yield s.key("enter", thought="I confirm the choice.")
    yield s.submit()


@oracle("click-scroll-list")
def _click_scroll_list(s: MiniWoBScreen) -> Iterator[str]:
    """Click the first item, then add the others with the keyboard: ctrl+arrows move, ctrl+space toggles."""
    listed = match_instruction(r"^Select (.*) from the scroll list and click Submit\.$", s.query()).group(1)
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


@oracle("use-autocomplete", "use-autocomplete-nodelay")
def _use_autocomplete(s: MiniWoBScreen) -> Iterator[str]:
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


@oracle("use-spinner")
def _use_spinner(s: MiniWoBScreen) -> Iterator[str]:
    target = int(match_instruction(r"Select (-?\d+) with", s.query()).group(1))
    while (value := int(s.page.locator("#spinner").input_value() or 0)) != target:
        arrow = ".ui-spinner-up" if value < target else ".ui-spinner-down"
        yield s.click(arrow, f"The spinner shows {value}; I click the {'up' if value < target else 'down'} arrow.")
    yield s.submit()


@oracle("use-slider")
def _use_slider(s: MiniWoBScreen) -> Iterator[str]:
    target = int(match_instruction(r"Select (-?\d+) with the slider", s.query()).group(1))
    yield from s.set_slider("#slider", target)
    yield s.submit()


@oracle("form-sequence")
def _form_sequence(s: MiniWoBScreen) -> Iterator[str]:
    match = match_instruction(r"Select (-?\d+) with the slider, click the (\d)\w+ checkbox", s.query())
    target, nth = int(match.group(1)), match.group(2)
    yield from s.set_slider("#slider", target)
    yield s.click(f"#checkbox-{nth}", f"I click checkbox number {nth}.")
    yield s.submit()


@oracle("simple-algebra")
def _simple_algebra(s: MiniWoBScreen) -> Iterator[str]:
    problem = " ".join(s.page.locator("#math-problem").inner_text().split())
    if match := re.fullmatch(r"x ([-+]) (\d+) = (-?\d+)", problem):
        op, digit, total = match.group(1), int(match.group(2)), int(match.group(3))
        answer = total - digit if op == "+" else total + digit
    else:
        match = match_instruction(r"^(\d+) ([-+]) x = (-?\d+)$", problem)
        digit, op, total = int(match.group(1)), match.group(2), int(match.group(3))
        answer = total - digit if op == "+" else digit - total
    yield from s.fill("#math-answer", str(answer), f"the answer box ({problem}, so x = {answer})")
    yield s.submit()


@oracle("odd-or-even")
def _odd_or_even(s: MiniWoBScreen) -> Iterator[str]:
    for row in s.page.locator("#numbers .row").all():
        number = int(row.locator(".display-number").inner_text())
        parity = "odd" if number % 2 else "even"
        yield s.click(row.locator(f"button.{parity}"), f"{number} is {parity}.")
    yield s.submit()


@oracle("click-color")
def _click_color(s: MiniWoBScreen) -> Iterator[str]:
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


@oracle("grid-coordinate")
def _grid_coordinate(s: MiniWoBScreen) -> Iterator[str]:
    point = match_instruction(r"\((-?\d),(-?\d)\)", s.query()).group(0)
    yield s.click(f'#area circle[id="{point}"]', f"I click the point {point} of the grid.")


@oracle("search-engine")
def _search_engine(s: MiniWoBScreen) -> Iterator[str]:
    """Search, turn to the page that holds the n-th result (three per page), click it."""
    term = s.quoted()[0]
    nth = int(match_instruction(r"(\d+)(?:st|nd|rd|th) search result", s.query()).group(1))
    yield from s.fill("#search-text", term, "the search box")
    yield s.submit("Search")
    page_number = (nth - 1) // 3 + 1
    if page_number > 1:
        yield s.click(s.exact("#pagination a", str(page_number)), f"Result {nth} is on page {page_number}.")
    link = s.page.locator("#page-content a").nth((nth - 1) % 3)
    yield s.click(link, f'I click result {nth}, "{link.inner_text().strip()}".')


@oracle(
    "email-inbox",
    "email-inbox-delete",
    "email-inbox-forward",
    "email-inbox-important",
    "email-inbox-noscroll",
    "email-inbox-reply",
    "email-inbox-star-reply",
)
def _email_inbox(s: MiniWoBScreen) -> Iterator[str]:
    """Read the sender, the action and its text from the instruction's bold words and quotes."""
    query = s.query()
    sender = s.page.locator("#query .bold").first.inner_text()
    if "trash icon" in query or "star icon" in query:
        yield from act_on_email(s, sender, "delete" if "trash icon" in query else "star")
    elif "reply to them" in query:
        yield from act_on_email(s, sender, "reply", s.quoted()[0])
    else:
        yield from act_on_email(s, sender, "forward", s.page.locator("#query .bold").nth(1).inner_text())


def email_senders(s: MiniWoBScreen) -> list[str]:
    """The senders listed in the inbox, as shown."""
    return [name.strip() for name in s.page.locator("#main .email-thread .email-sender").all_inner_texts()]


def act_on_email(s: MiniWoBScreen, sender: str, action: str, text: str = "") -> Iterator[str]:
    """Find the sender's email in the (scrolling) inbox; delete, star, reply (with text) or forward it (to text)."""
    thread = (
        s.page.locator("#main .email-thread")
        .filter(has=s.page.locator(".email-sender", has_text=re.compile(rf"^{re.escape(sender)}$")))
        .first
    )
    if action in ("delete", "star"):
        icon = thread.locator(".trash" if action == "delete" else ".star")
        what = "trash" if action == "delete" else "star"
        yield from s.scroll_and_click(icon, f"I click the {what} icon of the email from {sender}.")
        return
    yield from s.scroll_and_click(thread.locator(".email-sender"), f"I open the email from {sender}.")
    if action == "reply":
        yield from s.scroll_and_click("#email .email-reply", "I click Reply.")
        yield from s.fill("#reply-text", text, "the reply box")
        yield s.click("#send-reply", "I send the reply.")
    else:
        yield from s.scroll_and_click("#email .email-forward", "I click Forward.")
        yield from s.fill("#forward .forward-sender", text, "the recipient field")
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


@oracle("social-media", "social-media-all", "social-media-some")
def _social_media(s: MiniWoBScreen) -> Iterator[str]:
    """Press the named button on the user's posts (all of them, some, or one), scrolling the feed."""
    label = s.quoted()[0]
    user = match_instruction(r"(@\S+?)[,.]? ", s.query() + " ").group(1)
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


@oracle("enter-date")
def _enter_date(s: MiniWoBScreen) -> Iterator[str]:
    """Type the date into the month/day/year segments of the date field (US order)."""
    month, day, year = match_instruction(r"(\d\d)/(\d\d)/(\d{4})", s.query()).groups()
    yield s.click("#tt", "I click the month part of the date field.", at=(0.1, 0.5))
    yield s.type(f"{month}{day}{year}", f"I type {month}/{day}/{year}; the field moves from month to day to year.")
    yield s.submit()


@oracle("enter-time")
def _enter_time(s: MiniWoBScreen) -> Iterator[str]:
    """Type hours, minutes and AM/PM into the segments of the time field."""
    hour, minute, half = match_instruction(r"(\d{1,2}):(\d\d) ?([AP]M)", s.query()).groups()
    yield s.click("#tt", "I click the hour part of the time field.", at=(0.1, 0.5))
    yield s.type(f"{int(hour):02d}{minute}{half}", f"I type {hour}:{minute} {half}.")
    yield s.submit()


@oracle("drag-box")
def _drag_box(s: MiniWoBScreen) -> Iterator[str]:
    """Drag the small box so that its corner lands in the middle of the large box's free margin."""
    small, large = s.box("#draggableSmall"), s.box("#draggableLarge")
    inset = (large["width"] - small["width"]) / 2
    dx, dy = large["x"] + inset - small["x"], large["y"] + inset - small["y"]
    yield from s.drag("#draggableSmall", dx, dy, "I press on the small box.")
    yield s.submit()


@oracle("highlight-text")
def _highlight_text(s: MiniWoBScreen) -> Iterator[str]:
    yield s.triple_click("#randomText", "I triple-click the paragraph to select all of it.")
    yield s.submit()


_DRAG_PLACES = {"to the top": 0, "to the bottom": -1, "down by one position": 1, "up by one position": -1}


@oracle("drag-items")
def _drag_items(s: MiniWoBScreen) -> Iterator[str]:
    """Drag the item onto the slot it must take, a little past that slot's centre."""
    match = match_instruction(
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
    yield from s.drag_onto(rows.nth(index), rows.nth(target), f'I press on "{name}".')
