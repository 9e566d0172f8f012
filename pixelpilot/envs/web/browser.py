"""The browser behind a web environment: one Chromium per environment, a context per episode whose
pages (popups, new tabs) are followed as a user follows tabs.

Playwright's sync API allows one driver per thread, so environments living in the same thread
share a reference-counted driver while each launches and owns its own Chromium process; nothing
about a browser is process-global. Every Chromium gets a unique marker switch on its command line
so that its process (and the process group it leads) can be found, killed in tests, and checked
for leaks after ``close()``.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import sync_playwright

from pixelpilot.envs.web.devices import DEVICES, Device
from pixelpilot.envs.web.dom import NEXT_FRAME_JS, PAGE_WATCH_JS, SETTLE_JS, SHOWN_JS
from pixelpilot.errors import ConfigError, EnvError

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        CDPSession,
        Download,
        Page,
        Playwright,
        Request,
        Route,
        ViewportSize,
        WebSocketRoute,
    )

    from pixelpilot.envs.desktop.xserver import XServer

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
MARKER_SWITCH = "--pixelpilot-browser"
"""Chromium ignores unknown switches; this one names the browser process a session launched."""
MARKER_ENV = "PIXELPILOT_BROWSER"
"""Set in the browser's environment: its crash-handler daemons, which leave its session, inherit it."""
XVFB_SIZE = (1920, 1200)
"""The private screen of a headed browser that is not shown: room for the largest preset and its window."""

ALLOW_ALL = "*"
"""An allow-list entry that lets every origin through (no request routing at all)."""

_ALWAYS_ALLOWED_SCHEMES = frozenset({"about", "data", "blob", "chrome-error"})
"""Schemes that never reach the network."""
_IGNORED_RESOURCE_TYPES = frozenset({"websocket", "eventsource", "media"})
"""Streams that may never finish; settling must not wait for them."""

TRANSIENT_ERRORS = (
    "Execution context was destroyed",
    "Cannot find context with specified id",
    "Frame was detached",
    "frame got detached",
    "Navigation interrupted",
    "net::ERR_ABORTED",
)
"""Messages of Playwright errors that a navigation racing a call can cause; only these are retried."""

_REPORT_GRACE_S = 2.0
"""How long settling waits for Playwright to report a request the page says it started. With
interception on (the allow-list), Playwright reports a request only once the browser process has
paused it, which under load can come after the page's own count; past this the step goes on."""
_REPORTED_TYPES = frozenset({"fetch", "xhr"})


T = TypeVar("T")


def chromium_executable() -> str | None:
    """Debian's Chromium when installed, else None so Playwright uses the browser it downloaded."""
    return CHROMIUM_PATH if Path(CHROMIUM_PATH).exists() else None


_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL (default ports dropped); every ``file:`` URL shares ``file://``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return "file://"
    if not parts.netloc:
        return f"{scheme}:"
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = str(parts.port) if parts.port is not None and str(parts.port) != _DEFAULT_PORTS.get(scheme) else ""
    return f"{scheme}://{host}{':' + port if port else ''}"


_SUBDOMAINS = "*."
"""An allow-list origin whose host starts with this (``https://*.example.com``) admits every subdomain."""
_ORIGIN_END = r"(?:[/?#]|$)"


def _origin_prefix(origin: str) -> str:
    """The regex of the URLs one allow-list origin admits; a ``*.`` host admits the subdomains of the rest
    (any depth, never the bare domain), with scheme and port exact."""
    if origin == "file://":
        return "file:"
    scheme, _, host = origin.partition("://")
    if host.startswith(_SUBDOMAINS):
        return re.escape(f"{scheme}://") + r"(?:[a-z0-9_-]+\.)+" + re.escape(host[2:]) + _ORIGIN_END
    return re.escape(origin) + _ORIGIN_END


def _allow_list_origin(entry: str) -> str:
    """The origin of an allow-list entry; a ``*`` anywhere but as the whole first label is refused, since
    ``https://*example.com`` would read as "example.com and look-alikes"."""
    origin = origin_of(entry)
    host = origin.partition("://")[2]
    if "*" in host.removeprefix(_SUBDOMAINS) or ("*" in entry and not host):
        raise ConfigError(
            f"allow-list entry {entry!r}: '*' only stands for subdomains, after a scheme: https://*.example.com"
        )
    return origin


class OriginPolicy:
    """Which origins a page may load from; requests elsewhere are aborted before they leave Chromium.

    An entry is an origin (``https://example.com``), a pattern for its subdomains
    (``https://*.example.com``: ``https://a.b.example.com`` but not ``https://example.com``,
    ``https://evil-example.com`` or another scheme or port), or ``*`` for everything. The rule is one
    regular expression matching the URLs to block. Playwright evaluates a regex route inside its
    driver, so allowed requests never make a round trip through Python.
    """

    def __init__(self, allowed: Iterable[str]) -> None:
        entries = list(allowed)
        self.allow_all = ALLOW_ALL in entries
        self.origins = frozenset(_allow_list_origin(entry) for entry in entries if entry != ALLOW_ALL)
        prefixes = [f"{scheme}:" for scheme in sorted(_ALWAYS_ALLOWED_SCHEMES)]
        prefixes += [_origin_prefix(origin) for origin in sorted(self.origins)]
        self.blocked = re.compile(r"^(?!(?:" + "|".join(prefixes) + "))", re.IGNORECASE)

    def allows(self, url: str) -> bool:
        return self.allow_all or self.blocked.search(url) is None

    def __repr__(self) -> str:
        return "OriginPolicy(*)" if self.allow_all else f"OriginPolicy({sorted(self.origins)})"


def is_transient(error: BaseException) -> bool:
    """Whether a Playwright error is one of the whitelisted races with a navigation."""
    return isinstance(error, PlaywrightError) and any(text in str(error) for text in TRANSIENT_ERRORS)


def retry_transient(call: Callable[[], T], page: Page, attempts: int = 3, timeout_s: float = 5.0) -> T:
    """Run call, retrying (once the page's DOM has loaded) only on whitelisted transient errors."""
    attempt = 1
    while True:
        try:
            return call()
        except PlaywrightError as error:
            if attempt >= attempts or not is_transient(error):
                raise
        attempt += 1
        with suppress(PlaywrightError):
            page.wait_for_load_state("domcontentloaded", timeout=timeout_s * 1000)


class PageActivity:
    """What a page set off since a mark: requests still in flight and main-frame navigations.

    Settling after an action waits only for what that action started, so a page that keeps a
    long poll open costs nothing and a plain click costs one frame. A navigation is known from
    the moment the page asks for it (the Navigation API's ``navigate`` event, watched by
    ``PAGE_WATCH_JS``), not only once the browser reports its request, which can lag; so is
    each ``fetch`` / XHR request, which the page counts as it starts it. A navigation that turns
    into a download never commits: the download ends the wait for it.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self._serial = 0
        self._mark = 0
        self._pending: dict[int, int] = {}
        """id(request) -> the serial number it was started under."""
        self._navigated = False
        self._loaded = False
        """The main frame fired ``load`` since it last navigated (a ``goto`` that waited for it, say)."""
        self._downloading = False
        """A download began: the navigation the page asked for (a link to a file) will never commit."""
        self._unreported = 0
        """fetch/XHR requests the page said it started that Playwright has not reported yet (negative: ahead)."""
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_done)
        page.on("requestfailed", self._on_done)
        page.on("framenavigated", self._on_navigated)
        page.on("load", self._on_load)
        page.on("download", self._on_download)

    def detach(self) -> None:
        """Stop watching the page (it went to the background or closed), so listeners never pile up on it."""
        self.page.remove_listener("request", self._on_request)
        self.page.remove_listener("requestfinished", self._on_done)
        self.page.remove_listener("requestfailed", self._on_done)
        self.page.remove_listener("framenavigated", self._on_navigated)
        self.page.remove_listener("load", self._on_load)
        self.page.remove_listener("download", self._on_download)

    def _on_request(self, request: Request) -> None:
        if request.resource_type in _REPORTED_TYPES:
            self._unreported -= 1
        if request.resource_type in _IGNORED_RESOURCE_TYPES:
            return
        self._serial += 1
        self._pending[id(request)] = self._serial

    def _on_done(self, request: Request) -> None:
        self._pending.pop(id(request), None)

    def _on_navigated(self, frame: object) -> None:
        if frame == self.page.main_frame:
            self._navigated, self._loaded = True, False

    def _on_load(self, page: object) -> None:
        self._loaded = True

    def _on_download(self, download: object) -> None:
        self._downloading = True

    def mark(self) -> None:
        """Start attributing new requests and navigations to the next action."""
        self._mark = self._serial
        self._navigated = self._downloading = False

    def _busy(self) -> bool:
        return any(serial > self._mark for serial in self._pending.values())

    def settle(self, timeout_s: float, poll_s: float = 0.015) -> bool:
        """Wait (at most timeout_s) for the navigation and requests the last action started; True if all done."""
        deadline = time.monotonic() + timeout_s
        requested, _ = self._flush(SETTLE_JS)
        return self._wait(requested, deadline, poll_s)

    def settle_shown(self, timeout_s: float, poll_s: float = 0.015) -> bool:
        """Settle after a screenshot taken right after the action; True when that screenshot still shows the
        page (the action started nothing and the DOM has not changed since the first frame after it), so
        that no second one is needed. A screenshot asked for right after an input rides the frame the input
        produces; one asked for after a round trip into the page waits for the next frame."""
        deadline = time.monotonic() + timeout_s
        requested, unchanged = self._flush(SHOWN_JS)
        quiet = not (requested or self._unreported > 0 or self._busy() or self._navigated or self._downloading)
        if quiet:
            self._unreported = 0
            return unchanged
        self._wait(requested, deadline, poll_s)
        return False

    def _wait(self, requested: bool, deadline: float, poll_s: float) -> bool:
        reported_by = min(deadline, time.monotonic() + _REPORT_GRACE_S)
        waited = False
        while True:
            if self._navigated:
                requested, self._navigated = False, False
                if not self._loaded:  # once loaded (its handlers ran), the screenshot draws it: no wait
                    waited = True
                    try:
                        timeout_ms = max(deadline - time.monotonic(), 0.001) * 1000
                        self.page.wait_for_load_state("load", timeout=timeout_ms)
                    except PlaywrightError:
                        return False
            if self._downloading:
                requested = self._downloading = False
            unreported = self._unreported > 0 and time.monotonic() < reported_by
            if not (requested or unreported or self._busy() or self._navigated):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            waited = True
            self.page.wait_for_timeout(min(poll_s, remaining) * 1000)
        self._unreported = 0  # what was never reported is not waited for again
        if waited:
            # Responses have arrived; one frame later their handlers have run and painted.
            self._flush(NEXT_FRAME_JS)
        return True

    def settle_new(self, timeout_s: float) -> bool:
        """Settle a page met mid-load (a popup, a new tab): the requests it started before this watch began
        are unknown, so wait (at most timeout_s) for its ``load`` event, then as ``settle`` does."""
        deadline = time.monotonic() + timeout_s
        try:
            self.page.wait_for_load_state("load", timeout=max(timeout_s, 0.001) * 1000)
        except PlaywrightTimeoutError:
            return False
        return self.settle(max(deadline - time.monotonic(), 0.0))

    def _flush(self, script: str) -> tuple[bool, bool]:
        """Run a settling script: whether the page asked for a navigation that has not committed yet, and
        whether its DOM is unchanged since the first frame after the last input."""
        try:
            state = self.page.evaluate(script)
        except PlaywrightError as error:
            if not is_transient(error):
                raise
            self._navigated = True  # the document the script ran in was replaced
            return False, False
        if not isinstance(state, list):
            return False, False
        navigating, started, unchanged = state
        self._unreported += int(started)
        return navigating is True, unchanged is True


class _Driver:
    """One Playwright driver per thread (and per process, after a fork), shared by reference count."""

    _local = threading.local()

    @classmethod
    def acquire(cls) -> Playwright:
        state = getattr(cls._local, "state", None)
        if state is None or state[2] != os.getpid():
            # A forked child inherits its parent's handle, whose pipes belong to the parent's driver.
            state = cls._local.state = [sync_playwright().start(), 0, os.getpid()]
        state[1] += 1
        return state[0]

    @classmethod
    def release(cls) -> None:
        state = getattr(cls._local, "state", None)
        if state is None or state[2] != os.getpid():
            return
        state[1] -= 1
        if state[1] <= 0:
            cls._local.state = None
            with suppress(PlaywrightError):
                state[0].stop()


@contextmanager
def shared_playwright() -> Iterator[Playwright]:
    """This thread's Playwright, shared with the environments in it (a second sync driver would fail)."""
    playwright = _Driver.acquire()
    try:
        yield playwright
    finally:
        _Driver.release()


def _proc_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def live_processes(pid: int, marker: str) -> list[int]:
    """Processes of one browser still running (zombies excluded): its session, plus daemons carrying its marker.

    Linux only (reads /proc); how tests prove that no Chromium outlives ``close()``.
    """
    found = []
    tag = f"{MARKER_ENV}={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
            if state in "ZX":
                continue
            if int(session) == pid or tag in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


MAX_PAGES = 8
"""Pages an episode keeps open; past it the oldest background pages are closed, so that a page spamming
``window.open`` cannot exhaust memory."""
_RECHECK_S = 0.05
"""While a page Chromium created is still unreported, how often to check that Chromium has not dropped it
(a popup closed at once is never reported); its report ends the wait at once."""


class Tabs:
    """The pages of one episode's context as a user sees a browser's tabs: the newest page is in front.

    Playwright reports a new page (``window.open``, a ``target=_blank`` link or form, a middle click) only
    once it has set it up, often after the action that opened it has settled. Chromium's
    ``Target.targetCreated``, which arrives while the action still runs, says that one is coming (see
    ``expect``), so ``follow`` waits for it; a step that opens no page never waits. The page in front
    changes only in ``follow``, which runs while a step settles: an action always goes to the page whose
    screenshot the agent saw.
    """

    def __init__(
        self,
        context: BrowserContext,
        viewport: tuple[int, int],
        policy: OriginPolicy,
        max_pages: int = MAX_PAGES,
        on_download: Callable[[Download], None] | None = None,
    ) -> None:
        self._context = context
        self._on_download = on_download
        self._viewport: ViewportSize = {"width": viewport[0], "height": viewport[1]}
        self._policy = policy
        self.max_pages = max_pages
        self._pages: list[Page] = []
        """Pages that came to the front, oldest first; the last one is in front."""
        self._arrived: list[Page] = []
        """Pages Playwright reported that have not come to the front yet."""
        self._targets: set[str] = set()
        """Ids of the context's live page targets, as Chromium reports them (see ``expect`` and ``forget``)."""
        self._silent = 0
        """Targets still unreported when a step's settle time ran out: later steps do not wait for them."""
        self._crashed: list[Page] = []
        self._opened: list[Page] = []
        """Pages that came to the front since ``changes`` was last called."""
        self.closed: list[str] = []
        """URLs of the pages that closed since the list was last cleared: by themselves, crashed behind the
        one in front, or closed to keep ``max_pages``."""
        context.on("page", self._on_page)

    def open_first(self) -> Page:
        """The episode's own first page (not reported as opened)."""
        page = self._context.new_page()
        if page not in self._arrived:  # else the context reported it first, and it is watched already
            self._watch(page)
        self._arrived = [other for other in self._arrived if other is not page]
        self._pages.append(page)
        if page.viewport_size != self._viewport:  # a context without emulation: an attached browser's own
            page.set_viewport_size(self._viewport)
        return page

    def detach(self) -> None:
        """Stop following the context's new pages: a context that outlives the episode gets new ``Tabs``."""
        self._context.remove_listener("page", self._on_page)

    def close_all(self) -> None:
        """Close every page of the episode (those of a context that outlives it)."""
        for page in (*self._pages, *self._arrived):
            self._close(page, report=False)
        self._pages, self._arrived = [], []

    @property
    def current(self) -> Page | None:
        return self._pages[-1] if self._pages else None

    @property
    def pages(self) -> tuple[Page, ...]:
        """The pages that came to the front and are still listed, oldest first (the last is in front)."""
        return tuple(self._pages)

    @property
    def count(self) -> int:
        """Open pages, including those not in front yet."""
        return sum(not page.is_closed() for page in (*self._pages, *self._arrived))

    @property
    def healthy(self) -> bool:
        """Whether the page in front is neither closed nor crashed (pages behind it do not count)."""
        page = self.current
        return page is not None and not page.is_closed() and page not in self._crashed

    def expect(self, target_id: str) -> None:
        """Chromium created a page target: Playwright will report its page."""
        self._targets.add(target_id)

    def forget(self, target_id: str) -> None:
        """Chromium destroyed a page target (closed, or dropped before Playwright reported it)."""
        self._targets.discard(target_id)

    def _unreported(self) -> int:
        """Pages Chromium created that Playwright has not reported yet (and that a step still waits for)."""
        missing = len(self._targets) - self.count  # a shared context's other pages are no episode's
        self._silent = min(self._silent, max(missing, 0))
        return missing - self._silent

    def _on_page(self, page: Page) -> None:
        if page in self._pages or page in self._arrived:
            return
        self._watch(page)
        self._arrived.append(page)
        self._trim()

    def _watch(self, page: Page) -> None:
        page.on("crash", self._on_crash)
        if self._on_download is not None:
            page.on("download", self._on_download)

    def _on_crash(self, page: Page) -> None:
        self._crashed.append(page)

    def follow(self, deadline: float) -> None:
        """Bring the tabs up to date after an action: wait (until deadline) for the pages it opened, drop the
        pages that closed or crashed behind the one in front, and put the newest page in front."""
        while (unreported := self._unreported()) > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._silent += unreported  # reported later, they still come to the front
                break
            with suppress(PlaywrightTimeoutError):
                self._context.wait_for_event("page", timeout=min(remaining, _RECHECK_S) * 1000)
        front = self.current
        gone = [page for page in self._pages if page.is_closed() or (page in self._crashed and page is not front)]
        arrived, self._arrived = [page for page in self._arrived if not page.is_closed()], []
        if len(gone) == len(self._pages) and not arrived:
            return  # the last page closed or crashed: it stays in front, unhealthy, until the next episode
        for page in gone:
            self._pages.remove(page)
            self._close(page)
        for page in arrived:
            if page.viewport_size != self._viewport:  # window.open(url, name, "width=...,height=...")
                page.set_viewport_size(self._viewport)
            self._pages.append(page)
            self._opened.append(page)
        self._drop_refused()
        self._trim()

    def _drop_refused(self) -> None:
        """Close the pages opened to an origin the allow-list refuses, as if they had never opened.

        A popup is often reported while still on its initial ``about:blank``; its refused navigation turns
        it into Chromium's error page later, so this runs again on every ``follow``, after the new page in
        front has settled. A page that was already reported opened is reported closed.
        """
        for page in [page for page in self._pages[1:] if self._refused(page)]:
            self._pages.remove(page)
            reported_opened = page not in self._opened  # by an earlier step's changes
            if not reported_opened:
                self._opened.remove(page)
            self._close(page, report=reported_opened)  # its URL is in the blocked requests either way

    def _refused(self, page: Page) -> bool:
        """Whether the page shows Chromium's error page because the allow-list refused its first document."""
        if self._policy.allow_all or not page.url.startswith("chrome-error:"):
            return False
        try:
            session: CDPSession = self._context.new_cdp_session(page)
            history = session.send("Page.getNavigationHistory")
            session.detach()
        except PlaywrightError:
            return False  # it closed meanwhile; the next follow drops it
        entries = history["entries"]
        return len(entries) == 1 and not self._policy.allows(entries[0]["url"])

    def changes(self) -> tuple[list[str], list[str]]:
        """URLs of the pages opened (as they are now, settled) and closed since the last call."""
        opened, closed = [page.url for page in self._opened], self.closed
        self._opened, self.closed = [], []
        return opened, closed

    def _trim(self) -> None:
        """Close the oldest pages behind the one in front while more than ``max_pages`` are open."""
        front = self.current
        listed = [page for page in (*self._pages, *self._arrived) if not page.is_closed()]
        excess = len(listed) - self.max_pages
        for page in listed:
            if excess <= 0:
                break
            if page is front:
                continue
            if page in self._pages:
                self._pages.remove(page)
            else:
                self._arrived.remove(page)
            self._close(page)
            excess -= 1

    def _close(self, page: Page, *, report: bool = True) -> None:
        if report:
            self.closed.append(page.url)
        with suppress(PlaywrightError):
            page.close()


class BrowserSession:
    """One Chromium with a fresh context (and its ``Tabs``) per episode, launched on demand or attached to.

    - By default pixelpilot launches its own headless Chromium. ``headless=False`` launches it headed:
      on a private Xvfb (see ``display``), watched through its screenshots, or on this process's
      ``$DISPLAY`` with ``show=True``.
    - ``user_data_dir``: a persistent profile (cookies, logins, storage survive on disk). Chromium then
      has one context for its life, so the profile persists across episodes by design: an episode
      opens its own page and closes the pages before it.
    - ``cdp_url``: attach to a Chromium the user started with ``--remote-debugging-port``. Each episode
      gets a new context there, or the browser's own default one (its logged-in session) with
      ``cdp_default_context``; ``close()`` closes only what pixelpilot opened and disconnects. That
      browser is not this session's: it has no ``pid`` and nothing here ever ends it.
    - ``storage_state``: Playwright's storage file (cookies, local storage) each new context starts
      from; ``save_storage_state`` writes the current context's.
    - ``downloads_path``: downloads are saved there (see ``save_downloads``); without it they are
      dropped when their context closes.
    """

    def __init__(
        self,
        *,
        executable_path: str | None = None,
        headless: bool = True,
        show: bool = False,
        user_data_dir: str | Path | None = None,
        storage_state: str | Path | None = None,
        cdp_url: str | None = None,
        cdp_default_context: bool = False,
        downloads_path: str | Path | None = None,
        extra_args: Sequence[str] = (),
        action_timeout_s: float = 10.0,
        navigation_timeout_s: float = 30.0,
    ) -> None:
        _check_options(headless, show, user_data_dir, storage_state, cdp_url, cdp_default_context)
        self.executable_path = executable_path if executable_path is not None else chromium_executable()
        self.headless = headless
        self.show = show
        self.user_data_dir = Path(user_data_dir) if user_data_dir is not None else None
        self.storage_state = Path(storage_state) if storage_state is not None else None
        self.cdp_url = cdp_url
        self.cdp_default_context = cdp_default_context
        self.downloads_path = Path(downloads_path) if downloads_path is not None else None
        self.extra_args = tuple(extra_args)
        self.action_timeout_s = action_timeout_s
        self.navigation_timeout_s = navigation_timeout_s
        self.blocked: list[str] = []
        """URLs aborted by the allow-list since the list was last cleared."""
        self._marker = ""
        self._pid: int | None = None
        self._driver: Playwright | None = None
        self._browser: Browser | None = None
        self._xserver: XServer | None = None
        self._context: BrowserContext | None = None
        self._shared = False
        """Whether the context lives as long as the browser (a profile, an attached browser's default one)."""
        self._launch_device: Device | None = None
        self._tabs: Tabs | None = None
        self._settings: tuple[object, ...] = ()
        self._downloads: list[Download] = []

    @property
    def page(self) -> Page | None:
        """The page in front (see ``Tabs``)."""
        return self._tabs.current if self._tabs is not None else None

    @property
    def pages(self) -> tuple[Page, ...]:
        """The episode's pages that came to the front, oldest first; the last one is in front."""
        return self._tabs.pages if self._tabs is not None else ()

    @property
    def page_count(self) -> int:
        """Open pages of the episode, including those not in front yet."""
        return self._tabs.count if self._tabs is not None else 0

    @property
    def alive(self) -> bool:
        """Whether Chromium is still connected (a killed or crashed browser is not)."""
        return self._browser is not None and self._browser.is_connected()

    @property
    def healthy(self) -> bool:
        """Whether the browser is up and the page in front neither closed nor crashed."""
        return self.alive and self._tabs is not None and self._tabs.healthy

    @property
    def marker(self) -> str:
        """The tag on this session's current browser (see ``live_processes``); empty for an attached one."""
        return self._marker

    @property
    def launched(self) -> bool:
        return self._browser is not None

    @property
    def pid(self) -> int | None:
        """The Chromium browser process this session launched (it leads the session of all its helpers);
        None before launch, after close, and for a browser attached to over CDP, which is not ours."""
        return self._pid if self._browser is not None else None

    @property
    def display(self) -> str | None:
        """The private X display a headed browser runs on (None when headless, shown or attached)."""
        return self._xserver.display.name if self._xserver is not None and self._xserver.alive else None

    def _find_pid(self) -> int | None:
        needle = f"{MARKER_SWITCH}={self._marker}"
        for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
            if entry.name.isdigit() and needle in _proc_cmdline(int(entry.name)).split():
                return int(entry.name)
        return None

    def start(self, device: Device | None = None) -> None:
        """Launch (or attach to) Chromium unless a live one is there; a dead one is cleaned up first.

        A persistent profile's context is made with the page settings, so it is launched for device
        (the desktop preset when None) and relaunched when a later episode asks for another one.
        """
        if self.alive:
            return
        if self.launched:
            self.close()
        self._driver = _Driver.acquire()
        try:
            if self.cdp_url is not None:
                self._attach(self.cdp_url)
            else:
                self._launch(device or DEVICES["desktop"])
            assert self._browser is not None
            self._watch_targets(self._browser)
        except PlaywrightError as error:
            self.close()
            if self.cdp_url is not None:
                raise EnvError(f"could not attach to Chromium at {self.cdp_url}: {error}") from None
            raise EnvError(
                f"could not launch Chromium ({self.executable_path or 'Playwright build'}): {error}"
            ) from None
        except BaseException:  # no Xvfb, no default context: nothing half-started stays behind
            self.close()
            raise

    def _attach(self, cdp_url: str) -> None:
        assert self._driver is not None
        self._browser = self._driver.chromium.connect_over_cdp(cdp_url)
        if self.cdp_default_context:
            if not self._browser.contexts:
                raise EnvError(f"the browser at {cdp_url} has no default context to use")
            self._context, self._shared = self._browser.contexts[0], True

    def _launch(self, device: Device) -> None:
        assert self._driver is not None
        self._marker = uuid.uuid4().hex
        options: dict[str, Any] = {
            "executable_path": self.executable_path,
            "headless": self.headless,
            "args": [*CHROMIUM_ARGS, *self.extra_args, f"{MARKER_SWITCH}={self._marker}"],
            "env": self._launch_env(),
        }
        if self.user_data_dir is None:
            self._browser = self._driver.chromium.launch(**options)
        else:
            context = self._driver.chromium.launch_persistent_context(
                self.user_data_dir, **options, **self._context_options(device)
            )
            self._browser, self._context, self._shared = context.browser, context, True
            self._launch_device = device
        self._pid = self._find_pid()

    def _launch_env(self) -> dict[str, str]:
        """Chromium's environment: its marker, and a private Xvfb's display when headed but not shown."""
        env = {**os.environ, MARKER_ENV: self._marker}
        if self.headless or self.show:
            return env
        from pixelpilot.envs.desktop.xserver import XServer  # Xlib is loaded only for a headed browser

        if self._xserver is None or not self._xserver.alive:
            self._xserver = XServer(size=XVFB_SIZE, window_manager=None)
            self._xserver.start()
        env.pop("WAYLAND_DISPLAY", None)  # else Chromium may prefer the user's Wayland session
        display = self._xserver.display
        env["DISPLAY"] = display.name
        if display.xauthority is not None:
            env["XAUTHORITY"] = display.xauthority
        return env

    def _context_options(self, device: Device) -> dict[str, Any]:
        """Playwright's options for a context showing device."""
        width, height = device.viewport
        options: dict[str, Any] = {
            "viewport": {"width": width, "height": height},
            "device_scale_factor": device.device_scale_factor,
            "is_mobile": device.is_mobile,
            "has_touch": device.has_touch,
            "service_workers": "block",
            "accept_downloads": True,
        }
        if device.user_agent is not None:
            options["user_agent"] = device.user_agent
        return options

    def _watch_targets(self, browser: Browser) -> None:
        """Hear of each page Chromium creates as soon as it does, before Playwright reports it (see ``Tabs``)."""
        targets = browser.new_browser_cdp_session()
        targets.on("Target.targetCreated", self._on_target_created)
        targets.on("Target.targetDestroyed", self._on_target_destroyed)
        targets.send("Target.setDiscoverTargets", {"discover": True, "filter": [{"type": "page"}]})

    def _on_target_created(self, event: dict[str, Any]) -> None:
        target = event["targetInfo"]
        # A subtype (e.g. a prerendered page) is a page Playwright never reports.
        if self._tabs is not None and target["type"] == "page" and not target.get("subtype"):
            self._tabs.expect(target["targetId"])

    def _on_target_destroyed(self, event: dict[str, Any]) -> None:
        if self._tabs is not None:
            self._tabs.forget(event["targetId"])

    def new_page(self, device: Device, policy: OriginPolicy, *, fresh: bool = True) -> Page:
        """The page for a new episode: in a clean context (no cookies, storage or pages carry over, beyond
        ``storage_state``) when fresh, else the current page when its settings match and no other page is
        open, its pointer moved back to the corner. A context that outlives episodes (a profile, an
        attached browser's default one) keeps its state; the episode's page replaces those before it."""
        settings = (device, policy.blocked.pattern, policy.allow_all)
        stale = (bool(self._settings) and settings != self._settings) or self._launch_device not in (None, device)
        if self._shared and stale:
            self.close()  # set up for other settings: launch or attach again (a profile is kept on disk)
        self.start(device)
        assert self._browser is not None
        if not fresh and self.healthy and settings == self._settings and self.page_count == 1:
            page = self.page
            assert page is not None
            page.mouse.move(0, 0)
            return page
        if self._shared:
            context = self._context
            assert context is not None
            if settings != self._settings:
                self._prepare_context(context, policy)
        else:
            self._close_context()
            storage = {"storage_state": self.storage_state} if self.storage_state is not None else {}
            context = self._browser.new_context(**self._context_options(device), **storage)
            self._prepare_context(context, policy)
        self._context, self._settings = context, settings
        previous = self._tabs
        if previous is not None:
            previous.detach()
        on_download = self._on_download if self.downloads_path is not None else None
        self._tabs = Tabs(context, device.viewport, policy, on_download=on_download)
        page = self._tabs.open_first()
        if previous is not None:
            previous.close_all()
        if self.user_data_dir is not None:  # the whole profile is ours: the window it opened with too
            for other in [other for other in context.pages if other is not page]:
                with suppress(PlaywrightError):
                    other.close()
        return page

    def _prepare_context(self, context: BrowserContext, policy: OriginPolicy) -> None:
        context.set_default_timeout(self.action_timeout_s * 1000)
        context.set_default_navigation_timeout(self.navigation_timeout_s * 1000)
        context.add_init_script(PAGE_WATCH_JS)
        if not policy.allow_all:
            context.route(policy.blocked, self._block)
            context.route_web_socket(policy.blocked, self._refuse_socket)

    def follow_pages(self, deadline: float) -> None:
        """Put the page a user would now see in front (see ``Tabs.follow``)."""
        if self._tabs is not None:
            self._tabs.follow(deadline)

    def page_changes(self) -> tuple[list[str], list[str]]:
        """URLs of the pages opened and closed since the last call."""
        return ([], []) if self._tabs is None else self._tabs.changes()

    def save_storage_state(self, path: str | Path) -> bool:
        """Write the current context's cookies and local storage to path in Playwright's format; False when
        there is no context to save."""
        if self._context is None or not self.alive:
            return False
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._context.storage_state(path=path)
        return True

    def _on_download(self, download: Download) -> None:
        self._downloads.append(download)

    def save_downloads(self) -> list[Path]:
        """Save the downloads that began since the last call into ``downloads_path`` (waiting for each to
        finish) under their suggested names, made unique; a failed or cancelled one is left out."""
        downloads, self._downloads = self._downloads, []
        folder = self.downloads_path
        if folder is None:
            return []
        saved = []
        for download in downloads:
            folder.mkdir(parents=True, exist_ok=True)
            path = free_path(folder, download.suggested_filename)
            try:
                download.save_as(path)
            except PlaywrightError:
                continue
            saved.append(path)
        return saved

    def _block(self, route: Route) -> None:
        self.blocked.append(route.request.url)
        route.abort("blockedbyclient")

    def _refuse_socket(self, socket: WebSocketRoute) -> None:
        self.blocked.append(socket.url)
        socket.close(code=1008, reason="origin not allowed")

    def _close_context(self) -> None:
        """Close the episode's context; of an attached browser's default context, only the episode's pages."""
        context, tabs = self._context, self._tabs
        self._context, self._tabs, self._downloads = None, None, []
        if context is None or not self.alive:
            return
        with suppress(PlaywrightError):
            if not self.cdp_default_context:
                context.close()  # a persistent context's close ends its browser
            elif tabs is not None:
                tabs.close_all()
                context.unroute_all(behavior="ignoreErrors")

    def close(self) -> None:
        """Close what this session opened and, if this was its last user, the driver; safe to call twice.

        A launched browser (and its Xvfb) ends; an attached one only loses pixelpilot's pages or context
        and the connection.
        """
        self._close_context()
        browser, self._browser = self._browser, None
        self._shared, self._settings, self._launch_device = False, (), None
        if browser is not None:
            with suppress(PlaywrightError):
                browser.close()  # for an attached browser: disconnect, closing only contexts pixelpilot made
        self._pid = None
        if self._xserver is not None:
            self._xserver.stop()
            self._xserver = None
        if self._driver is not None:
            self._driver = None
            _Driver.release()


def free_path(folder: Path, name: str) -> Path:
    """folder/name, or ``name (1)``, ``name (2)``... as browsers name a second download of the same file."""
    base = Path(name).name or "download"
    path = folder / base
    stem, suffix = Path(base).stem, Path(base).suffix
    count = 1
    while path.exists():
        path = folder / f"{stem} ({count}){suffix}"
        count += 1
    return path


def _check_options(
    headless: bool,
    show: bool,
    user_data_dir: str | Path | None,
    storage_state: str | Path | None,
    cdp_url: str | None,
    cdp_default_context: bool,
) -> None:
    """Refuse (ConfigError) browser options that contradict each other, before anything starts."""
    if show and headless:
        raise ConfigError("show=True puts a headed browser on your display: pass headless=False too")
    if show and not os.environ.get("DISPLAY"):
        raise ConfigError("show=True needs a display and DISPLAY is not set (headless=False alone uses a private Xvfb)")
    if cdp_url is not None and (user_data_dir is not None or not headless):
        raise ConfigError("cdp_url attaches to a running browser: its profile and window are its own")
    if cdp_default_context and cdp_url is None:
        raise ConfigError("cdp_default_context needs cdp_url: the default context of an attached browser")
    if storage_state is not None and (user_data_dir is not None or cdp_default_context):
        raise ConfigError("storage_state starts a fresh context; a profile or a default context keeps its own state")
