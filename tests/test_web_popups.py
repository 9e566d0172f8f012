"""WebEnv follows popups and new tabs the way a browser's user sees them, on real Chromium pages from 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import pytest

from pixelpilot.envs import URLTask, WebEnv
from pixelpilot.envs.web.browser import MAX_PAGES
from pixelpilot.tools import ComputerUseTool, ToolContext

if TYPE_CHECKING:
    from conftest import LocalServer

VIEWPORT = (400, 300)
GREEN = (0, 160, 0)
BOX = "display:block;width:160px;height:30px;margin:0"
OPENER = f"""<!doctype html><html><head><title>Opener</title></head><body style="margin:0;background:#fff">
<a id="tab" href="/popup.html" target="_blank" style="{BOX}">New tab</a>
<button id="open" style="{BOX}" onclick="window.open('/popup.html', 'win', 'width=200,height=100')">Open</button>
<a id="plain" href="/popup.html" style="{BOX}">Plain link</a>
<button id="spam" style="{BOX}" onclick="for (let i = 0; i < 12; i++) window.open('/spam.html?n=' + i)">Spam</button>
<button id="away" style="{BOX}" onclick="window.open(document.body.dataset.away)">Elsewhere</button>
<button id="mark" style="{BOX}" onclick="window.marked = true">Mark</button>
</body></html>"""
POPUP = f"""<!doctype html><html><head><title>Popup</title></head><body style="margin:0;background:rgb{GREEN}">
<button id="done" style="{BOX}" onclick="window.done = true">Done</button>
<button id="close" style="{BOX}" onclick="window.close()">Close</button>
<img src="/slow.png">
</body></html>"""
ROW = 30  # CSS px per button row


def row(env: WebEnv, index: int) -> list[int]:
    """The grid point of the index-th button row of a test page."""
    return list(env.to_grid(60, index * ROW + ROW // 2))


def shows_popup(screenshot: np.ndarray) -> bool:
    return tuple(int(c) for c in screenshot[-1, -1]) == GREEN


@pytest.fixture(scope="module")
def opener_url(http_server: LocalServer, other_server: LocalServer) -> str:
    http_server.page("popup.html", POPUP)
    http_server.page("spam.html", "<!doctype html><html><body>spam</body></html>")
    page = OPENER.replace("<body ", f'<body data-away="{other_server.url}/away.html" ', 1)
    return http_server.page("opener.html", page)


@pytest.fixture(scope="module")
def env(opener_url: str) -> Iterator[WebEnv]:
    task = URLTask(url=opener_url, instruction="Press Done.", check=lambda page: page.evaluate("window.done === true"))
    environment = WebEnv(task, viewport=VIEWPORT)
    yield environment
    environment.close()


@pytest.mark.parametrize(("action", "index"), [("left_click", 0), ("left_click", 1), ("middle_click", 2)])
def test_a_new_page_comes_to_the_front(env: WebEnv, http_server: LocalServer, action: str, index: int) -> None:
    """A target=_blank link, window.open (with its own size) and a middle click all show the new page."""
    obs, info = env.reset()
    opener = env.page
    assert not shows_popup(obs["screenshot"]) and info["page_opened"] == []
    obs, reward, terminated, truncated, info = env.step({"action": action, "coordinate": row(env, index)})
    assert "action_error" not in info and (reward, terminated, truncated) == (0.0, False, False)
    assert info["page_opened"] == [f"{http_server.url}/popup.html"] and info["page_closed"] == []
    assert env.page is not opener and env.browser.pages == (opener, env.page)
    assert shows_popup(obs["screenshot"])  # the observation is the new page's
    assert env.page.evaluate("document.readyState") == "complete"  # its slow image was awaited
    assert env.page.evaluate("[innerWidth, innerHeight]") == list(VIEWPORT)
    _, reward, terminated, _, info = env.step({"action": "left_click", "coordinate": row(env, 0)})
    assert (reward, terminated, info["success"]) == (1.0, True, True)  # the action and the check went to it
    assert info["page_opened"] == []


def test_a_popup_that_closes_itself_returns_to_its_opener(env: WebEnv, http_server: LocalServer) -> None:
    env.reset()
    opener = env.page
    env.step({"action": "left_click", "coordinate": row(env, 1)})
    popup = env.page
    assert popup is not opener
    obs, _, terminated, truncated, info = env.step({"action": "left_click", "coordinate": row(env, 1)})
    assert not (terminated or truncated) and "action_error" not in info
    assert info["page_closed"] == [f"{http_server.url}/popup.html"] and info["page_opened"] == []
    assert popup.is_closed() and env.page is opener and env.browser.pages == (opener,)
    assert not shows_popup(obs["screenshot"])
    _, _, _, truncated, info = env.step({"action": "left_click", "coordinate": row(env, 5)})
    assert not truncated and "action_error" not in info and opener.evaluate("window.marked") is True


def test_the_model_is_told_when_a_page_opens_or_closes(env: WebEnv, http_server: LocalServer) -> None:
    """A new tab can look like the old page changing: the computer_use result says which happened."""
    tool = ComputerUseTool(env)
    env.reset()
    opened = tool.run({"action": "left_click", "coordinate": row(env, 1)}, ToolContext())
    assert opened.text == f"left_click done. A new page opened in front: {http_server.url}/popup.html."
    closed = tool.run({"action": "left_click", "coordinate": row(env, 1)}, ToolContext())
    assert closed.text == f"left_click done. Closed: {http_server.url}/popup.html."
    assert tool.run({"action": "mouse_move", "coordinate": [5, 5]}, ToolContext()).text == "mouse_move done."


def test_a_popup_to_a_blocked_origin_is_aborted(env: WebEnv, other_server: LocalServer) -> None:
    env.reset()
    opener = env.page
    obs, _, _, truncated, info = env.step({"action": "left_click", "coordinate": row(env, 4)})
    assert not truncated and "action_error" not in info
    assert info["blocked_requests"] == [f"{other_server.url}/away.html"] and other_server.requests == []
    assert info["page_opened"] == [] and env.page is opener and len(opener.context.pages) == 1
    assert not shows_popup(obs["screenshot"])


def test_open_pages_are_bounded(env: WebEnv, http_server: LocalServer) -> None:
    env.reset()
    opener = env.page
    _, _, _, truncated, info = env.step({"action": "left_click", "coordinate": row(env, 3)})
    assert not truncated and "action_error" not in info
    spam = {f"{http_server.url}/spam.html?n={n}" for n in range(12)}
    assert env.page.url in spam and env.page.url == info["page_opened"][-1]
    assert len(opener.context.pages) == MAX_PAGES and len(env.browser.pages) == MAX_PAGES
    # Pages come in the order Chromium reports them; the oldest ones behind the one in front were closed.
    assert len(info["page_closed"]) == 12 + 1 - MAX_PAGES and set(info["page_closed"]) < spam
    assert len(info["page_opened"]) == MAX_PAGES - 1 and opener.is_closed() is False
    env.reset()  # a new episode starts with its own page only
    assert len(env.page.context.pages) == 1 and env.page.url.endswith("/opener.html")


def test_a_crash_behind_the_front_page_is_not_a_broken_browser(env: WebEnv) -> None:
    env.reset()
    opener = env.page
    env.step({"action": "left_click", "coordinate": row(env, 0)})
    with opener.expect_event("crash"), pytest.raises(Exception, match="ERR_ABORTED"):
        opener.goto("chrome://crash")  # Chromium's own way to crash a renderer
    _, _, _, truncated, info = env.step({"action": "left_click", "coordinate": row(env, 5)})
    assert not truncated and "action_error" not in info and env.browser.healthy
    assert len(info["page_closed"]) == 1 and opener.is_closed() and len(env.browser.pages) == 1
    with pytest.raises(Exception, match="ERR_ABORTED"):
        env.page.goto("chrome://crash")
    _, _, terminated, truncated, info = env.step({"action": "left_click", "coordinate": row(env, 0)})
    assert truncated and not terminated and "crashed" in info["action_error"]


def test_closing_with_popups_open_leaves_no_chromium(
    opener_url: str, no_browser_left: Callable[[int, str], None]
) -> None:
    environment = WebEnv(URLTask(url=opener_url, instruction="Open.", check=lambda page: False), viewport=VIEWPORT)
    try:
        environment.reset()
        assert environment.browser.pid is not None
        no_browser_left(environment.browser.pid, environment.browser.marker)
        environment.step({"action": "left_click", "coordinate": row(environment, 0)})
        environment.step({"action": "left_click", "coordinate": row(environment, 1)})  # on the popup: Close
        environment.step({"action": "left_click", "coordinate": row(environment, 1)})  # on the opener: Open
        assert len(environment.browser.pages) == 2
    finally:
        environment.close()
