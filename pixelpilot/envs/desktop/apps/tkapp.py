"""What every shipped Tk app shares: its command line, its state file and the geometry it reports.

An app writes its whole state as JSON to the file named by ``--state`` after every change, by an
atomic rename, so a task's success check reads what the program really holds rather than
guessing from pixels. Beside the state it reports where its widgets are on the screen (root
coordinates in pixels), which is what an oracle uses to aim, the way a person looks before
clicking. Apps are run as scripts (``python form.py --state s.json --params '{...}'``) so that
starting one costs a Tk start, not an import of pixelpilot.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from typing import Any

FONT = ("DejaVu Sans", 13)
Rect = list[int]


class TkApp:
    """A Tk root window at a fixed place, with registered widgets and a state callback.

    Subclasses build their widgets in ``build`` and return their state from ``state``; they call
    ``changed()`` whenever that state changes.
    """

    title = "App"
    size = (640, 480)

    def __init__(self, argv: list[str] | None = None) -> None:
        parser = argparse.ArgumentParser(description=self.title)
        parser.add_argument("--state", required=True, type=Path, help="where to write the JSON state")
        parser.add_argument("--params", default="{}", help="the episode's parameters, as JSON")
        args = parser.parse_args(argv)
        self.state_path: Path = args.state
        self.params: dict[str, Any] = json.loads(args.params)
        self.root = tk.Tk(className=self.params.get("class", "PixelpilotApp"))
        self.root.title(self.params.get("title", self.title))
        width, height = self.params.get("size", self.size)
        x, y = self.params.get("position", (80, 60))
        self.root.geometry(f"{width}x{height}+{x}+{y}")
        self.root.option_add("*Font", FONT)
        self.root.option_add("*insertOffTime", 0)  # no blinking cursor: equal states give equal screenshots
        self.widgets: dict[str, tk.Misc] = {}
        self._pending = False
        self._advertised: set[int] = set()
        self.root.bind_all("<Map>", self.advertise_pings, add="+")
        self.build()
        self.root.bind("<Configure>", lambda _event: self.changed(later=True), add="+")
        self.root.bind("<Map>", lambda _event: self.changed(later=True), add="+")

    def build(self) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def extra_geometry(self) -> dict[str, Any]:
        """Geometry beyond whole widgets (list rows, canvas items), in root coordinates."""
        return {}

    def register(self, name: str, widget: tk.Misc) -> tk.Misc:
        self.widgets[name] = widget
        return widget

    def forget(self, *names: str) -> None:
        for name in names:
            self.widgets.pop(name, None)

    def rect(self, widget: tk.Misc) -> Rect:
        return [widget.winfo_rootx(), widget.winfo_rooty(), widget.winfo_width(), widget.winfo_height()]

    def changed(self, later: bool = False) -> None:
        """Write the state now (a user action changed it) or once Tk is idle (a window moved)."""
        if not later:
            self.save()
        elif not self._pending:
            self._pending = True
            self.root.after_idle(self.save)

    def advertise_pings(self, event: tk.Event) -> None:
        """List ``_NET_WM_PING`` for each toplevel (the main window, dialogs) when it is first mapped."""
        window = event.widget
        if not isinstance(window, tk.Misc) or window is not window.winfo_toplevel():
            return  # a widget inside a window, or a Tk internal such as a menu's clone
        if window.winfo_id() not in self._advertised:
            self._advertised.add(window.winfo_id())
            advertise_pings(window)

    def save(self) -> None:
        self._pending = False
        self.root.update_idletasks()
        widgets = {}
        for name, widget in self.widgets.items():
            if widget.winfo_exists() and widget.winfo_viewable():
                widgets[name] = self.rect(widget)
        document = {
            "ready": bool(self.root.winfo_viewable()),
            "state": self.state(),
            "widgets": widgets,
            "geometry": self.extra_geometry(),
            "window": self.rect(self.root),
        }
        write_json(self.state_path, document)

    def run(self) -> None:
        self.root.after_idle(self.save)
        self.root.mainloop()


def advertise_pings(toplevel: tk.Misc) -> None:
    """List ``_NET_WM_PING`` in the window's ``WM_PROTOCOLS``, so that a driver knows it may ping.

    Tk answers EWMH pings itself, in event order (a driver's proof that the input sent before was
    handled), but ``wm protocol`` reserves the name and Tk leaves it out of the list. Tk cannot set
    a property, so a short python-xlib connection does, on the wrapper window the window manager
    sees (the parent of the toplevel's own window) once it is mapped.
    """
    from Xlib import display

    connection = display.Display()
    try:
        wrapper = connection.create_resource_object("window", toplevel.winfo_id()).query_tree().parent
        protocols = list(wrapper.get_wm_protocols() or ())
        wrapper.set_wm_protocols([*protocols, connection.intern_atom("_NET_WM_PING")])
        connection.sync()
    finally:
        connection.close()


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Replace path atomically, so a reader never sees half a file."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False)
    os.replace(temporary, path)


def button(parent: tk.Misc, text: str, command: Callable[[], Any]) -> tk.Button:
    return tk.Button(parent, text=text, command=command, padx=14, pady=4)
