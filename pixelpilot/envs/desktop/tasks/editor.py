"""Text files to write in Mousepad, and a sum worked out in galculator and written there."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pixelpilot.envs.core.task import TaskStatus
from pixelpilot.envs.desktop.tasks.base import (
    PHRASES,
    WORDS,
    ProgramTask,
    Rect,
    call,
    point,
    read_file,
    same_text,
    wait_until,
)

if TYPE_CHECKING:
    from pixelpilot.envs.desktop.env import Desktop, DesktopEnv


EDITOR_PLACE = (40, 40, 900, 620)


class _EditorTask(ProgramTask):
    """A file to edit in Mousepad; the check reads the saved file."""

    programs: ClassVar[tuple[str, ...]] = ("mousepad",)

    def _open_editor(self, desktop: Desktop, path: Path, place: Rect = EDITOR_PLACE) -> None:
        process = desktop.launch(["mousepad", str(path)])
        window = desktop.wait_for_window(pid=process.pid)
        desktop.place_window(window, *place)
        self._episode["editor"] = window
        self._episode["path"] = path

    def _saved(self, desktop: Desktop) -> str | None:
        return read_file(self._episode["path"])

    def _text_area(self, desktop: Desktop) -> tuple[float, float]:
        """A point well inside the text area (below the menu and tool bars, above the status bar)."""
        x, y, width, height = self._window(desktop, "editor")
        return x + width / 2, y + height * 0.6

    def _rewrite(self, env: DesktopEnv, text: str, attempts: int = 3) -> Iterator[str]:
        """Replace the whole document with text and save it; look at the result and redo it if it is wrong."""
        desktop = env.desktop
        for _ in range(attempts):
            yield call("left_click", coordinate=point(env, *self._text_area(desktop)))
            yield call("key", keys=["ctrl", "a"])
            yield call("type", text=text)
            yield call("key", keys=["ctrl", "s"])
            yield from wait_until(lambda: self.validate(desktop).done, attempts=5)


class EditorAppendLine(_EditorTask):
    name: str = "editor-append-line"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        lines = [f"{rng.choice(WORDS)} {rng.choice(WORDS)}" for _ in range(rng.randint(2, 4))]
        extra = f"{rng.choice(WORDS)} {rng.randint(100, 999)}"
        path = desktop.home / "notes.txt"
        original = "".join(f"{line}\n" for line in lines)
        path.write_text(original, encoding="utf-8")
        self._episode = {"expected": original + extra}
        self._open_editor(desktop, path)
        return f"In the text editor, add the line “{extra}” at the end of notes.txt, then save the file."

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        if same_text(self._saved(desktop), self._episode["expected"]):
            return TaskStatus(1.0, True, "line added")
        return TaskStatus(0.0, False)

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        desktop = env.desktop
        yield call("left_click", coordinate=point(env, *self._text_area(desktop)))
        yield call("key", keys=["ctrl", "End"])
        yield call("type", text=self._episode["expected"].rsplit("\n", 1)[1])
        yield call("key", keys=["ctrl", "s"])
        yield from wait_until(lambda: self.validate(desktop).done, attempts=5)
        yield from self._rewrite(env, self._episode["expected"])


class EditorReplaceWord(_EditorTask):
    name: str = "editor-replace-word"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        old, new, *others = rng.sample(WORDS, 5)
        lines = []
        for _ in range(3):
            words = [old, *rng.sample(others, 2)]
            rng.shuffle(words)
            lines.append(" ".join(words))
        original = "\n".join(lines) + "\n"
        path = desktop.home / "draft.txt"
        path.write_text(original, encoding="utf-8")
        self._episode = {"old": old, "new": new, "expected": original.replace(old, new)}
        self._open_editor(desktop, path)
        return f"In the text editor, replace every “{old}” with “{new}” in draft.txt, then save the file."

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        if same_text(self._saved(desktop), self._episode["expected"]):
            return TaskStatus(1.0, True, "words replaced")
        return TaskStatus(0.0, False)

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        yield from self._rewrite(env, self._episode["expected"].rstrip("\n"))


class EditorNewFile(_EditorTask):
    name: str = "editor-new-file"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        text = f"{rng.choice(PHRASES)}, {rng.choice(PHRASES)} {rng.randint(1, 99)}"
        folder = desktop.home / "Documents"
        folder.mkdir()
        name = f"{rng.choice(WORDS)}.txt"
        self._episode = {"expected": text}
        self._open_editor(desktop, folder / name)
        return f"The editor has opened a new file, Documents/{name}. Type “{text}” into it and save it."

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        if same_text(self._saved(desktop), self._episode["expected"]):
            return TaskStatus(1.0, True, "file saved")
        return TaskStatus(0.0, False)

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        yield from self._rewrite(env, self._episode["expected"])


class CalculatorToEditor(_EditorTask):
    name: str = "calculator-to-editor"
    programs: ClassVar[tuple[str, ...]] = ("galculator", "mousepad")

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        a, b, c = rng.randint(12, 99), rng.randint(3, 9), rng.randint(10, 99)
        self._episode = {"terms": (a, b, c), "expected": str(a * b + c)}
        calculator = desktop.launch(["galculator"])
        window = desktop.wait_for_window(pid=calculator.pid)
        desktop.place_window(window, 40, 60)
        self._episode["calculator"] = window
        self._open_editor(desktop, desktop.home / "result.txt", place=(520, 60, 700, 500))
        return (
            f"Use the calculator to compute {a} × {b} + {c}, then paste the result into the text editor and save "
            "the file result.txt."
        )

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        if (self._saved(desktop) or "").strip() == self._episode["expected"]:
            return TaskStatus(1.0, True, "result saved")
        return TaskStatus(0.0, False)

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        desktop = env.desktop
        a, b, c = self._episode["terms"]
        x, y, width, _ = self._window(desktop, "calculator")
        for _ in range(3):  # look at the saved result, and do it again if a key press was missed
            yield call("left_click", coordinate=point(env, x + width / 2, y + 50))  # the calculator's display
            # galculator ignores a key pressed again while its button still shows the last press (100 ms): one
            # key a step, and a pause before a repeated key, however quickly steps settle.
            previous = ""
            for key in f"{a}*{b}+{c}=":
                if key == previous:
                    yield call("wait", time=0.15)
                yield call("type", text=key)
                previous = key
            yield call("key", keys=["ctrl", "c"])
            yield call("left_click", coordinate=point(env, *self._text_area(desktop)))
            yield call("key", keys=["ctrl", "a"])
            yield call("key", keys=["ctrl", "v"])
            yield call("key", keys=["ctrl", "s"])
            yield from wait_until(lambda: self.validate(desktop).done, attempts=5)
