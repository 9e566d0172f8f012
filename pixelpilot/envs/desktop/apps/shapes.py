"""A canvas of coloured shapes that can be dragged with the mouse, and a bin to drop them in.

State: every shape (colour, kind, centre in canvas pixels, whether it lies in the bin).
Geometry: every shape's and the bin's rectangle on the screen.
"""

from __future__ import annotations

import tkinter as tk
from typing import Any

from tkapp import TkApp

CANVAS = (720, 440)
BIN = (520, 150, 690, 320)
SIZE = 56


class ShapesApp(TkApp):
    title = "Shapes"
    size = (760, 500)

    def build(self) -> None:
        self.canvas = tk.Canvas(self.root, width=CANVAS[0], height=CANVAS[1], background="white", highlightthickness=0)
        self.register("canvas", self.canvas).pack(padx=20, pady=30)
        self.canvas.create_rectangle(*BIN, outline="#555555", width=3, dash=(6, 4))
        self.canvas.create_text((BIN[0] + BIN[2]) / 2, BIN[1] - 14, text="Bin")
        self.shapes: dict[str, dict[str, Any]] = {}
        self.items: dict[int, str] = {}
        for shape in self.params.get("shapes", []):
            self.add(shape["id"], shape["color"], shape["kind"], shape["center"])
        self.dragging: tuple[str, int, int] | None = None
        self.canvas.bind("<ButtonPress-1>", self.press)
        self.canvas.bind("<B1-Motion>", self.motion)
        self.canvas.bind("<ButtonRelease-1>", self.release)

    def add(self, shape_id: str, color: str, kind: str, center: list[int]) -> None:
        x, y, r = center[0], center[1], SIZE // 2
        if kind == "circle":
            item = self.canvas.create_oval(x - r, y - r, x + r, y + r, fill=color, outline="black")
        elif kind == "square":
            item = self.canvas.create_rectangle(x - r, y - r, x + r, y + r, fill=color, outline="black")
        else:
            item = self.canvas.create_polygon(x, y - r, x + r, y + r, x - r, y + r, fill=color, outline="black")
        self.items[item] = shape_id
        self.shapes[shape_id] = {"color": color, "kind": kind}

    def press(self, event: tk.Event) -> None:
        hit = self.canvas.find_overlapping(event.x, event.y, event.x, event.y)
        shapes = [item for item in hit if item in self.items]
        if shapes:
            self.canvas.tag_raise(shapes[-1])
            self.dragging = (self.items[shapes[-1]], event.x, event.y)

    def motion(self, event: tk.Event) -> None:
        if self.dragging is None:
            return
        shape_id, x, y = self.dragging
        self.canvas.move(self.item_of(shape_id), event.x - x, event.y - y)
        self.dragging = (shape_id, event.x, event.y)

    def release(self, event: tk.Event) -> None:
        if self.dragging is not None:
            self.motion(event)
            self.dragging = None
            self.changed()

    def item_of(self, shape_id: str) -> int:
        return next(item for item, sid in self.items.items() if sid == shape_id)

    def center(self, shape_id: str) -> list[int]:
        x1, y1, x2, y2 = self.canvas.bbox(self.item_of(shape_id))
        return [round((x1 + x2) / 2), round((y1 + y2) / 2)]

    def state(self) -> dict[str, Any]:
        shapes = {}
        for shape_id, shape in self.shapes.items():
            x, y = self.center(shape_id)
            in_bin = BIN[0] <= x <= BIN[2] and BIN[1] <= y <= BIN[3]
            shapes[shape_id] = {**shape, "center": [x, y], "in_bin": in_bin}
        return {"shapes": shapes}

    def extra_geometry(self) -> dict[str, Any]:
        x0, y0 = self.canvas.winfo_rootx(), self.canvas.winfo_rooty()
        rects = {}
        for shape_id in self.shapes:
            x1, y1, x2, y2 = self.canvas.bbox(self.item_of(shape_id))
            rects[shape_id] = [x0 + x1, y0 + y1, x2 - x1, y2 - y1]
        return {"shapes": rects, "bin": [x0 + BIN[0], y0 + BIN[1], BIN[2] - BIN[0], BIN[3] - BIN[1]]}


if __name__ == "__main__":
    ShapesApp().run()
