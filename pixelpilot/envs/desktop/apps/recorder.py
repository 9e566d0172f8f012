"""An input recorder: every mouse button, wheel notch, drag and key that reaches it, plus an entry to type in.

Not a task: it shows what an environment's actions really deliver to a program (tests use it).
State: the events in order (at most the last 500) and the entry's text.
"""

from __future__ import annotations

import tkinter as tk
from typing import Any

from tkapp import TkApp

MAX_EVENTS = 500


class RecorderApp(TkApp):
    title = "Input recorder"
    size = (800, 560)

    def build(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.text = tk.StringVar(self.root)
        self.entry = tk.Entry(self.root, textvariable=self.text, width=40)
        self.register("entry", self.entry).pack(padx=20, pady=16, anchor="w")
        self.pad = tk.Canvas(self.root, width=760, height=440, background="#eeeeee", highlightthickness=0)
        self.register("pad", self.pad).pack(padx=20)
        self.text.trace_add("write", lambda *_: self.changed())
        for kind in ("ButtonPress", "ButtonRelease", "Double-Button", "Triple-Button", "B1-Motion"):
            self.pad.bind(f"<{kind}>", lambda event, kind=kind: self.mouse(kind, event), add="+")
        # A tag of its own, first on every widget: Tk runs only the most specific binding of each tag, and
        # the "all" tag's <Alt-Key> and <Tab> bindings would otherwise hide those keys from a catch-all one.
        for widget in (self.root, self.entry, self.pad):
            widget.bindtags(("RecorderKeys", *widget.bindtags()))
        self.root.bind_class("RecorderKeys", "<KeyPress>", self.key)

    def key(self, event: tk.Event) -> None:
        self.record({"type": "KeyPress", "keysym": event.keysym, "char": event.char, "state": event.state})

    def mouse(self, kind: str, event: tk.Event) -> None:
        self.record(
            {
                "type": kind,
                "button": getattr(event, "num", None),
                "x": event.x_root,
                "y": event.y_root,
                "state": event.state,
            }
        )

    def record(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        del self.events[:-MAX_EVENTS]
        self.changed()

    def state(self) -> dict[str, Any]:
        return {"events": self.events, "text": self.text.get()}


if __name__ == "__main__":
    RecorderApp().run()
