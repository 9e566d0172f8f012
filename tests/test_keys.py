"""One key-name parser for every backend: canonical names, then real keys in Chromium and on an Xvfb display."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from pydantic import PrivateAttr
from Xlib import XK
from Xlib import display as xlib_display

from pixelpilot.envs import URLTask, WebEnv
from pixelpilot.envs.core.keys import FUNCTION_KEYS, NAMED_KEYS, key_name, parse_combo, typing_keys
from pixelpilot.envs.core.task import TaskStatus
from pixelpilot.envs.desktop.env import AppHandle, Desktop, DesktopEnv, x_keysym
from pixelpilot.envs.desktop.tasks import DesktopTask
from pixelpilot.envs.desktop.xserver import Keyboard, XDisplay, XServer, chunks_for
from pixelpilot.envs.web.env import playwright_keys
from pixelpilot.errors import ActionError, EnvError

if TYPE_CHECKING:
    from conftest import LocalServer


@pytest.mark.parametrize(
    ("keys", "canonical"),
    [
        (["ctrl", "a"], ("ctrl", "a")),
        (["ctrl+shift+T"], ("ctrl", "shift", "T")),
        (["Control_L+Shift_R+t"], ("ctrl", "shift", "t")),
        (["ControlLeft", "AltRight", "ctrlleft", "winleft"], ("ctrl", "alt", "super")),
        (["Return"], ("enter",)),
        (["KP_Enter"], ("kpenter",)),
        (["esc", "Escape"], ("escape",)),
        (["Page_Down", "pgup"], ("pagedown", "pageup")),
        (["Prior", "Next"], ("pageup", "pagedown")),
        (["ArrowUp", "left"], ("up", "left")),
        (["cmd", "Meta", "win", "super_l"], ("super",)),
        (["F5", "f24"], ("f5", "f24")),
        (["+"], ("+",)),
        (["ctrl++"], ("ctrl", "+")),
        (["ctrl", "plus"], ("ctrl", "+")),
        (["shift+minus"], ("shift", "-")),
        ([" "], ("space",)),
        (["ctrl+ a"], ("ctrl", "a")),
        (["\n"], ("enter",)),
        (["é"], ("é",)),
        (["Print", "context_menu"], ("printscreen", "menu")),
    ],
)
def test_dialects_parse_to_canonical_keys(keys: list[str], canonical: tuple[str, ...]) -> None:
    assert parse_combo(keys) == canonical


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (["hyperdrive"], "unknown key 'hyperdrive'; use names such as ctrl"),
        (["ctrl+"], "unknown key 'ctrl+'"),
        (["leftleft"], "unknown key 'leftleft'"),
        ([], "keys must name at least one key"),
        ([""], "keys must name at least one key"),
        (["\x07"], "cannot press the control character"),
    ],
)
def test_bad_key_names_are_action_errors(keys: list[str], message: str) -> None:
    with pytest.raises(ActionError, match=message.replace("+", r"\+")):
        parse_combo(keys)


def test_typing_keys_turn_newlines_and_tabs_into_keys() -> None:
    assert typing_keys("a B\n\r\t") == ("a", "space", "B", "enter", "enter", "tab")
    with pytest.raises(ActionError, match="cannot type the control character"):
        typing_keys("bell\x07")


def test_both_backends_name_every_canonical_key() -> None:
    """Every canonical name reaches an X keysym; the browser's only gap is what Playwright lacks (F13-F24)."""
    assert all(x_keysym(key) for key in NAMED_KEYS)
    assert x_keysym("a") == XK.XK_a and x_keysym("é") == XK.XK_eacute and x_keysym("☃") == 0x01002603
    web = [key for key in NAMED_KEYS if key not in FUNCTION_KEYS[12:]]
    assert len(playwright_keys(web)) == len(web)
    with pytest.raises(ActionError, match="the browser has no f13 key"):
        playwright_keys(["ctrl", "F13"])


def test_key_name_is_the_one_entry_point_for_single_names() -> None:
    assert [key_name(n) for n in ("Control", "option", "Delete", "del", "Insert")] == [
        "ctrl",
        "alt",
        "delete",
        "delete",
        "insert",
    ]


def test_chunks_keep_each_piece_within_the_spare_keycodes() -> None:
    lacks = {ord(c) for c in "éèêαβγδε"}.__contains__
    assert chunks_for([ord(c) for c in "aébècêdé"], 2, lacks) == [[ord(c) for c in "aébèc"], [ord(c) for c in "êdé"]]
    pieces = chunks_for([ord(c) for c in "αβγδε"], 2, lacks)
    assert [len(p) for p in pieces] == [2, 2, 1]


# -- real keys in Chromium ---------------------------------------------------------------------------------------

KEYS_PAGE = """<!doctype html><html><body><input id="field" autofocus><script>
  window.keys = [];
  document.addEventListener("keydown", e => { window.keys.push(e.key); e.preventDefault(); }, true);
</script></body></html>"""

DOM_KEYS = {
    "ctrl": "Control",
    "alt": "Alt",
    "shift": "Shift",
    "super": "Meta",
    "enter": "Enter",
    "kpenter": "Enter",
    "escape": "Escape",
    "tab": "Tab",
    "backspace": "Backspace",
    "delete": "Delete",
    "insert": "Insert",
    "space": " ",
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
    **{f"f{i}": f"F{i}" for i in range(1, 13)},
}
"""What a page's keydown handler reads as ``event.key`` for each canonical key."""


@pytest.fixture(scope="module")
def web_env(http_server: LocalServer) -> Iterator[WebEnv]:
    url = http_server.page("keys.html", KEYS_PAGE)
    environment = WebEnv(URLTask(url=url, instruction="Press keys.", check=lambda page: False), viewport=(320, 200))
    yield environment
    environment.close()


def test_every_named_key_reaches_a_real_page(web_env: WebEnv) -> None:
    web_env.reset(seed=0)
    for key in DOM_KEYS:
        _, _, _, _, info = web_env.step({"action": "key", "keys": [key]})
        assert "action_error" not in info, key
    assert web_env.page.evaluate("window.keys") == list(DOM_KEYS.values())
    web_env.page.evaluate("window.keys = []")
    web_env.step({"action": "key", "keys": ["Control_L+Shift_R+t"]})
    assert web_env.page.evaluate("window.keys") == ["Control", "Shift", "T"]  # as from a real keyboard
    web_env.page.evaluate("window.keys = []")
    web_env.step({"action": "key", "keys": ["shift", "1"]})
    assert web_env.page.evaluate("window.keys") == ["Shift", "!"]
    _, _, _, _, info = web_env.step({"action": "key", "keys": ["F13"]})
    assert info["action_error"] == "the browser has no f13 key"


# -- real keys on an X display ------------------------------------------------------------------------------------


class RecorderTask(DesktopTask):
    """Opens the input recorder, which logs every key press that reaches it."""

    name: str = "recorder"
    _app: AppHandle | None = PrivateAttr(default=None)

    def setup(self, desktop: Desktop, seed: int) -> str:
        self._app = desktop.start_app("recorder", {"position": [40, 30]})
        return "Press keys."

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        return TaskStatus(0.0, False)

    @property
    def app(self) -> AppHandle:
        assert self._app is not None
        return self._app


X_NAMES = {
    "ctrl": "Control_L",
    "alt": "Alt_L",
    "shift": "Shift_L",
    "super": "Super_L",
    "enter": "Return",
    "kpenter": "KP_Enter",
    "escape": "Escape",
    "tab": "Tab",
    "backspace": "BackSpace",
    "delete": "Delete",
    "insert": "Insert",
    "space": "space",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "pageup": "Prior",
    "pagedown": "Next",
    "home": "Home",
    "end": "End",
    "capslock": "Caps_Lock",
    "numlock": "Num_Lock",
    "scrolllock": "Scroll_Lock",
    "pause": "Pause",
    "printscreen": "Print",
    "menu": "Menu",
    **{f"f{i}": f"F{i}" for i in range(1, 25)},
}
"""What a Tk program reads as the keysym of each canonical key (F13-F24 lie on spare keycodes)."""


def test_every_named_key_reaches_a_real_x_program() -> None:
    environment = DesktopEnv(RecorderTask(), screen_size=(900, 640))
    try:
        environment.reset(seed=0)
        app = environment.task.app  # type: ignore[attr-defined]
        for key in X_NAMES:
            _, _, _, _, info = environment.step({"action": "key", "keys": [key]})
            assert "action_error" not in info, key
        # Caps lock and num lock toggle: a second press turns them off again before the combinations.
        for keys in (["capslock"], ["numlock"], ["ctrl", "A"], ["ctrl", "+"], ["alt", "é"]):
            environment.step({"action": "key", "keys": keys})
        pressed = [(e["keysym"], e["state"]) for e in app.state()["events"] if e["type"] == "KeyPress"]
    finally:
        environment.close()
    assert [name for name, _ in pressed[: len(X_NAMES)]] == list(X_NAMES.values())
    shift, control, alt = 1, 4, 8
    combos = pressed[len(X_NAMES) + 2 :]
    # Upper case and "+" lie on a key's shifted level: shift is held for them, as a person would.
    assert ("A", control | shift) in combos and ("plus", control | shift) in combos
    assert any(name == "eacute" and state & alt for name, state in combos)


@pytest.fixture
def server() -> Iterator[XServer]:
    xserver = XServer(size=(320, 240), window_manager=None)
    xserver.start()
    yield xserver
    xserver.stop()


def mapping(display: XDisplay) -> list[tuple[int, ...]]:
    with display.authorized():
        connection = xlib_display.Display(display.name)
    try:
        first = connection.display.info.min_keycode
        rows = connection.get_keyboard_mapping(first, connection.display.info.max_keycode - first + 1)
        return [tuple(row) for row in rows]
    finally:
        connection.close()


def test_keymap_locates_binds_and_refuses_too_many(server: XServer) -> None:
    keyboard = Keyboard(server.display)
    try:
        keymap = keyboard.keymap
        code_a, shifted_a = keymap.locate(XK.XK_a)
        assert keymap.locate(XK.XK_A) == (code_a, True) and not shifted_a
        assert keymap.lacks(XK.XK_eacute) and not keymap.lacks(XK.XK_Return)
        with pytest.raises(EnvError, match="bind it first"):
            keymap.locate(XK.XK_eacute)
        keyboard.type([XK.XK_eacute, XK.XK_a])
        code, shifted = keymap.locate(XK.XK_eacute)
        assert not shifted and mapping(server.display)[code - 8][:2] == (XK.XK_eacute, XK.XK_eacute)
        too_many = [0x01000000 | (0x3B1 + i) for i in range(keymap.capacity() + 1)]
        with pytest.raises(EnvError, match="spare keycodes"):
            keyboard.type(too_many)
    finally:
        keyboard.close()
    assert mapping(server.display)[code - 8][:2] == (XK.XK_eacute, XK.XK_eacute)  # own display: left bound


def test_a_borrowed_display_gets_its_spare_keycodes_back(server: XServer) -> None:
    before = mapping(server.display)
    own = server.display
    keyboard = Keyboard(XDisplay(own.name, own.xauthority, owned=False))
    try:
        keyboard.press([XK.XK_F13])
        keyboard.type([0x01002603, XK.XK_eacute])
        assert mapping(server.display) != before
    finally:
        keyboard.close()
    assert mapping(server.display) == before
