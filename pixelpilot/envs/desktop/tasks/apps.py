"""Tasks over the Tk apps pixelpilot ships (``desktop/apps``); the checks read the state each app saves."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import PrivateAttr

from pixelpilot.envs.core.task import TaskStatus
from pixelpilot.envs.desktop.tasks.base import (
    CITIES,
    FIRST_NAMES,
    FRUITS,
    LAST_NAMES,
    PHRASES,
    SHAPE_COLORS,
    SHAPE_KINDS,
    WORDS,
    DesktopTask,
    call,
    center,
    click,
    point,
    wait_until,
)

if TYPE_CHECKING:
    from pixelpilot.envs.desktop.env import AppHandle, Desktop, DesktopEnv


APP_POSITION = (120, 90)


class _AppTask(DesktopTask):
    """A task over one shipped Tk app; the check reads the state the app saves."""

    app: ClassVar[str]
    _episode: dict[str, Any] = PrivateAttr(default_factory=dict)
    _handle: AppHandle | None = PrivateAttr(default=None)

    def _start(self, desktop: Desktop, params: dict[str, Any]) -> None:
        self._handle = desktop.start_app(self.app, {"position": APP_POSITION, **params})

    @property
    def handle(self) -> AppHandle:
        if self._handle is None:
            raise RuntimeError(f"task {self.name!r} has no running app: reset the environment first")
        return self._handle

    def state(self) -> dict[str, Any]:
        return self.handle.state()

    def geometry(self) -> dict[str, Any]:
        return dict(self.handle.document().get("geometry") or {})

    def teardown(self, desktop: Desktop) -> None:
        self._handle = None


class FormFill(_AppTask):
    name: str = "form-fill"
    app: ClassVar[str] = "form"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        expected = {
            "name": f"{first} {last}",
            "email": f"{last.lower()}.{rng.randint(1, 99)}@example.org",
            "plan": rng.choice(("Basic", "Pro", "Team")),
            "newsletter": rng.random() < 0.5,
        }
        self._episode = {"expected": expected}
        self._start(desktop, {})
        wanted = "subscribe to" if expected["newsletter"] else "do not subscribe to"
        return (
            f"Sign up as {expected['name']} with the email {expected['email']}, choose the {expected['plan']} plan, "
            f"{wanted} the newsletter, and submit the form."
        )

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        submitted = self.state().get("submitted")
        if submitted is None:
            return TaskStatus(0.0, False)
        right = submitted == self._episode["expected"]
        return TaskStatus(float(right), True, "form submitted" + ("" if right else " with wrong values"))

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        expected, handle = self._episode["expected"], self.handle
        for field in ("name", "email"):
            yield click(env, handle.widget(field))
            yield call("type", text=expected[field])
        yield click(env, handle.widget(f"plan:{expected['plan']}"))
        if self.state()["newsletter"] != expected["newsletter"]:
            yield click(env, handle.widget("newsletter"))
        yield click(env, handle.widget("submit"))


class ChecklistSelect(_AppTask):
    name: str = "checklist-select"
    app: ClassVar[str] = "checklist"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        items = rng.sample(FRUITS, 8)
        targets = rng.sample(items, rng.randint(2, 3))
        self._episode = {"targets": targets}
        self._start(desktop, {"items": items, "prompt": "Fruit to order:"})
        listed = ", ".join(targets[:-1]) + f" and {targets[-1]}"
        return f"Select {listed} in the list (and nothing else), then press Confirm."

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        confirmed = self.state().get("confirmed")
        if confirmed is None:
            return TaskStatus(0.0, False)
        right = sorted(confirmed) == sorted(self._episode["targets"])
        return TaskStatus(float(right), True, "selection confirmed" + ("" if right else ", but not the one asked"))

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        rows = self.geometry()["rows"]
        for item in self._episode["targets"]:
            yield click(env, rows[item])
        yield click(env, self.handle.widget("confirm"))


class RecordsDelete(_AppTask):
    name: str = "records-delete"
    app: ClassVar[str] = "records"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        records = [
            f"{kind} {number}"
            for kind, number in zip(
                rng.sample(("Invoice", "Order", "Ticket", "Receipt", "Quote", "Refund"), 5),
                rng.sample(range(1000, 9999), 5),
                strict=True,
            )
        ]
        self._episode = {"records": records, "target": rng.choice(records)}
        self._start(desktop, {"records": records})
        return f"Delete the record “{self._episode['target']}” (the app asks you to confirm by typing its name)."

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        deleted = self.state().get("deleted") or []
        if not deleted:
            return TaskStatus(0.0, False)
        right = deleted == [self._episode["target"]]
        return TaskStatus(float(right), True, "record deleted" if right else f"deleted {deleted}")

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        target, handle = self._episode["target"], self.handle
        yield click(env, self.geometry()["rows"][target])
        yield click(env, handle.widget("delete"))
        yield from wait_until(lambda: "dialog:entry" in handle.document().get("widgets", {}), seconds=0.2)
        yield click(env, handle.widget("dialog:entry"))
        yield call("type", text=target)
        yield click(env, handle.widget("dialog:delete"))


class SettingsApply(_AppTask):
    name: str = "settings-apply"
    app: ClassVar[str] = "settings"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        themes = ("Light", "Dark", "Contrast")
        start = {
            "volume": rng.randrange(0, 101, 5),
            "font_size": rng.randint(9, 14),
            "theme": rng.choice(themes),
            "notifications": rng.random() < 0.5,
        }
        expected = {
            "volume": rng.choice([v for v in range(10, 95, 5) if abs(v - start["volume"]) >= 15]),
            "font_size": rng.choice([s for s in range(9, 25) if s != start["font_size"]]),
            "theme": rng.choice(themes),
            "notifications": rng.random() < 0.5,
        }
        self._episode = {"expected": expected}
        self._start(desktop, start)
        switch = "on" if expected["notifications"] else "off"
        return (
            f"Set the volume to {expected['volume']}, the font size to {expected['font_size']}, the theme to "
            f"{expected['theme']} and turn notifications {switch}, then press Apply."
        )

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        applied = self.state().get("applied")
        if applied is None:
            return TaskStatus(0.0, False)
        right = applied == self._episode["expected"]
        return TaskStatus(float(right), True, "settings applied" + ("" if right else " with wrong values"))

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        expected, handle = self._episode["expected"], self.handle
        scale = self.geometry()["volume"]
        (x_low, y), (x_high, _) = scale["low"], scale["high"]
        target_x = x_low + (x_high - x_low) * expected["volume"] / 100
        yield call("mouse_move", coordinate=point(env, *scale["slider"]))
        yield call("left_click_drag", coordinate=point(env, target_x, y))
        for _ in range(20):  # a click in the trough beside the slider moves it by one
            off = self.state()["volume"] - expected["volume"]
            if off == 0:
                break
            slider_x = self.geometry()["volume"]["slider"][0]
            yield call("left_click", coordinate=point(env, slider_x + (-30 if off > 0 else 30), y))
        x, y0, width, height = handle.widget("font_size")
        yield call("triple_click", coordinate=point(env, x + width * 0.3, y0 + height / 2))
        yield call("type", text=str(expected["font_size"]))
        yield click(env, handle.widget(f"theme:{expected['theme']}"))
        if self.state()["notifications"] != expected["notifications"]:
            yield click(env, handle.widget("notifications"))
        yield click(env, handle.widget("apply"))


class ShapesDrag(_AppTask):
    name: str = "shapes-drag"
    app: ClassVar[str] = "shapes"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        kinds = rng.sample([(color, kind) for color in SHAPE_COLORS for kind in SHAPE_KINDS], 4)
        cells = rng.sample([(x, y) for x in (70, 190, 310, 430) for y in (80, 220, 360)], 4)
        shapes = [
            {
                "id": f"s{i}",
                "color": color,
                "kind": kind,
                "center": [x + rng.randint(-15, 15), y + rng.randint(-15, 15)],
            }
            for i, ((color, kind), (x, y)) in enumerate(zip(kinds, cells, strict=True))
        ]
        target = rng.choice(shapes)
        self._episode = {"target": target["id"]}
        self._start(desktop, {"shapes": shapes})
        return f"Drag the {target['color']} {target['kind']} into the bin."

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        shapes = self.state().get("shapes") or {}
        in_bin = sorted(shape_id for shape_id, shape in shapes.items() if shape["in_bin"])
        if not in_bin:
            return TaskStatus(0.0, False)
        right = in_bin == [self._episode["target"]]
        return TaskStatus(float(right), True, "shape in the bin" if right else "the wrong shape is in the bin")

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        geometry = self.geometry()
        yield call("mouse_move", coordinate=point(env, *center(geometry["shapes"][self._episode["target"]])))
        yield call("left_click_drag", coordinate=point(env, *center(geometry["bin"])))


class LongListOpen(_AppTask):
    name: str = "longlist-open"
    app: ClassVar[str] = "longlist"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        items = sorted(
            {f"{rng.choice(WORDS).capitalize()} {rng.choice(FRUITS)} {rng.randint(1, 9)}" for _ in range(80)}
        )
        items = items[:60]
        target = rng.choice(items[20:])
        self._episode = {"target": target, "index": items.index(target)}
        self._start(desktop, {"items": items})
        return f"Open “{target}” in the library list by double-clicking it."

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        opened = self.state().get("opened")
        if opened is None:
            return TaskStatus(0.0, False)
        right = opened == self._episode["target"]
        return TaskStatus(float(right), True, f"opened {opened}")

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        target, index, handle = self._episode["target"], self._episode["index"], self.handle
        for _ in range(10):
            rows = self.geometry()["rows"]
            if target in rows:
                yield click(env, rows[target], "double_click")
                return
            state = self.state()
            below = index > state["last"]
            notches = abs(index - (state["last"] if below else state["first"])) // 3 + 1  # 3 rows a notch
            list_center = point(env, *center(handle.widget("list")))
            yield call("scroll", coordinate=list_center, pixels=(-100 if below else 100) * notches)


class GalleryPick(_AppTask):
    name: str = "gallery-pick"
    app: ClassVar[str] = "gallery"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        tiles = rng.sample(CITIES, 16)
        target = rng.choice(tiles[6:])
        self._episode = {"target": target, "index": tiles.index(target)}
        self._start(desktop, {"tiles": tiles})
        return f"Scroll the gallery sideways and click the tile “{target}”."

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        picked = self.state().get("picked")
        if picked is None:
            return TaskStatus(0.0, False)
        right = picked == self._episode["target"]
        return TaskStatus(float(right), True, f"picked {picked}")

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        handle = self.handle
        strip = handle.widget("strip")
        for _ in range(10):
            tiles = self.geometry()["tiles"]
            if self._episode["target"] in tiles:
                yield click(env, tiles[self._episode["target"]])
                return
            right = self.state()["view"][1]
            tile_right = 20 + self._episode["index"] * 150 + 130
            notches = max(1, -(-(tile_right + 20 - right) // 40))  # the strip moves 40 px a notch
            yield call("hscroll", coordinate=point(env, *center(strip)), pixels=100 * notches)


class NotesType(_AppTask):
    name: str = "notes-type"
    app: ClassVar[str] = "notes"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        text = "\n".join(rng.sample(PHRASES, 2))
        self._episode = {"expected": text}
        self._start(desktop, {})
        shown = text.replace("\n", "” and, on a second line, “")
        return f"Write the note “{shown}” in the Notes app, then save it."

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        saved = self.state().get("saved")
        if saved is None:
            return TaskStatus(0.0, False)
        right = saved.rstrip("\n") == self._episode["expected"]
        return TaskStatus(float(right), True, "note saved" + ("" if right else " with other text"))

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        yield click(env, self.handle.widget("text"))
        yield call("type", text=self._episode["expected"])
        yield click(env, self.handle.widget("save"))
