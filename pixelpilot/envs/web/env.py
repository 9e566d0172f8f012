"""WebEnv: a gymnasium environment over a real Chromium page, driven by Qwen3-VL ``computer_use`` calls.

Each step parses the action with the same code as the agent's parser, carries it out with real
mouse and keyboard events, waits only for what the action set off (a navigation, requests),
takes a screenshot and asks the task whether it is done; every phase is timed into ``info``.
A model's mistake (bad text, a bad argument) and a browser failure never raise: they come back
as ``info["action_error"]`` so the agent can show them to the model.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from PIL import Image
from playwright.sync_api import Error as PlaywrightError

from pixelpilot.envs.core.actions import ComputerAction, to_grid, to_pixels
from pixelpilot.envs.core.keys import parse_combo
from pixelpilot.envs.core.screen import Observation, ScreenEnv, ScreenWord, Step, first_line, timed
from pixelpilot.envs.core.task import TaskStatus
from pixelpilot.envs.web.browser import BrowserSession, OriginPolicy, PageActivity, retry_transient
from pixelpilot.envs.web.devices import Device, device_named
from pixelpilot.envs.web.dom import NEXT_FRAME_JS, TARGET_JS, WORDS_JS
from pixelpilot.envs.web.oracle import Cells
from pixelpilot.envs.web.tasks import WebTask
from pixelpilot.errors import ActionError

if TYPE_CHECKING:
    from playwright.sync_api import Page

_SETTLE_FIRST = frozenset({"scroll", "hscroll", "wait"})
"""Actions whose effect is drawn later than the frame right after them (a scroll lands a frame later)."""

_PLAYWRIGHT_KEYS = {
    "ctrl": "Control",
    "alt": "Alt",
    "shift": "Shift",
    "super": "Meta",
    "enter": "Enter",
    "kpenter": "NumpadEnter",
    "escape": "Escape",
    "tab": "Tab",
    "backspace": "Backspace",
    "delete": "Delete",
    "insert": "Insert",
    "space": "Space",
    "up": "ArrowUp",
    "down": "ArrowDown",
    "left": "ArrowLeft",
    "right": "ArrowRight",
    "pageup": "PageUp",
    "pagedown": "PageDown",
    "home": "Home",
    "end": "End",
    "capslock": "CapsLock",
    "numlock": "NumLock",
    "scrolllock": "ScrollLock",
    "pause": "Pause",
    "printscreen": "PrintScreen",
    "menu": "ContextMenu",
    **{f"f{i}": f"F{i}" for i in range(1, 13)},  # Playwright's keyboard stops at F12
}
"""Canonical key names (``keys.NAMED_KEYS``) -> Playwright's; single characters pass through."""


def playwright_keys(keys: Sequence[str]) -> list[str]:
    """Map a ``computer_use`` key combo (["ctrl", "a"], ["Return"], ["ctrl+shift+t"]) to Playwright keys."""
    combo = parse_combo(keys)
    mapped = []
    for key in combo:
        if len(key) == 1:
            # Playwright shifts a key only when named by its code: shift+t must reach the page as "T", as it would
            # from a real keyboard, not as "t".
            shifted = "shift" in combo and key.isascii() and (key.islower() or key.isdigit())
            mapped.append(("Digit" if key.isdigit() else "Key") + key.upper() if shifted else key)
        elif key in _PLAYWRIGHT_KEYS:
            mapped.append(_PLAYWRIGHT_KEYS[key])
        else:
            raise ActionError(f"the browser has no {key} key")
    return mapped


class WebEnv(ScreenEnv[WebTask, ComputerAction]):
    """A task on a real Chromium page; observations are viewport screenshots plus the instruction.

    ``viewport``/``device_scale_factor``/``allowed_origins`` default to the task's; ``device`` (a
    name of ``devices.DEVICES``: desktop, laptop, phone, or a ``Device``) sets all of a screen's
    traits at once, and an explicit ``viewport`` or ``device_scale_factor`` still wins over it.
    ``allowed_origins`` entries may be patterns for subdomains (``https://*.example.com``). The
    browser is launched by the first ``reset`` (one per environment) and relaunched by a ``reset``
    after it died; like Playwright's sync API it then belongs to that thread. Scroll ``pixels`` are
    CSS pixels of the page (screen pixels at device scale 1).

    Browser options (see ``BrowserSession``): ``headless=False`` runs a headed Chromium on a private
    Xvfb, or on your display with ``show=True``; ``user_data_dir`` is a persistent profile (it is
    kept across episodes by design); ``storage_state`` is a Playwright storage file every episode
    starts from and ``save_storage_state`` a file the episode's state is written to when it ends;
    ``cdp_url`` attaches to a running Chromium (a new context per episode, or its default one with
    ``cdp_default_context``) that ``close()`` leaves running; files the page downloads are saved in
    ``downloads_path`` and listed in ``info["downloads"]``.

    Pages behave as a browser's tabs: a page the episode opens (a popup, a ``target=_blank`` link)
    comes to the front once the step that opened it settles, and when the page in front closes the
    one behind it comes back. The step says so in ``info["page_opened"]`` / ``info["page_closed"]``
    (URLs), and in ``info["notes"]``, which the GUI tool tells the model; at most ``browser.MAX_PAGES``
    stay open.
    """

    gui_tool = "computer_use"

    def __init__(
        self,
        task: WebTask,
        viewport: tuple[int, int] | None = None,
        device_scale_factor: float | None = None,
        allowed_origins: Sequence[str] | None = None,
        render_mode: str | None = None,
        *,
        settle_timeout_s: float = 3.0,
        max_wait_s: float = 30.0,
        action_timeout_s: float = 10.0,
        executable_path: str | None = None,
        headless: bool = True,
        show: bool = False,
        device: str | Device | None = None,
        user_data_dir: str | Path | None = None,
        storage_state: str | Path | None = None,
        save_storage_state: str | Path | None = None,
        cdp_url: str | None = None,
        cdp_default_context: bool = False,
        downloads_path: str | Path | None = None,
    ) -> None:
        super().__init__(task, render_mode)
        preset = device_named(device) if isinstance(device, str) else device
        base = preset or Device(tuple(task.viewport), task.device_scale_factor)
        self.device = dataclasses.replace(
            base,
            viewport=tuple(viewport or base.viewport),
            device_scale_factor=float(device_scale_factor or base.device_scale_factor),
        )
        self.viewport = self.device.viewport
        self.device_scale_factor = self.device.device_scale_factor
        self.save_storage_state = Path(save_storage_state) if save_storage_state is not None else None
        origins = task.origins() if allowed_origins is None else tuple(allowed_origins)
        self.policy = OriginPolicy(origins)
        self.settle_timeout_s = settle_timeout_s
        self.max_wait_s = max_wait_s
        width, height = self.viewport
        self._shape = (round(height * self.device_scale_factor), round(width * self.device_scale_factor), 3)
        self._use_screen(*self._shape[:2])
        self._session = BrowserSession(
            executable_path=executable_path,
            headless=headless,
            show=show,
            user_data_dir=user_data_dir,
            storage_state=storage_state,
            cdp_url=cdp_url,
            cdp_default_context=cdp_default_context,
            downloads_path=downloads_path,
            action_timeout_s=action_timeout_s,
        )
        self._activity: PageActivity | None = None
        self._mouse = (0.0, 0.0)
        self.oracle_cells: Cells | None = None
        """When set (a model's image tokens across and down the screenshot), the task's oracle aims its
        clicks at the centres of those tokens (SFT's ``demo_clicks: token``); None: at its targets' centres."""

    # -- what oracles and tools read -------------------------------------------------------------

    @property
    def page(self) -> Page:
        """The Playwright page in front: the one the last observation shows and the next action goes to."""
        page = self._session.page
        if page is None:
            raise gym.error.ResetNeeded("no page yet: call reset() first")
        return page

    @property
    def browser(self) -> BrowserSession:
        """This environment's own browser (its ``pid`` is None before the first reset and after close)."""
        return self._session

    def to_grid(self, x_css: float, y_css: float) -> tuple[int, int]:
        """The 0–1000 grid point of the observation where a CSS-pixel point of the viewport appears."""
        return to_grid(x_css, y_css, *self.viewport)

    @property
    def url(self) -> str | None:
        """The address of the page in front (None before the first reset)."""
        page = self._session.page
        return page.url if page is not None else None

    def describe_target(self, action: ComputerAction) -> dict[str, Any] | None:
        """The element ``action`` would reach (under its point, else the focused one), for approval hooks."""
        page = self._session.page
        if page is None:
            return None
        point = list(self._to_css(action.coordinate)) if action.coordinate is not None else None
        try:
            return page.evaluate(TARGET_JS, point)
        except PlaywrightError:
            return None

    def words_on_screen(self) -> list[ScreenWord]:
        """The words the last screenshot shows, boxed in its pixels: what a reading stage teaches a model to see."""
        obs_height, obs_width = self._shape[:2]
        width, height = self.viewport
        scale_x, scale_y = obs_width / width, obs_height / height
        return [
            ScreenWord(text, (left * scale_x, top * scale_y, right * scale_x, bottom * scale_y))
            for text, left, top, right, bottom in self.page.evaluate(WORDS_JS)
        ]

    def _to_css(self, coordinate: tuple[int, int]) -> tuple[float, float]:
        obs_height, obs_width = self._shape[:2]
        x_px, y_px = to_pixels(coordinate, obs_width, obs_height)
        width, height = self.viewport
        return x_px * width / obs_width, y_px * height / obs_height

    # -- gymnasium API -----------------------------------------------------------------------------

    def close(self) -> None:
        self._teardown()
        self._session.close()
        self._activity = None
        super().close()

    # -- an episode --------------------------------------------------------------------------------

    def _open_episode(self, seed: int, timings: dict[str, float]) -> Observation:
        self._teardown()

        def start() -> Observation:
            self._take_instruction(self._start_episode(seed, timings))
            with timed(timings, "observe"):
                return self._observe()

        observation = self._start_or_restart(start)
        self._mouse = (0.0, 0.0)
        return observation

    def _start_episode(self, seed: int, timings: dict[str, float]) -> str:
        with timed(timings, "launch"):
            self._session.start(self.device)
        self._session.blocked.clear()
        with timed(timings, "setup"):
            page = self._session.new_page(self.device, self.policy, fresh=self.task.fresh_context)
            self._session.page_changes()  # an episode reports only its own pages
            self._watch(page)
            assert self._activity is not None
            self._activity.mark()
            instruction = retry_transient(lambda: self.task.setup(page, seed), page)
        with timed(timings, "settle"):
            deadline = time.monotonic() + self.settle_timeout_s
            self._activity.settle(self.settle_timeout_s)
            self._follow_pages(deadline)
        return str(instruction)

    def _watch(self, page: Page) -> None:
        """Attribute what happens from now on to page (the one in front)."""
        if self._activity is not None and self._activity.page is page:
            return
        if self._activity is not None:
            with suppress(PlaywrightError):
                self._activity.detach()
        self._activity = PageActivity(page)

    # -- the phases of a step ----------------------------------------------------------------------

    def _prepare(self, action: ComputerAction) -> list[str]:
        keys = playwright_keys(action.keys or ()) if action.action == "key" else []
        if action.action == "wait" and (action.time or 0) > self.max_wait_s:
            raise ActionError(f"wait time {action.time}s is over this environment's limit of {self.max_wait_s}s")
        return keys

    def _perform(self, action: ComputerAction, keys: list[str]) -> None:
        page = self.page
        try:
            self._input(page, action, keys)
        except PlaywrightError:
            # The page closed under the action (window.close() in a handler of it, or just before it): no
            # mistake of the model's; settling brings the page behind to the front and info reports it.
            if not page.is_closed() or self._session.page_count == 0:
                raise

    def _input(self, page: Page, action: ComputerAction, keys: list[str]) -> None:
        mouse = page.mouse
        name = action.action
        if action.coordinate is not None and name not in ("wait", "terminate", "answer", "type", "key"):
            target = self._to_css(action.coordinate)
        else:
            target = self._mouse
        if name == "key":
            for key in keys:
                page.keyboard.down(key)
            for key in reversed(keys):
                page.keyboard.up(key)
        elif name == "type":
            page.keyboard.type(action.text or "")
        elif name == "mouse_move":
            mouse.move(*target)
        elif name in ("left_click", "right_click", "middle_click"):
            mouse.click(*target, button=name.removesuffix("_click"))  # type: ignore[arg-type]
        elif name == "double_click":
            mouse.dblclick(*target)
        elif name == "triple_click":
            mouse.click(*target, click_count=3)
        elif name == "left_click_drag":
            mouse.move(*self._mouse)
            mouse.down()
            mouse.move(*target, steps=10)
            mouse.up()
        elif name in ("scroll", "hscroll"):
            mouse.move(*target)
            pixels = action.pixels or 0
            if name == "scroll":
                mouse.wheel(0, -pixels)
            else:
                mouse.wheel(pixels, 0)
        elif name == "wait":
            page.wait_for_timeout((action.time or 0) * 1000)
        self._mouse = target

    def _settle_and_observe(self, action: ComputerAction, timings: dict[str, float]) -> Observation:
        """Screenshot the frame the input produced, then settle; a second screenshot only when the action
        set something off (a navigation, a request, a new page in front, a DOM change after that frame).
        Scrolls and waits produce no frame of their own to catch: they settle first."""
        page = self.page
        if action.action in _SETTLE_FIRST or page.is_closed():
            return super()._settle_and_observe(action, timings)
        with timed(timings, "observe"):
            try:
                png = page.screenshot(caret="initial")
            except PlaywrightError:  # the page closed or navigated under the action: settle, then look
                png = None
        with timed(timings, "settle"):
            shown = self._settle_page(action, after_screenshot=png is not None)
        with timed(timings, "observe"):
            return self._decode(png) if png is not None and shown else self._observe()

    def _settle(self, action: ComputerAction) -> None:
        self._settle_page(action, after_screenshot=False)

    def _settle_page(self, action: ComputerAction, after_screenshot: bool) -> bool:
        """Settle; True when a screenshot taken right after the action still shows the page in front."""
        assert self._activity is not None
        deadline = time.monotonic() + self.settle_timeout_s
        page = self._activity.page
        shown = False
        try:
            if action.action in ("scroll", "hscroll"):
                # Wheel events scroll asynchronously; one frame later the new position is on screen.
                page.evaluate(NEXT_FRAME_JS)
            if after_screenshot:
                shown = self._activity.settle_shown(self.settle_timeout_s)
            else:
                self._activity.settle(self.settle_timeout_s)
        except PlaywrightError:
            if not page.is_closed():
                raise
            # The action closed the page (window.close()): the page behind it comes to the front.
        self._follow_pages(deadline)
        self._activity.mark()
        return shown and self.page is page

    def _follow_pages(self, deadline: float) -> None:
        """Bring to the front the page a browser's user would now see, and settle it (its load, if new)."""
        assert self._activity is not None
        while True:
            self._session.follow_pages(deadline)
            page = self.page
            if page is self._activity.page:
                return
            self._watch(page)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return  # the settle time is spent: the page is shown as it is
            try:
                self._activity.settle_new(remaining)
            except PlaywrightError:
                if not page.is_closed():  # else it closed while loading: the next round shows the one behind
                    raise

    def _observe(self) -> Observation:
        page = self.page
        return self._decode(retry_transient(lambda: page.screenshot(caret="initial"), page))

    def _decode(self, png: bytes) -> Observation:
        image = Image.open(io.BytesIO(png)).convert("RGB")
        if image.size != (self._shape[1], self._shape[0]):
            image = image.resize((self._shape[1], self._shape[0]), Image.Resampling.BILINEAR)
        return self._observation(np.array(image, dtype=np.uint8))

    def _task_target(self) -> Page:
        return self.page

    def _check(self, action: ComputerAction, info: dict[str, Any]) -> TaskStatus:
        return retry_transient(functools.partial(super()._check, action, info), self.page)

    # -- failures ----------------------------------------------------------------------------------

    def _failures(self) -> tuple[type[BaseException], ...]:
        return (PlaywrightError,)

    def _healthy(self) -> bool:
        return self._session.healthy

    def _extra_info(self) -> dict[str, Any]:
        opened, closed = self._session.page_changes()
        notes = [f"Closed: {', '.join(closed)}."] if closed else []
        notes += [f"A new page opened in front: {opened[-1]}."] if opened else []
        downloads = self._session.save_downloads()
        notes += [f"Downloaded {', '.join(path.name for path in downloads)}."] if downloads else []
        return {
            "blocked_requests": self._drain_blocked(),
            "page_opened": opened,
            "page_closed": closed,
            "downloads": [str(path) for path in downloads],
            "notes": notes,
        }

    def _rejected(self, message: str) -> Step:
        observation, reward, terminated, truncated, info = super()._rejected(message)
        # What happened meanwhile (requests blocked, pages opened or closed) is reported by the next step that acts.
        info.update(blocked_requests=[], page_opened=[], page_closed=[], downloads=[], notes=[])
        return observation, reward, terminated, truncated, info

    def _broken(self, error: BaseException, timings: dict[str, float], info: dict[str, Any]) -> Step:
        if not self._session.alive:
            cause = "the browser is gone (killed or crashed)"
        elif not self._session.healthy:
            cause = "the page crashed or was closed"
        else:
            cause = "the page stopped responding"
        return self._truncated(f"{cause}: {first_line(error)}; reset() to start again", timings, info)

    def _teardown(self) -> None:
        """End the episode: the task's teardown, then its browser state saved when asked (a login made during
        the episode is then in ``save_storage_state`` for the next run)."""
        page = self._session.page
        if page is None or not self._session.alive:
            return
        with suppress(PlaywrightError):
            self.task.teardown(page)
        if self.save_storage_state is not None:
            self._session.save_storage_state(self.save_storage_state)

    def _drain_blocked(self) -> list[str]:
        blocked = list(self._session.blocked)
        self._session.blocked.clear()
        return blocked
