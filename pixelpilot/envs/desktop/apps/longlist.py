"""A long scrolling list: the mouse wheel scrolls it, a double-click opens an item.

State: the item opened last (None until one is) and the first and last rows in view.
Geometry: each row in view, by item.
"""

from __future__ import annotations

import tkinter as tk
from typing import Any

from tkapp import TkApp

ROWS_SHOWN = 10
ROWS_PER_NOTCH = 3


class LongListApp(TkApp):
    title = "Library"
    size = (440, 420)

    def build(self) -> None:
        self.items: list[str] = list(self.params.get("items", []))
        self.opened: str | None = None
        frame = tk.Frame(self.root, padx=20, pady=16)
        frame.pack(fill="both", expand=True)
        tk.Label(frame, text="Double-click an item to open it").pack(anchor="w")
        body = tk.Frame(frame)
        body.pack(fill="both", expand=True, pady=8)
        bar = tk.Scrollbar(body, orient="vertical")
        self.listbox = tk.Listbox(body, height=ROWS_SHOWN, exportselection=False, yscrollcommand=self.scrolled)
        bar.configure(command=self.listbox.yview)
        for item in self.items:
            self.listbox.insert("end", item)
        self.register("list", self.listbox).pack(side="left", fill="both", expand=True)
        bar.pack(side="right", fill="y")
        self.listbox.bind("<Double-Button-1>", self.open)
        # One wheel notch scrolls a few rows; X11 reports the wheel as buttons 4 (up) and 5 (down).
        self.listbox.bind("<Button-4>", lambda _event: self.wheel(-ROWS_PER_NOTCH))
        self.listbox.bind("<Button-5>", lambda _event: self.wheel(ROWS_PER_NOTCH))
        self.status = tk.Label(frame, text="")
        self.status.pack(anchor="w")

    def wheel(self, rows: int) -> str:
        self.listbox.yview_scroll(rows, "units")
        return "break"

    def scrolled(self, first: str, last: str) -> None:
        self.changed(later=True)

    def open(self, event: tk.Event) -> None:
        index = self.listbox.nearest(event.y)
        if 0 <= index < len(self.items):
            self.opened = self.items[index]
            self.status.configure(text=f"Opened {self.opened}")
            self.changed()

    def in_view(self) -> list[int]:
        return [i for i in range(len(self.items)) if self.listbox.bbox(i)]

    def state(self) -> dict[str, Any]:
        rows = self.in_view()
        return {"opened": self.opened, "first": rows[0] if rows else None, "last": rows[-1] if rows else None}

    def extra_geometry(self) -> dict[str, Any]:
        x0, y0 = self.listbox.winfo_rootx(), self.listbox.winfo_rooty()
        height = self.listbox.winfo_height()
        rows = {}
        for index in self.in_view():
            x, y, _, h = self.listbox.bbox(index)
            if y >= 0 and y + h <= height:
                rows[self.items[index]] = [x0 + x, y0 + y, self.listbox.winfo_width() - 2 * x, h]
        return {"rows": rows}


if __name__ == "__main__":
    LongListApp().run()
