"""Oracles of the typing tasks: fields, logins, arithmetic, tables, copy and paste."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pixelpilot.envs.web.miniwob.oracles.screen import MiniWoBScreen, match_instruction, oracle
from pixelpilot.envs.web.oracle import OracleError


@oracle("enter-text", "enter-text-dynamic")
def _enter_text(s: MiniWoBScreen) -> Iterator[str]:
    text = s.quoted()[0]
    yield from s.fill("#tt", text)
    yield s.submit()


@oracle("enter-text-2")
def _enter_text_2(s: MiniWoBScreen) -> Iterator[str]:
    word = s.quoted()[0]
    text = word.upper() if "upper case" in s.query() else word.lower()
    yield from s.fill("#tt", text)
    yield s.submit()


@oracle("enter-password")
def _enter_password(s: MiniWoBScreen) -> Iterator[str]:
    password = s.quoted()[0]
    yield from s.fill("#password", password, "the password field")
    yield from s.fill("#verify", password, "the verify field")
    yield s.submit()


@oracle("login-user", "login-user-popup")
def _login_user(s: MiniWoBScreen) -> Iterator[str]:
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


@oracle("focus-text")
def _focus_text(s: MiniWoBScreen) -> Iterator[str]:
    yield s.click("#tt", "I click into the textbox.")


@oracle("focus-text-2")
def _focus_text_2(s: MiniWoBScreen) -> Iterator[str]:
    nth = match_instruction(r"(\d)(?:st|nd|rd|th) input", s.query()).group(1)
    yield s.click(f"#tt{nth}", f"I click the textbox number {nth}.")


@oracle("simple-arithmetic")
def _simple_arithmetic(s: MiniWoBScreen) -> Iterator[str]:
    problem = s.page.locator("#math-problem").inner_text()
    a, op, b = match_instruction(r"(-?\d+)\s*([-+x])\s*(-?\d+)", problem).groups()
    answer = {"+": int(a) + int(b), "-": int(a) - int(b), "x": int(a) * int(b)}[op]
    yield from s.fill("#math-answer", str(answer), f"the answer box ({a} {op} {b} = {answer})")
    yield s.submit()


@oracle("find-word")
def _find_word(s: MiniWoBScreen) -> Iterator[str]:
    nth = int(match_instruction(r"(\d+)(?:st|nd|rd|th) word", s.query()).group(1))
    words = s.page.locator("#area p").inner_text().split()
    word = re.sub(r"[^a-zA-Z]", "", words[nth - 1])
    yield from s.fill("#answer-input", word, f"the textbox (word {nth} is {word})")
    yield s.submit()


@oracle("read-table")
def _read_table(s: MiniWoBScreen) -> Iterator[str]:
    key = match_instruction(r"value of (.*) into the text field", s.query()).group(1)
    rows = s.page.locator("#tab tr").all()
    value = next(row.locator("td").nth(1).inner_text() for row in rows if row.locator("td").first.inner_text() == key)
    yield from s.fill("#tt", value, f"the text field ({key} is {value})")
    yield s.submit()


@oracle("text-transform")
def _text_transform(s: MiniWoBScreen) -> Iterator[str]:
    text = "".join(span.inner_text() for span in s.page.locator("#captcha span").all())
    yield from s.fill("#tt", text, "the text field")
    yield s.submit()


@oracle("guess-number")
def _guess_number(s: MiniWoBScreen) -> Iterator[str]:
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


@oracle("copy-paste")
def _copy_paste(s: MiniWoBScreen) -> Iterator[str]:
    yield s.click("#to-copy", "I click into the text area.")
    yield s.key("ctrl", "a", thought="I select all of its text.")
    yield s.key("ctrl", "c", thought="I copy it.")
    yield s.click("#answer-input", "I click the textbox.")
    yield s.key("ctrl", "v", thought="I paste the text.")
    yield s.submit()


@oracle("multi-orderings", "multi-layouts")
def _multi_layouts(s: MiniWoBScreen) -> Iterator[str]:
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
