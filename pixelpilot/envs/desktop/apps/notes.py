"""A note editor: a text area and a Save button (Ctrl+S saves too).

State: the text in the editor now and the text saved last (None until saved).
"""

from __future__ import annotations

import tkinter as tk
from typing import Any

from tkapp import TkApp, button


class NotesApp(TkApp):
    title = "Notes"
    size = (620, 420)

    def build(self) -> None:
        self.saved: str | None = None
        frame = tk.Frame(self.root, padx=16, pady=12)
        frame.pack(fill="both", expand=True)
        self.register("save", button(frame, "Save", self.save_note)).pack(anchor="w", pady=(0, 8))
        self.text = tk.Text(frame, width=50, height=12, wrap="word", undo=True)
        self.register("text", self.text).pack(fill="both", expand=True)
        self.text.bind("<<Modified>>", self.modified)
        self.root.bind("<Control-s>", lambda _event: self.save_note())

    def content(self) -> str:
        return self.text.get("1.0", "end-1c")

    def modified(self, _event: tk.Event) -> None:
        self.text.edit_modified(False)
        self.changed()

    def save_note(self) -> None:
        self.saved = self.content()
        self.changed()

    def state(self) -> dict[str, Any]:
        return {"text": self.content(), "saved": self.saved}


if __name__ == "__main__":
    NotesApp().run()
