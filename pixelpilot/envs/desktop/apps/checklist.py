"""A list where a click toggles an item's selection, with a Confirm button.

State: the items, the selected ones, and the selection confirmed (None until Confirm is pressed).
Geometry: each visible row's rectangle, by item.
"""

from __future__ import annotations

import tkinter as tk
from typing import Any

from tkapp import TkApp, button


class ChecklistApp(TkApp):
    title = "Pick items"
    size = (420, 460)

    def build(self) -> None:
        self.items: list[str] = list(self.params.get("items", []))
        self.confirmed: list[str] | None = None
        frame = tk.Frame(self.root, padx=20, pady=16)
        frame.pack(fill="both", expand=True)
        tk.Label(frame, text=self.params.get("prompt", "Select items:")).pack(anchor="w")
        self.listbox = tk.Listbox(frame, selectmode="multiple", height=len(self.items), exportselection=False)
        for item in self.items:
            self.listbox.insert("end", item)
        self.register("list", self.listbox).pack(fill="x", pady=10)
        self.listbox.bind("<<ListboxSelect>>", lambda _event: self.changed())
        self.register("confirm", button(frame, "Confirm", self.confirm)).pack(anchor="e")

    def selected(self) -> list[str]:
        return [self.items[i] for i in self.listbox.curselection()]

    def confirm(self) -> None:
        self.confirmed = self.selected()
        self.changed()

    def state(self) -> dict[str, Any]:
        return {"items": self.items, "selected": self.selected(), "confirmed": self.confirmed}

    def extra_geometry(self) -> dict[str, Any]:
        x0, y0 = self.listbox.winfo_rootx(), self.listbox.winfo_rooty()
        rows = {}
        for index, item in enumerate(self.items):
            box = self.listbox.bbox(index)
            if box:
                rows[item] = [x0 + box[0], y0 + box[1], self.listbox.winfo_width() - 2 * box[0], box[3]]
        return {"rows": rows}


if __name__ == "__main__":
    ChecklistApp().run()
