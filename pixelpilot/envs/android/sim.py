"""SimPhone: the simulated Android phone, a web app (``sim_app/``) in Chromium, driven by touch.

No emulator, no network: the app is served from the package's files (``file://``, the only origin
the page may load from) at a phone's viewport, 360x780 CSS px at device scale 2 by default, so
screenshots are 720x1560. Actions are real input: taps, long presses and swipes are touch events
sent through the DevTools protocol (``Input.dispatchTouchEvent``, with touch emulation on), so
Chromium itself turns them into clicks and scrolling; text is typed with the keyboard; Back, Home
and Menu are taps on the navigation bar. Only ``open`` goes through the app's launcher function
directly, as Android's launcher intent (and AndroidWorld's ``open_app``) does.

The phone's data is ``window.phone.state`` (``world.PhoneState``): ``boot`` starts an episode from
one, ``read_state`` reads it back for task checks.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image
from playwright.sync_api import Error as PlaywrightError

from pixelpilot.envs.android.base import AndroidDevice
from pixelpilot.envs.android.keys import android_key
from pixelpilot.envs.android.world import PhoneState
from pixelpilot.envs.core.actions import MobileAction
from pixelpilot.envs.web.browser import BrowserSession, OriginPolicy, retry_transient
from pixelpilot.envs.web.devices import Device
from pixelpilot.errors import ActionError, EnvError

if TYPE_CHECKING:
    from playwright.sync_api import CDPSession, Page

APP_DIR = Path(__file__).with_name("sim_app")
VIEWPORT = (360, 780)
DEVICE_SCALE_FACTOR = 2.0
SWIPE_STEPS = 12

_PLAYWRIGHT_KEYS = {
    "KEYCODE_ENTER": "Enter",
    "KEYCODE_DEL": "Backspace",
    "KEYCODE_FORWARD_DEL": "Delete",
    "KEYCODE_TAB": "Tab",
    "KEYCODE_SPACE": " ",
    "KEYCODE_ESCAPE": "Escape",
    "KEYCODE_DPAD_UP": "ArrowUp",
    "KEYCODE_DPAD_DOWN": "ArrowDown",
    "KEYCODE_DPAD_LEFT": "ArrowLeft",
    "KEYCODE_DPAD_RIGHT": "ArrowRight",
    "KEYCODE_DPAD_CENTER": "Enter",
    "KEYCODE_MOVE_HOME": "Home",
    "KEYCODE_MOVE_END": "End",
    "KEYCODE_PAGE_UP": "PageUp",
    "KEYCODE_PAGE_DOWN": "PageDown",
    "KEYCODE_COMMA": ",",
    "KEYCODE_PERIOD": ".",
    "KEYCODE_MINUS": "-",
    "KEYCODE_EQUALS": "=",
    "KEYCODE_SLASH": "/",
    "KEYCODE_AT": "@",
    "KEYCODE_PLUS": "+",
    "KEYCODE_STAR": "*",
    "KEYCODE_POUND": "#",
}
"""Keys typed into the focused field; letters and digits map to themselves."""
_NAV_KEYS = {"KEYCODE_BACK": "Back", "KEYCODE_HOME": "Home", "KEYCODE_MENU": "Menu"}
_SYSTEM_KEYS = {
    "KEYCODE_VOLUME_UP": "VOLUME_UP",
    "KEYCODE_VOLUME_DOWN": "VOLUME_DOWN",
    "KEYCODE_VOLUME_MUTE": "VOLUME_MUTE",
}


def app_url() -> str:
    return (APP_DIR / "index.html").as_uri()


def playwright_key(keycode: str) -> str | None:
    """The key the focused field receives for an Android key code, or None if it is not a typing key."""
    if keycode in _PLAYWRIGHT_KEYS:
        return _PLAYWRIGHT_KEYS[keycode]
    name = keycode.removeprefix("KEYCODE_")
    if len(name) == 1 and name.isalnum():
        return name.lower()
    return None


def _normal(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


class SimPhone(AndroidDevice):
    """The phone web app in its own Chromium (launched by ``start``, one page reused across episodes)."""

    failures = (PlaywrightError,)

    def __init__(
        self,
        viewport: tuple[int, int] = VIEWPORT,
        device_scale_factor: float = DEVICE_SCALE_FACTOR,
        *,
        executable_path: str | None = None,
        headless: bool = True,
        action_timeout_s: float = 10.0,
    ) -> None:
        self.viewport = (int(viewport[0]), int(viewport[1]))
        self.device_scale_factor = float(device_scale_factor)
        self.session = BrowserSession(
            executable_path=executable_path, headless=headless, action_timeout_s=action_timeout_s
        )
        self._policy = OriginPolicy(["file://"])
        self._page: Page | None = None
        self._cdp: CDPSession | None = None
        self._apps: dict[str, str] = {}

    # -- the page --------------------------------------------------------------------------------

    @property
    def page(self) -> Page | None:
        """The phone's page (None before the first episode)."""
        return self._page

    def _live_page(self) -> Page:
        if self._page is None:
            raise EnvError("the simulated phone has no episode yet: reset() the environment first")
        return self._page

    def boot(self, state: PhoneState) -> None:
        """Start an episode: the app rebooted on state (its screens, overlays and gestures all reset),
        showing the launcher."""
        self.start()
        page = self.session.new_page(Device(self.viewport, self.device_scale_factor), self._policy, fresh=False)
        if page is not self._page:
            self._page = page
            self._cdp = page.context.new_cdp_session(page)
            # A phone: touch emulation (dispatched touches become taps, scrolls and clicks, and the page
            # sees a coarse pointer) and mobile viewport rules, as Playwright's has_touch/is_mobile set.
            self._cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
            width, height = self.viewport
            self._cdp.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": self.device_scale_factor, "mobile": True},
            )
        if page.url != app_url():  # a new page; a loaded one is rebooted in place, which is as clean and faster
            page.goto(app_url())
        retry_transient(lambda: page.evaluate("state => window.phone.boot(state)", state.model_dump(mode="json")), page)
        if not self._apps:
            self._apps = self._app_names(page)

    def read_state(self) -> PhoneState:
        """The phone's data now, as task checks see it."""
        return PhoneState.model_validate(self._live_page().evaluate("() => window.phone.state"))

    def current_screen(self) -> dict[str, Any]:
        """Which app and screen are showing (``app`` is None on the home screen), and any open overlay."""
        return self._live_page().evaluate(
            """() => { const top = window.phone.top();
              return {app: top ? top.app : null, screen: top ? top.screen : null,
                      overlay: window.phone.ui.overlay ? window.phone.ui.overlay.kind : null}; }"""
        )

    @staticmethod
    def _app_names(page: Page) -> dict[str, str]:
        names: dict[str, str] = {}
        for app in page.evaluate("() => window.phone.appList()"):
            for name in (app["id"], app["label"], *app["aliases"]):
                names[_normal(name)] = app["id"]
        return names

    # -- AndroidDevice -----------------------------------------------------------------------------

    @property
    def screen_size(self) -> tuple[int, int]:
        width, height = self.viewport
        return round(width * self.device_scale_factor), round(height * self.device_scale_factor)

    @property
    def layout_size(self) -> tuple[float, float]:
        return float(self.viewport[0]), float(self.viewport[1])

    @property
    def healthy(self) -> bool:
        return self.session.healthy

    def start(self) -> None:
        if not self.session.alive:
            self._page, self._cdp = None, None
        self.session.start()

    def check(self, action: MobileAction) -> None:
        if action.action == "key":
            keycode = android_key(action.text or "")
            if keycode not in _NAV_KEYS and keycode not in _SYSTEM_KEYS and playwright_key(keycode) is None:
                raise ActionError(f"the simulated phone has no {keycode} key")  # e.g. POWER, CAMERA
        if action.action == "open" and _normal(action.text or "") not in self._apps:
            known = sorted({app.capitalize() for app in self._apps.values()})
            raise ActionError(f"no app named {action.text!r} on this phone; its apps are {', '.join(known)}")

    def _css(self, x: float, y: float) -> dict[str, float]:
        return {"x": x / self.device_scale_factor, "y": y / self.device_scale_factor}

    def _touch(self, kind: str, points: list[dict[str, float]]) -> None:
        if self._cdp is None:
            raise EnvError("the simulated phone has no episode yet: reset() the environment first")
        self._cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def tap(self, x: int, y: int) -> None:
        point = self._css(x, y)
        self._touch("touchStart", [point])
        self._touch("touchEnd", [])

    def long_press(self, x: int, y: int, seconds: float) -> None:
        self._touch("touchStart", [self._css(x, y)])
        self._live_page().wait_for_timeout(seconds * 1000)
        self._touch("touchEnd", [])

    def swipe(self, x1: int, y1: int, x2: int, y2: int, seconds: float) -> None:
        page = self._live_page()
        self._touch("touchStart", [self._css(x1, y1)])
        for i in range(1, SWIPE_STEPS + 1):
            t = i / SWIPE_STEPS
            page.wait_for_timeout(seconds * 1000 / SWIPE_STEPS)
            self._touch("touchMove", [self._css(x1 + (x2 - x1) * t, y1 + (y2 - y1) * t)])
        self._touch("touchEnd", [])

    def type_text(self, text: str) -> None:
        self._live_page().keyboard.insert_text(text)

    def key(self, keycode: str) -> None:
        if keycode in _NAV_KEYS:
            self.system_button(_NAV_KEYS[keycode])
            return
        page = self._live_page()
        if keycode in _SYSTEM_KEYS:
            page.evaluate("code => window.phone.key(code)", _SYSTEM_KEYS[keycode])
            return
        key = playwright_key(keycode)
        if key is None:
            raise ActionError(f"the simulated phone has no {keycode} key")
        page.keyboard.press(key)

    def system_button(self, button: str) -> None:
        if button == "Enter":
            self._live_page().keyboard.press("Enter")
            return
        box = self._live_page().locator(f'#nav button[aria-label="{button}"]').bounding_box()
        if box is None:
            raise EnvError(f"the navigation bar has no {button} button")
        scale = self.device_scale_factor
        self.tap(round((box["x"] + box["width"] / 2) * scale), round((box["y"] + box["height"] / 2) * scale))

    def open_app(self, name: str) -> None:
        self._live_page().evaluate("id => window.phone.launch(id)", self._apps[_normal(name)])

    def wait(self, seconds: float) -> None:
        self._live_page().wait_for_timeout(seconds * 1000)

    def settle(self) -> None:
        page = self._live_page()
        retry_transient(lambda: page.evaluate("() => window.phone.settled()"), page)

    def screenshot(self) -> np.ndarray:
        page = self._live_page()
        png = retry_transient(page.screenshot, page)
        image = Image.open(io.BytesIO(png)).convert("RGB")
        width, height = self.screen_size
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)

    def close(self) -> None:
        self.session.close()
        self._page, self._cdp = None, None
