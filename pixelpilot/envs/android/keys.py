"""Android key names: what a model may write in ``mobile_use``'s ``key`` action, and what it means.

Models write keys many ways ("Enter", "KEYCODE_ENTER", "66", "backspace", "volume up"); both
backends first turn the text into one ``KEYCODE_*`` name here, so that a key the device would not
know is refused the same way on a real phone and on the simulated one.
"""

from __future__ import annotations

import re
import string

from pixelpilot.errors import ActionError

KEYCODES: dict[str, int] = {
    "KEYCODE_HOME": 3,
    "KEYCODE_BACK": 4,
    "KEYCODE_CALL": 5,
    "KEYCODE_ENDCALL": 6,
    **{f"KEYCODE_{d}": 7 + d for d in range(10)},
    "KEYCODE_STAR": 17,
    "KEYCODE_POUND": 18,
    "KEYCODE_DPAD_UP": 19,
    "KEYCODE_DPAD_DOWN": 20,
    "KEYCODE_DPAD_LEFT": 21,
    "KEYCODE_DPAD_RIGHT": 22,
    "KEYCODE_DPAD_CENTER": 23,
    "KEYCODE_VOLUME_UP": 24,
    "KEYCODE_VOLUME_DOWN": 25,
    "KEYCODE_POWER": 26,
    "KEYCODE_CAMERA": 27,
    **{f"KEYCODE_{c}": 29 + i for i, c in enumerate(string.ascii_uppercase)},
    "KEYCODE_COMMA": 55,
    "KEYCODE_PERIOD": 56,
    "KEYCODE_TAB": 61,
    "KEYCODE_SPACE": 62,
    "KEYCODE_ENTER": 66,
    "KEYCODE_DEL": 67,
    "KEYCODE_MINUS": 69,
    "KEYCODE_EQUALS": 70,
    "KEYCODE_SLASH": 76,
    "KEYCODE_AT": 77,
    "KEYCODE_PLUS": 81,
    "KEYCODE_MENU": 82,
    "KEYCODE_SEARCH": 84,
    "KEYCODE_PAGE_UP": 92,
    "KEYCODE_PAGE_DOWN": 93,
    "KEYCODE_ESCAPE": 111,
    "KEYCODE_FORWARD_DEL": 112,
    "KEYCODE_MOVE_HOME": 122,
    "KEYCODE_MOVE_END": 123,
    "KEYCODE_VOLUME_MUTE": 164,
    "KEYCODE_APP_SWITCH": 187,
}
"""The Android key codes a ``key`` action may name (a subset of ``android.view.KeyEvent``)."""

_ALIASES = {
    "RETURN": "ENTER",
    "BACKSPACE": "DEL",
    "DELETE": "DEL",
    "FORWARD_DELETE": "FORWARD_DEL",
    "ESC": "ESCAPE",
    "UP": "DPAD_UP",
    "DOWN": "DPAD_DOWN",
    "LEFT": "DPAD_LEFT",
    "RIGHT": "DPAD_RIGHT",
    "ARROW_UP": "DPAD_UP",
    "ARROW_DOWN": "DPAD_DOWN",
    "ARROW_LEFT": "DPAD_LEFT",
    "ARROW_RIGHT": "DPAD_RIGHT",
    "CENTER": "DPAD_CENTER",
    "PAGEUP": "PAGE_UP",
    "PAGEDOWN": "PAGE_DOWN",
    "END": "MOVE_END",
    "MUTE": "VOLUME_MUTE",
    "VOLUMEUP": "VOLUME_UP",
    "VOLUMEDOWN": "VOLUME_DOWN",
    "VOLUMEMUTE": "VOLUME_MUTE",
    "RECENTS": "APP_SWITCH",
    "RECENT_APPS": "APP_SWITCH",
    "SPACEBAR": "SPACE",
    " ": "SPACE",
    ",": "COMMA",
    ".": "PERIOD",
    "-": "MINUS",
    "=": "EQUALS",
    "/": "SLASH",
    "@": "AT",
    "+": "PLUS",
    "*": "STAR",
    "#": "POUND",
}
_CODES_BY_NUMBER = {number: name for name, number in KEYCODES.items()}


def android_key(text: str) -> str:
    """The ``KEYCODE_*`` name a key action means; ActionError for a key no Android phone has."""
    raw = text.strip() or text
    if raw.isdigit() and len(raw) > 1:  # a key code number ("66"); a single digit is that digit's key
        if int(raw) not in _CODES_BY_NUMBER:
            raise ActionError(f"unknown Android key code {raw}")
        return _CODES_BY_NUMBER[int(raw)]
    name = raw if raw in _ALIASES else re.sub(r"[\s\-]+", "_", raw.upper())
    name = name.removeprefix("KEYCODE_")
    name = _ALIASES.get(name, _ALIASES.get(name.replace("_", ""), name))
    if f"KEYCODE_{name}" not in KEYCODES:
        raise ActionError(
            f"unknown Android key {text!r}; use a KEYCODE_* name or one such as Enter, Backspace, Tab, Space, "
            "Escape, Up, Down, Left, Right, Back, Home, Menu, Volume_Up, or a single letter or digit"
        )
    return f"KEYCODE_{name}"
