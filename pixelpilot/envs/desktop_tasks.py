"""Desktop tasks: what a task is on a desktop, and the suite over Debian programs and the shipped Tk apps.

A task follows AndroidWorld's TaskEval and BrowserGym's protocol: ``setup`` draws the episode's
parameters from the seed, starts programs and returns the instruction; ``validate`` reads real
state (files on disk, an app's saved JSON), never pixels; ``teardown`` releases what setup took
beyond the programs (which the environment ends). ``oracle`` solves the episode with the same
``computer_use`` tool-call text a model would write, one step at a time; it may look at window
geometry the way a person looks at the screen, but it never writes the state a check reads.

This module stays light (no X, mss or numpy import) because ``import pixelpilot`` registers the ids.
"""

from __future__ import annotations

import random
import shlex
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, PrivateAttr

from pixelpilot.envs.actions import ComputerAction
from pixelpilot.envs.tasks import TaskStatus

if TYPE_CHECKING:
    from pixelpilot.envs.desktop import AppHandle, Desktop, DesktopEnv

SUITE = "desktop"

Rect = tuple[int, int, int, int]


class DesktopTask(BaseModel, ABC):
    """A task on a desktop: subclasses implement ``setup`` and ``validate`` (and ``oracle``).

    ``programs`` names the executables the task starts, for set-up scripts and error messages.
    """

    model_config = ConfigDict(frozen=True)
    programs: ClassVar[tuple[str, ...]] = ()

    name: str

    @abstractmethod
    def setup(self, desktop: Desktop, seed: int) -> str:
        """Start an episode drawn from seed on a fresh desktop; return the instruction."""

    @abstractmethod
    def validate(self, desktop: Desktop) -> TaskStatus:
        """Read the real state after a step: reward, whether the episode is over, and a short message."""

    def teardown(self, desktop: Desktop) -> None:
        """Release what setup acquired besides the programs it started (those end with the episode)."""

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        """Tool-call texts that solve the episode the env was just reset to."""
        raise NotImplementedError(f"task {self.name!r} has no oracle")


# -- the language of oracles ----------------------------------------------------------------------


def call(action: str, **arguments: Any) -> str:
    """One ``computer_use`` call as Qwen3-VL writes it (validated on the way)."""
    return ComputerAction(action=action, **arguments).to_tool_call().to_text()


def center(rect: Rect | list[int]) -> tuple[float, float]:
    x, y, width, height = rect
    return x + width / 2, y + height / 2


def point(env: DesktopEnv, x: float, y: float) -> list[int]:
    return list(env.to_grid(x, y))


def click(env: DesktopEnv, rect: Rect | list[int], action: str = "left_click") -> str:
    return call(action, coordinate=point(env, *center(rect)))


def wait_until(check: Callable[[], bool], seconds: float = 0.3, attempts: int = 10) -> Iterator[str]:
    """Wait steps until check() holds, as a person waits for a program to catch up."""
    for _ in range(attempts):
        if check():
            return
        yield call("wait", time=seconds)


# -- parameters -----------------------------------------------------------------------------------

WORDS = (
    "amber",
    "birch",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "garnet",
    "harbor",
    "indigo",
    "juniper",
    "kestrel",
    "lagoon",
    "maple",
    "nectar",
    "orchid",
    "pepper",
    "quartz",
    "raven",
    "saffron",
    "tundra",
    "umber",
    "violet",
    "willow",
    "yarrow",
    "zephyr",
)
FIRST_NAMES = ("Ada", "Bruno", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Inès", "Jonas", "Kwame", "Lena")
LAST_NAMES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Kowalski", "Brennan", "Ito")
FRUITS = (
    "Apple",
    "Banana",
    "Cherry",
    "Damson",
    "Elderberry",
    "Fig",
    "Grape",
    "Guava",
    "Kiwi",
    "Lemon",
    "Mango",
    "Nectarine",
    "Olive",
    "Papaya",
    "Quince",
    "Raspberry",
)
PHRASES = (
    "Café au lait",
    "naïve résumé",
    "crème brûlée",
    "São Paulo",
    "Zürich Straße",
    "smörgåsbord",
    "jalapeño",
    "Ωmega ☃ snow",
    "piñata fiesta",
    "Dvořák in Brno",
    "façade ✓ done",
    "Łódź by night",
)
CITIES = (
    "Accra",
    "Bergen",
    "Cusco",
    "Dakar",
    "Essen",
    "Fez",
    "Galway",
    "Hanoi",
    "Izmir",
    "Jaipur",
    "Kobe",
    "Lyon",
    "Minsk",
    "Nantes",
    "Osaka",
    "Porto",
    "Quito",
    "Riga",
    "Sucre",
    "Tartu",
    "Utrecht",
    "Varna",
    "Wuhan",
    "Yazd",
)
SHAPE_COLORS = ("red", "green", "blue", "orange", "purple")
SHAPE_KINDS = ("circle", "square", "triangle")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _same_text(actual: str | None, expected: str) -> bool:
    """File contents compared as a person would: a final newline or not is the same text."""
    return actual is not None and actual.rstrip("\n") == expected.rstrip("\n")


class InstructionTask(DesktopTask):
    """Any instruction on a fresh desktop, optionally with a program started first (``argv``).

    It has no check: the model ends the episode with ``terminate`` or ``answer`` (``pixelpilot run
    --desktop --task ... --app mousepad``), as ``URLTask(check=None)`` does on a page.
    """

    name: str = "instruction"
    instruction: str
    argv: tuple[str, ...] = ()

    def setup(self, desktop: Desktop, seed: int) -> str:
        if self.argv:
            process = desktop.launch(self.argv)
            desktop.wait_for_window(pid=process.pid)
        return self.instruction

    def validate(self, desktop: Desktop) -> TaskStatus:
        return TaskStatus(0.0, False)


# -- programs Debian ships --------------------------------------------------------------------------

TERMINAL_ARGV = ("xterm", "-fa", "DejaVu Sans Mono", "-fs", "12", "-geometry", "96x26+40+40", "-title", "Terminal")


class _ProgramTask(DesktopTask):
    """A task over real programs; remembers the episode's parameters and windows."""

    _episode: dict[str, Any] = PrivateAttr(default_factory=dict)

    def _window(self, desktop: Desktop, key: str) -> Rect:
        return desktop.window_geometry(self._episode[key])


class _TerminalTask(_ProgramTask):
    """A shell job to do in xterm; the check reads the home folder."""

    programs: ClassVar[tuple[str, ...]] = ("xterm",)

    def _open_terminal(self, desktop: Desktop) -> None:
        process = desktop.launch(TERMINAL_ARGV)
        self._episode["terminal"] = desktop.wait_for_window(pid=process.pid)

    def command(self, desktop: Desktop) -> str:
        raise NotImplementedError

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        desktop = env.desktop
        yield click(env, self._window(desktop, "terminal"))
        yield call("type", text=self.command(desktop) + "\n")
        yield from wait_until(lambda: self.validate(desktop).done)


class TerminalCreateFile(_TerminalTask):
    name: str = "terminal-create-file"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        filename = f"{rng.choice(WORDS)}-{rng.randint(100, 999)}.txt"
        line = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.randint(10, 99)}"
        self._episode = {"file": filename, "line": line}
        self._open_terminal(desktop)
        return (
            f"Using the terminal, create a file named {filename} in the home folder containing exactly the line: {line}"
        )

    def validate(self, desktop: Desktop) -> TaskStatus:
        if _same_text(_read(desktop.home / self._episode["file"]), self._episode["line"]):
            return TaskStatus(1.0, True, "file created")
        return TaskStatus(0.0, False)

    def command(self, desktop: Desktop) -> str:
        return f"printf '%s\\n' {shlex.quote(self._episode['line'])} > ~/{self._episode['file']}"


class TerminalMakeDirs(_TerminalTask):
    name: str = "terminal-make-dirs"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        parts = ["projects", *rng.sample(WORDS, 2)]
        self._episode = {"path": "/".join(parts)}
        self._open_terminal(desktop)
        path = self._episode["path"]
        return f"Using the terminal, create the folder {path} (and its parent folders) in the home folder."

    def validate(self, desktop: Desktop) -> TaskStatus:
        if (desktop.home / self._episode["path"]).is_dir():
            return TaskStatus(1.0, True, "folders created")
        return TaskStatus(0.0, False)

    def command(self, desktop: Desktop) -> str:
        return f"mkdir -p ~/{self._episode['path']}"


class TerminalRenameFile(_TerminalTask):
    name: str = "terminal-rename-file"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        old, new = (f"{word}.txt" for word in rng.sample(WORDS, 2))
        content = f"{rng.choice(WORDS)} {rng.randint(1000, 9999)}\n"
        (desktop.home / old).write_text(content, encoding="utf-8")
        self._episode = {"old": old, "new": new, "content": content}
        self._open_terminal(desktop)
        return f"Using the terminal, rename the file {old} in the home folder to {new}."

    def validate(self, desktop: Desktop) -> TaskStatus:
        moved = _read(desktop.home / self._episode["new"]) == self._episode["content"]
        if moved and not (desktop.home / self._episode["old"]).exists():
            return TaskStatus(1.0, True, "file renamed")
        return TaskStatus(0.0, False)

    def command(self, desktop: Desktop) -> str:
        return f"mv ~/{self._episode['old']} ~/{self._episode['new']}"


class TerminalSumNumbers(_TerminalTask):
    name: str = "terminal-sum-numbers"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        numbers = [rng.randint(-50, 500) for _ in range(rng.randint(5, 9))]
        source = f"{rng.choice(WORDS)}-numbers.txt"
        (desktop.home / source).write_text("".join(f"{n}\n" for n in numbers), encoding="utf-8")
        self._episode = {"source": source, "sum": sum(numbers)}
        self._open_terminal(desktop)
        return (
            f"The file {source} in the home folder holds one number per line. Using the terminal, write their "
            "sum into a new file sum.txt in the home folder."
        )

    def validate(self, desktop: Desktop) -> TaskStatus:
        if (_read(desktop.home / "sum.txt") or "").strip() == str(self._episode["sum"]):
            return TaskStatus(1.0, True, "sum written")
        return TaskStatus(0.0, False)

    def command(self, desktop: Desktop) -> str:
        return f"awk '{{s += $1}} END {{print s}}' ~/{self._episode['source']} > ~/sum.txt"


EDITOR_PLACE = (40, 40, 900, 620)


class _EditorTask(_ProgramTask):
    """A file to edit in Mousepad; the check reads the saved file."""

    programs: ClassVar[tuple[str, ...]] = ("mousepad",)

    def _open_editor(self, desktop: Desktop, path: Path, place: Rect = EDITOR_PLACE) -> None:
        process = desktop.launch(["mousepad", str(path)])
        window = desktop.wait_for_window(pid=process.pid)
        desktop.place_window(window, *place)
        self._episode["editor"] = window
        self._episode["path"] = path

    def _saved(self, desktop: Desktop) -> str | None:
        return _read(self._episode["path"])

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

    def validate(self, desktop: Desktop) -> TaskStatus:
        if _same_text(self._saved(desktop), self._episode["expected"]):
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

    def validate(self, desktop: Desktop) -> TaskStatus:
        if _same_text(self._saved(desktop), self._episode["expected"]):
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

    def validate(self, desktop: Desktop) -> TaskStatus:
        if _same_text(self._saved(desktop), self._episode["expected"]):
            return TaskStatus(1.0, True, "file saved")
        return TaskStatus(0.0, False)

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        yield from self._rewrite(env, self._episode["expected"])


class _FilesTask(_ProgramTask):
    """A folder to tidy in PCManFM; the check reads the folder."""

    programs: ClassVar[tuple[str, ...]] = ("pcmanfm",)

    def _open_folder(self, desktop: Desktop, rng: random.Random) -> list[str]:
        folder = desktop.home / "Documents"
        folder.mkdir()
        names = [
            f"{word}.{ext}" for word, ext in zip(rng.sample(WORDS, 5), ("txt", "md", "csv", "odt", "png"), strict=True)
        ]
        for name in names:
            (folder / name).write_text(f"{name}\n", encoding="utf-8")
        process = desktop.launch(["pcmanfm", "--no-desktop", str(folder)])
        window = desktop.wait_for_window(pid=process.pid)
        desktop.place_window(window, *EDITOR_PLACE)
        self._episode = {"folder": folder, "files": names, "window": window}
        return names

    def _listing(self) -> set[str]:
        folder: Path = self._episode["folder"]
        return {entry.name for entry in folder.iterdir()} if folder.is_dir() else set()

    def _select(self, name: str) -> Iterator[str]:
        """Select a file by typing its name (the view's type-ahead), then close the search box."""
        yield call("type", text=name)
        yield call("key", keys=["Escape"])

    def _in_dialog(
        self, env: DesktopEnv, keys: list[str], attempts: int = 3, select: str | None = None
    ) -> Iterator[str]:
        """Press keys (after selecting a file) until the file manager opens its dialog, as a person would retry."""
        for _ in range(attempts):
            if select is not None:
                yield from self._select(select)
            yield call("key", keys=keys)
            yield from wait_until(lambda: len(env.desktop.find_windows(window_class="Pcmanfm")) > 1, 0.2, 5)
            if len(env.desktop.find_windows(window_class="Pcmanfm")) > 1:
                return
            yield call("key", keys=["Escape"])


class FilesRename(_FilesTask):
    name: str = "files-rename"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        names = self._open_folder(desktop, rng)
        old = rng.choice(names)
        new = f"{rng.choice([w for w in WORDS if not any(n.startswith(w) for n in names)])}-{rng.randint(1, 99)}.txt"
        self._episode.update(old=old, new=new)
        return f"In the file manager, rename the file {old} to {new}."

    def validate(self, desktop: Desktop) -> TaskStatus:
        listing = self._listing()
        if self._episode["new"] in listing and self._episode["old"] not in listing:
            return TaskStatus(1.0, True, "file renamed")
        return TaskStatus(0.0, False)

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        yield from self._in_dialog(env, ["F2"], select=self._episode["old"])
        yield call("key", keys=["ctrl", "a"])
        yield call("type", text=self._episode["new"] + "\n")
        yield from wait_until(lambda: self.validate(env.desktop).done)


class FilesNewFolder(_FilesTask):
    name: str = "files-new-folder"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        self._open_folder(desktop, rng)
        self._episode["new"] = f"{rng.choice(WORDS).capitalize()} {rng.randint(2020, 2030)}"
        return f"In the file manager, create a new folder named “{self._episode['new']}” in Documents."

    def validate(self, desktop: Desktop) -> TaskStatus:
        if (self._episode["folder"] / self._episode["new"]).is_dir():
            return TaskStatus(1.0, True, "folder created")
        return TaskStatus(0.0, False)

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        yield from self._in_dialog(env, ["ctrl", "shift", "n"])
        yield call("key", keys=["ctrl", "a"])
        yield call("type", text=self._episode["new"] + "\n")
        yield from wait_until(lambda: self.validate(env.desktop).done)


class FilesDelete(_FilesTask):
    name: str = "files-delete"

    def setup(self, desktop: Desktop, seed: int) -> str:
        rng = random.Random(seed)
        names = self._open_folder(desktop, rng)
        self._episode["target"] = rng.choice(names)
        return f"In the file manager, delete the file {self._episode['target']} (moving it to the trash is fine)."

    def validate(self, desktop: Desktop) -> TaskStatus:
        listing, target = self._listing(), self._episode["target"]
        missing = set(self._episode["files"]) - listing
        if missing - {target}:
            return TaskStatus(0.0, True, f"other files were removed: {sorted(missing - {target})}")
        if missing == {target} and listing <= set(self._episode["files"]):
            return TaskStatus(1.0, True, "file deleted")
        return TaskStatus(0.0, False)

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        yield from self._in_dialog(env, ["Delete"], select=self._episode["target"])
        yield call("key", keys=["Return"])
        yield from wait_until(lambda: self.validate(env.desktop).done)


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

    def validate(self, desktop: Desktop) -> TaskStatus:
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


# -- the shipped Tk apps ----------------------------------------------------------------------------

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

    def validate(self, desktop: Desktop) -> TaskStatus:
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

    def validate(self, desktop: Desktop) -> TaskStatus:
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

    def validate(self, desktop: Desktop) -> TaskStatus:
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

    def validate(self, desktop: Desktop) -> TaskStatus:
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

    def validate(self, desktop: Desktop) -> TaskStatus:
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

    def validate(self, desktop: Desktop) -> TaskStatus:
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

    def validate(self, desktop: Desktop) -> TaskStatus:
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

    def validate(self, desktop: Desktop) -> TaskStatus:
        saved = self.state().get("saved")
        if saved is None:
            return TaskStatus(0.0, False)
        right = saved.rstrip("\n") == self._episode["expected"]
        return TaskStatus(float(right), True, "note saved" + ("" if right else " with other text"))

    def oracle(self, env: DesktopEnv) -> Iterator[str]:
        yield click(env, self.handle.widget("text"))
        yield call("type", text=self._episode["expected"])
        yield click(env, self.handle.widget("save"))


# -- the suite ------------------------------------------------------------------------------------

TASKS: dict[str, type[DesktopTask]] = {
    cls.model_fields["name"].default: cls
    for cls in (
        TerminalCreateFile,
        TerminalMakeDirs,
        TerminalRenameFile,
        TerminalSumNumbers,
        EditorAppendLine,
        EditorReplaceWord,
        EditorNewFile,
        FilesRename,
        FilesNewFolder,
        FilesDelete,
        CalculatorToEditor,
        FormFill,
        ChecklistSelect,
        RecordsDelete,
        SettingsApply,
        ShapesDrag,
        LongListOpen,
        GalleryPick,
        NotesType,
    )
}
"""Task name (``terminal-create-file``, ...) -> its class."""


def desktop_tasks() -> list[str]:
    """Every desktop task name, sorted."""
    return sorted(TASKS)


def desktop_task(name: str) -> DesktopTask:
    """A fresh instance of a task (each environment gets its own: tasks keep their episode's parameters)."""
    if name not in TASKS:
        raise ValueError(f"unknown desktop task {name!r}; known: {', '.join(desktop_tasks())}")
    return TASKS[name]()


def env_id(task: str) -> str:
    return f"pixelpilot/desktop-{task}-v0"


def _has_oracle(name: str) -> bool:
    return TASKS[name].oracle is not DesktopTask.oracle


def register_desktop_envs() -> None:
    """Register ``pixelpilot/desktop-<task>-v0`` for every task, in suite "desktop"; idempotent."""
    from pixelpilot.envs.registration import register

    for name in desktop_tasks():
        register(
            env_id(name),
            "pixelpilot.envs.desktop:make_desktop_env",
            SUITE,
            {"task": name},
            has_oracle=lambda name=name: _has_oracle(name),
        )
