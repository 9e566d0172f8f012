"""A settings window: a volume slider, a font-size spinbox, a theme choice, a check box and Apply.

State: the values shown now and the values applied (None until Apply is pressed).
Geometry: where the slider sits now and where its two ends are (``volume``).
"""

from __future__ import annotations

import tkinter as tk
from typing import Any

from tkapp import TkApp, button

THEMES = ("Light", "Dark", "Contrast")
VOLUME_RANGE = (0, 100)
FONT_SIZES = (8, 32)


class SettingsApp(TkApp):
    title = "Settings"
    size = (620, 400)

    def build(self) -> None:
        frame = tk.Frame(self.root, padx=24, pady=18)
        frame.pack(fill="both", expand=True)
        self.volume = tk.IntVar(frame, value=int(self.params.get("volume", 50)))
        self.font_size = tk.StringVar(frame, value=str(self.params.get("font_size", 12)))
        self.theme = tk.StringVar(frame, value=self.params.get("theme", THEMES[0]))
        self.notifications = tk.BooleanVar(frame, value=bool(self.params.get("notifications", True)))
        self.applied: dict[str, Any] | None = None

        tk.Label(frame, text="Volume").grid(row=0, column=0, sticky="w")
        self.scale = tk.Scale(
            frame,
            from_=VOLUME_RANGE[0],
            to=VOLUME_RANGE[1],
            orient="horizontal",
            length=360,
            variable=self.volume,
            showvalue=True,
            sliderlength=24,
        )
        self.register("volume", self.scale).grid(row=0, column=1, sticky="w", pady=6)
        tk.Label(frame, text="Font size").grid(row=1, column=0, sticky="w")
        spin = tk.Spinbox(frame, from_=FONT_SIZES[0], to=FONT_SIZES[1], textvariable=self.font_size, width=6)
        self.register("font_size", spin).grid(row=1, column=1, sticky="w", pady=10)
        tk.Label(frame, text="Theme").grid(row=2, column=0, sticky="w")
        themes = tk.Frame(frame)
        themes.grid(row=2, column=1, sticky="w", pady=6)
        for theme in THEMES:
            radio = tk.Radiobutton(themes, text=theme, value=theme, variable=self.theme)
            self.register(f"theme:{theme}", radio).pack(side="left", padx=(0, 12))
        box = tk.Checkbutton(frame, text="Show notifications", variable=self.notifications)
        self.register("notifications", box).grid(row=3, column=1, sticky="w", pady=6)
        self.register("apply", button(frame, "Apply", self.apply)).grid(row=4, column=1, sticky="e", pady=16)
        for var in (self.volume, self.font_size, self.theme, self.notifications):
            var.trace_add("write", lambda *_: self.changed())

    def values(self) -> dict[str, Any]:
        size = self.font_size.get().strip()
        return {
            "volume": int(self.volume.get()),
            "font_size": int(size) if size.lstrip("-").isdigit() else size,
            "theme": self.theme.get(),
            "notifications": bool(self.notifications.get()),
        }

    def apply(self) -> None:
        self.applied = self.values()
        self.changed()

    def state(self) -> dict[str, Any]:
        return {**self.values(), "applied": self.applied}

    def extra_geometry(self) -> dict[str, Any]:
        x0, y0 = self.scale.winfo_rootx(), self.scale.winfo_rooty()

        def at(value: float) -> list[int]:
            x, y = self.scale.coords(value)
            return [x0 + int(x), y0 + int(y)]

        return {"volume": {"slider": at(self.volume.get()), "low": at(VOLUME_RANGE[0]), "high": at(VOLUME_RANGE[1])}}


if __name__ == "__main__":
    SettingsApp().run()
