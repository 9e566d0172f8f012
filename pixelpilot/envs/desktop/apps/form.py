"""A sign-up form: two entries, a plan to choose, a newsletter box and a Submit button.

State: the fields as they are now, and what was submitted (None until Submit is pressed).
"""

from __future__ import annotations

import tkinter as tk
from typing import Any

from tkapp import TkApp, button

PLANS = ("Basic", "Pro", "Team")


class FormApp(TkApp):
    title = "Sign up"
    size = (560, 380)

    def build(self) -> None:
        frame = tk.Frame(self.root, padx=24, pady=18)
        frame.pack(fill="both", expand=True)
        self.name = tk.StringVar(frame)
        self.email = tk.StringVar(frame)
        self.plan = tk.StringVar(frame, value="")
        self.newsletter = tk.BooleanVar(frame, value=False)
        self.submitted: dict[str, Any] | None = None
        for row, (label, var, key) in enumerate((("Full name", self.name, "name"), ("Email", self.email, "email"))):
            tk.Label(frame, text=label).grid(row=row, column=0, sticky="w", pady=8)
            self.register(key, tk.Entry(frame, textvariable=var, width=26)).grid(row=row, column=1, sticky="w")
        tk.Label(frame, text="Plan").grid(row=2, column=0, sticky="w", pady=8)
        plans = tk.Frame(frame)
        plans.grid(row=2, column=1, sticky="w")
        for plan in PLANS:
            radio = tk.Radiobutton(plans, text=plan, value=plan, variable=self.plan)
            self.register(f"plan:{plan}", radio).pack(side="left", padx=(0, 12))
        box = tk.Checkbutton(frame, text="Send me the newsletter", variable=self.newsletter)
        self.register("newsletter", box).grid(row=3, column=1, sticky="w", pady=8)
        self.register("submit", button(frame, "Submit", self.submit)).grid(row=4, column=1, sticky="w", pady=16)
        for var in (self.name, self.email, self.plan, self.newsletter):
            var.trace_add("write", lambda *_: self.changed())

    def fields(self) -> dict[str, Any]:
        return {
            "name": self.name.get(),
            "email": self.email.get(),
            "plan": self.plan.get(),
            "newsletter": bool(self.newsletter.get()),
        }

    def submit(self) -> None:
        self.submitted = self.fields()
        self.changed()

    def state(self) -> dict[str, Any]:
        return {**self.fields(), "submitted": self.submitted}


if __name__ == "__main__":
    FormApp().run()
