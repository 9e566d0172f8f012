"""Key names of ``computer_use`` actions, parsed once for every backend.

Models write keys in many dialects: xdotool keysyms (``Return``, ``Page_Down``, ``ctrl+shift+t``),
pyautogui (``pgdn``, ``ctrlleft``), DOM names (``ArrowUp``, ``Control``). ``parse_combo`` turns any of
them into one canonical vocabulary (the lower-case names of ``NAMED_KEYS``, or a single printable
character), so that every backend maps a small table of canonical names to its own (Playwright key
names, X keysyms) and a model sees the same ``ActionError`` for the same mistake everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pixelpilot.errors import ActionError

MODIFIERS = ("ctrl", "alt", "shift", "super")

FUNCTION_KEYS = tuple(f"f{i}" for i in range(1, 25))

NAMED_KEYS = (
    *MODIFIERS,
    "enter",
    "kpenter",
    "escape",
    "tab",
    "backspace",
    "delete",
    "insert",
    "space",
    "up",
    "down",
    "left",
    "right",
    "pageup",
    "pagedown",
    "home",
    "end",
    "capslock",
    "numlock",
    "scrolllock",
    "pause",
    "printscreen",
    "menu",
    *FUNCTION_KEYS,
)
"""Every canonical multi-character key name; any other canonical key is one printable character."""

_ALIASES = {
    **{name: name for name in NAMED_KEYS},
    "control": "ctrl",
    "ctl": "ctrl",
    "option": "alt",
    "opt": "alt",
    "cmd": "super",
    "command": "super",
    "meta": "super",
    "win": "super",
    "windows": "super",
    "return": "enter",
    "numpadenter": "kpenter",
    "esc": "escape",
    "back": "backspace",
    "del": "delete",
    "ins": "insert",
    "spacebar": "space",
    "arrowup": "up",
    "arrowdown": "down",
    "arrowleft": "left",
    "arrowright": "right",
    "pgup": "pageup",
    "prior": "pageup",
    "pgdn": "pagedown",
    "pgdown": "pagedown",
    "next": "pagedown",
    "caps": "capslock",
    "print": "printscreen",
    "prtsc": "printscreen",
    "prtscr": "printscreen",
    "contextmenu": "menu",
    "apps": "menu",
    "plus": "+",
    "minus": "-",
    "equal": "=",
    "equals": "=",
    "comma": ",",
    "period": ".",
    "slash": "/",
    "backslash": "\\",
    "semicolon": ";",
    "apostrophe": "'",
    "quote": "'",
    "grave": "`",
    "backquote": "`",
    "bracketleft": "[",
    "bracketright": "]",
}
"""Normalised spellings (lower case, no ``_``, ``-`` or space) -> canonical key."""

_SIDES = ("left", "right", "l", "r")
"""How names of one side's modifier end or start (``Control_L``, ``ShiftRight``, ``ctrlleft``)."""

_CONTROL_KEYS = {"\n": "enter", "\r": "enter", "\t": "tab", " ": "space"}

_SEPARATOR = re.compile(r"\+(?!$)")
"""A ``+`` joins keys unless it ends the text, where it is the key itself (``ctrl++``, ``+``)."""

UNKNOWN_KEY_HINT = (
    "use names such as ctrl, alt, shift, super, enter, tab, esc, backspace, delete, up, pagedown, f5 "
    "or a single character"
)


def key_name(name: str) -> str:
    """The canonical name of one key as a model wrote it, or an ActionError naming it."""
    if len(name) == 1:
        return _character(name)
    normal = name.strip().lower().replace("_", "").replace("-", "").replace(" ", "")
    if normal in _ALIASES:
        return _ALIASES[normal]
    for side in _SIDES:
        for base in (normal.removesuffix(side), normal.removeprefix(side)):
            if base != normal and _ALIASES.get(base) in MODIFIERS:
                return _ALIASES[base]
    raise ActionError(f"unknown key {name!r}; {UNKNOWN_KEY_HINT}")


def parse_combo(keys: Sequence[str]) -> tuple[str, ...]:
    """A ``computer_use`` key combo (["ctrl", "a"], ["ctrl+shift+t"], ["Return"], ["+"]) as canonical keys.

    Keys come in the order to press them (release is the reverse); a key named twice is pressed once.
    """
    names = [part for key in keys for part in _split(key)]
    if not names:
        raise ActionError("keys must name at least one key")
    return tuple(dict.fromkeys(key_name(name) for name in names))


def typing_keys(text: str) -> tuple[str, ...]:
    """The canonical key of each character of a ``type`` action: newlines press enter, tabs tab."""
    keys = []
    for char in text:
        if char in _CONTROL_KEYS:
            keys.append(_CONTROL_KEYS[char])
        elif char.isprintable():
            keys.append(char)
        else:
            raise ActionError(f"cannot type the control character {char!r}")
    return tuple(keys)


def _split(key: str) -> list[str]:
    if len(key) == 1:  # a lone character, whitespace included, is a key
        return [key]
    return [part.strip() for part in _SEPARATOR.split(key) if part.strip()]


def _character(char: str) -> str:
    if char in _CONTROL_KEYS:
        return _CONTROL_KEYS[char]
    if not char.isprintable():
        raise ActionError(f"cannot press the control character {char!r}")
    return char
