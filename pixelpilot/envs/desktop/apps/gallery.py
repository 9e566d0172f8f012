"""A wide strip of tiles that scrolls sideways (horizontal wheel, or Shift with the wheel); click picks a tile.

State: the tile picked last (None until one is) and the part of the strip in view.
Geometry: each tile wholly in view, by label.
"""

from __future__ import annotations

import tkinter as tk
from typing import Any

from tkapp import TkApp

VIEW = (680, 200)
TILE = (130, 120)
GAP = 20
STEP_PX = 40


class GalleryApp(TkApp):
    title = "Gallery"
    size = (720, 300)

    def build(self) -> None:
        self.labels: list[str] = list(self.params.get("tiles", []))
        self.picked: str | None = None
        width = GAP + len(self.labels) * (TILE[0] + GAP)
        tk.Label(self.root, text="Click a tile to pick it").pack(anchor="w", padx=20, pady=(16, 4))
        self.canvas = tk.Canvas(
            self.root,
            width=VIEW[0],
            height=VIEW[1],
            background="#f4f4f4",
            highlightthickness=0,
            scrollregion=(0, 0, width, VIEW[1]),
            xscrollincrement=STEP_PX,
        )
        self.register("strip", self.canvas).pack(padx=20)
        bar = tk.Scrollbar(self.root, orient="horizontal", command=self.canvas.xview)
        bar.pack(fill="x", padx=20)
        self.canvas.configure(xscrollcommand=lambda first, last: (bar.set(first, last), self.changed(later=True)))
        self.tiles: dict[str, tuple[int, int, int, int]] = {}
        for i, label in enumerate(self.labels):
            x = GAP + i * (TILE[0] + GAP)
            y = (VIEW[1] - TILE[1]) // 2
            self.canvas.create_rectangle(
                x, y, x + TILE[0], y + TILE[1], fill="#cfe3ff", outline="#3a6ea5", tags=(label,)
            )
            self.canvas.create_text(x + TILE[0] / 2, y + TILE[1] / 2, text=label, tags=(label,))
            self.canvas.tag_bind(label, "<Button-1>", lambda _event, name=label: self.pick(name))
            self.tiles[label] = (x, y, x + TILE[0], y + TILE[1])
        # X11 reports a horizontal wheel as buttons 6 (left) and 7 (right); Tk 8.6 binds those only as <Button>.
        self.canvas.bind("<ButtonPress>", self.wheel, add="+")
        self.canvas.bind("<Shift-Button-4>", lambda _event: self.canvas.xview_scroll(-1, "units"))
        self.canvas.bind("<Shift-Button-5>", lambda _event: self.canvas.xview_scroll(1, "units"))
        self.status = tk.Label(self.root, text="")
        self.status.pack(anchor="w", padx=20)

    def wheel(self, event: tk.Event) -> None:
        if event.num in (6, 7):
            self.canvas.xview_scroll(-1 if event.num == 6 else 1, "units")

    def pick(self, label: str) -> None:
        self.picked = label
        self.status.configure(text=f"Picked {label}")
        self.changed()

    def view(self) -> tuple[int, int]:
        left = int(self.canvas.canvasx(0))
        return left, left + self.canvas.winfo_width()

    def state(self) -> dict[str, Any]:
        left, right = self.view()
        return {"picked": self.picked, "view": [left, right]}

    def extra_geometry(self) -> dict[str, Any]:
        x0, y0 = self.canvas.winfo_rootx(), self.canvas.winfo_rooty()
        left, right = self.view()
        visible = {}
        for label, (x1, y1, x2, y2) in self.tiles.items():
            if x1 >= left and x2 <= right:
                visible[label] = [x0 + x1 - left, y0 + y1, x2 - x1, y2 - y1]
        return {"tiles": visible, "content_width": GAP + len(self.labels) * (TILE[0] + GAP)}


if __name__ == "__main__":
    GalleryApp().run()
