"""Folders to tidy in PCManFM; the checks read the folder."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pixelpilot.envs.core.task import TaskStatus
from pixelpilot.envs.desktop.tasks.base import WORDS, ProgramTask, call, wait_until
from pixelpilot.envs.desktop.tasks.editor import EDITOR_PLACE

if TYPE_CHECKING:
    from pixelpilot.envs.desktop.env import Desktop, DesktopEnv


class _FilesTask(ProgramTask):
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

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
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

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
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

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
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
