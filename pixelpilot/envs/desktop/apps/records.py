"""A record list whose Delete button asks, in a modal dialog, for the record's name to be typed.

State: the records left, those deleted, whether the dialog is open and its last message.
Geometry: each record's row; the dialog's widgets (``dialog:entry``, ``dialog:delete``, ...) while open.
"""

from __future__ import annotations

import tkinter as tk
from typing import Any

from tkapp import TkApp, button

DIALOG_WIDGETS = ("dialog:entry", "dialog:delete", "dialog:cancel")


class RecordsApp(TkApp):
    title = "Records"
    size = (460, 440)

    def build(self) -> None:
        self.records: list[str] = list(self.params.get("records", []))
        self.deleted: list[str] = []
        self.dialog: tk.Toplevel | None = None
        self.message = ""
        frame = tk.Frame(self.root, padx=20, pady=16)
        frame.pack(fill="both", expand=True)
        tk.Label(frame, text="Records").pack(anchor="w")
        self.listbox = tk.Listbox(frame, selectmode="browse", height=max(len(self.records), 1), exportselection=False)
        for record in self.records:
            self.listbox.insert("end", record)
        self.register("list", self.listbox).pack(fill="x", pady=10)
        self.listbox.bind("<<ListboxSelect>>", lambda _event: self.changed())
        bar = tk.Frame(frame)
        bar.pack(anchor="e")
        self.register("delete", button(bar, "Delete…", self.ask)).pack(side="left")

    def selected(self) -> str | None:
        chosen = self.listbox.curselection()
        return self.records[chosen[0]] if chosen else None

    def ask(self) -> None:
        record = self.selected()
        if record is None or self.dialog is not None:
            return
        dialog = tk.Toplevel(self.root, padx=18, pady=14)
        dialog.title("Confirm deletion")
        dialog.transient(self.root)
        dialog.geometry(f"+{self.root.winfo_rootx() + 40}+{self.root.winfo_rooty() + 120}")
        tk.Label(dialog, text=f"Type “{record}” to delete it for good:").pack(anchor="w")
        self.typed = tk.StringVar(dialog)
        entry = tk.Entry(dialog, textvariable=self.typed, width=28)
        self.register("dialog:entry", entry).pack(fill="x", pady=8)
        self.note = tk.Label(dialog, text="", fg="#b00020")
        self.note.pack(anchor="w")
        bar = tk.Frame(dialog)
        bar.pack(anchor="e", pady=(8, 0))
        self.register("dialog:cancel", button(bar, "Cancel", self.close_dialog)).pack(side="left", padx=6)
        self.register("dialog:delete", button(bar, "Delete", lambda: self.delete(record))).pack(side="left")
        dialog.protocol("WM_DELETE_WINDOW", self.close_dialog)
        dialog.bind("<Configure>", lambda _event: self.changed(later=True), add="+")
        self.typed.trace_add("write", lambda *_: self.changed())
        self.dialog = dialog
        dialog.wait_visibility()
        dialog.grab_set()
        entry.focus_set()
        self.changed()

    def delete(self, record: str) -> None:
        if self.typed.get().strip() != record:
            self.message = "The name does not match."
            self.note.configure(text=self.message)
            self.changed()
            return
        index = self.records.index(record)
        self.records.pop(index)
        self.listbox.delete(index)
        self.deleted.append(record)
        self.message = f"Deleted {record}."
        self.close_dialog()

    def close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.grab_release()
            self.dialog.destroy()
            self.dialog = None
            self.forget(*DIALOG_WIDGETS)
        self.changed()

    def state(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "deleted": self.deleted,
            "selected": self.selected(),
            "dialog_open": self.dialog is not None,
            "typed": self.typed.get() if self.dialog is not None else "",
            "message": self.message,
        }

    def extra_geometry(self) -> dict[str, Any]:
        x0, y0 = self.listbox.winfo_rootx(), self.listbox.winfo_rooty()
        rows = {}
        for index, record in enumerate(self.records):
            box = self.listbox.bbox(index)
            if box:
                rows[record] = [x0 + box[0], y0 + box[1], self.listbox.winfo_width() - 2 * box[0], box[3]]
        return {"rows": rows}


if __name__ == "__main__":
    RecordsApp().run()
