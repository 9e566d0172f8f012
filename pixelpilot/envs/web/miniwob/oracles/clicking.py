"""Oracles of the clicking tasks: buttons, links, dialogs, tabs, checkboxes, trees."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pixelpilot.envs.web.miniwob.oracles.screen import MiniWoBScreen, match_instruction, oracle


@oracle("click-button", "unicode-test")
def _click_button(s: MiniWoBScreen) -> Iterator[str]:
    """Click the button whose label the instruction quotes."""
    label = s.quoted()[0]
    yield s.click(s.exact("#area button", label), f'I click the "{label}" button.')


@oracle("click-test")
def _click_test(s: MiniWoBScreen) -> Iterator[str]:
    yield s.click("#subbtn", "I click the button.")


@oracle("click-test-2", "click-test-transfer")
def _click_test_2(s: MiniWoBScreen) -> Iterator[str]:
    label = match_instruction(r"Click button (\w+)\.", s.query()).group(1)
    yield s.click(s.exact("#area button", label), f'I click the button "{label}".')


@oracle("click-button-sequence")
def _click_button_sequence(s: MiniWoBScreen) -> Iterator[str]:
    yield s.click(s.exact("#area button", "ONE"), 'First I click button "ONE".')
    yield s.click(s.exact("#area button", "TWO"), 'Then I click button "TWO".')


@oracle("click-link")
def _click_link(s: MiniWoBScreen) -> Iterator[str]:
    word = s.quoted()[0]
    yield s.click(s.exact("#area .alink", word), f'I click the link "{word}".')


@oracle("click-dialog")
def _click_dialog(s: MiniWoBScreen) -> Iterator[str]:
    yield from s.scroll_and_click(".ui-dialog-titlebar-close", 'I close the dialog with its "x" button.')


@oracle("click-dialog-2")
def _click_dialog_2(s: MiniWoBScreen) -> Iterator[str]:
    label = s.quoted()[0]
    target = ".ui-dialog-titlebar-close" if label == "x" else s.exact(".ui-dialog-buttonpane button", label)
    yield from s.scroll_and_click(target, f'I click "{label}" in the dialog.')


@oracle("click-tab")
def _click_tab(s: MiniWoBScreen) -> Iterator[str]:
    tab = match_instruction(r"Tab #\d", s.query()).group(0)
    yield s.click(s.exact("#area ul a", tab), f"I click {tab}.")


@oracle("click-tab-2", "click-tab-2-easy", "click-tab-2-medium", "click-tab-2-hard")
def _click_tab_2(s: MiniWoBScreen) -> Iterator[str]:
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


@oracle("click-widget")
def _click_widget(s: MiniWoBScreen) -> Iterator[str]:
    kind = s.quoted()[0]
    yield s.click(f'#area [data-type="{kind}"]', f"I click a {kind} widget.")


@oracle("click-option")
def _click_option(s: MiniWoBScreen) -> Iterator[str]:
    name = match_instruction(r"^Select (.*) and click Submit\.$", s.query()).group(1)
    yield s.click(s.exact("#boxes label", name).locator("input"), f'I select "{name}".')
    yield s.submit()


@oracle("click-checkboxes", "click-checkboxes-large", "click-checkboxes-transfer")
def _click_checkboxes(s: MiniWoBScreen) -> Iterator[str]:
    listed = match_instruction(r"^Select (.*) and click Submit\.$", s.query()).group(1)
    names = [] if listed == "nothing" else [n.strip() for n in listed.split(",")]
    for name in names:
        yield s.click(s.exact("#area label", name).locator("input"), f'I check "{name}".')
    yield s.submit()


@oracle("click-collapsible", "click-collapsible-nodelay")
def _click_collapsible(s: MiniWoBScreen) -> Iterator[str]:
    yield s.click("#area h3", "I expand the section.")
    yield s.submit()


@oracle("click-collapsible-2", "click-collapsible-2-nodelay")
def _click_collapsible_2(s: MiniWoBScreen) -> Iterator[str]:
    """Expand the section that holds the link, then click the link."""
    word = s.quoted()[-1]
    link = s.page.locator("#area .alink").filter(has_text=re.compile(rf"^\s*{re.escape(word)}\s*$")).first
    if not link.is_visible():
        header = link.evaluate("el => el.closest('.ui-accordion-content').previousElementSibling.textContent")
        yield s.click(s.exact("#area h3", header.strip()), f'I expand "{header.strip()}" to look for "{word}".')
    yield s.click(s.exact("#area .alink", word), f'I click the link "{word}".')


@oracle("identify-shape")
def _identify_shape(s: MiniWoBScreen) -> Iterator[str]:
    """Name the figure from the SVG element that draws it."""
    tag, text = s.page.locator("#area_svg > *").first.evaluate("el => [el.tagName.toLowerCase(), el.textContent]")
    kind = {"rect": "rectangle", "circle": "circle", "polygon": "triangle"}.get(tag)
    if kind is None:
        kind = "digit" if text.strip().isdigit() else "letter"
    yield s.click(f'#area-buttons button[data-type="{kind}"]', f"The figure is a {kind}.")


@oracle("navigate-tree")
def _navigate_tree(s: MiniWoBScreen) -> Iterator[str]:
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
