"""Shell jobs in xterm; the checks read the home folder."""

from __future__ import annotations

import random
import shlex
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from pixelpilot.envs.core.task import TaskStatus
from pixelpilot.envs.desktop.tasks.base import WORDS, ProgramTask, call, click, read_file, same_text, wait_until

if TYPE_CHECKING:
    from pixelpilot.envs.desktop.env import Desktop, DesktopEnv


TERMINAL_ARGV = ("xterm", "-fa", "DejaVu Sans Mono", "-fs", "12", "-geometry", "96x26+40+40", "-title", "Terminal")


class _TerminalTask(ProgramTask):
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

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        if same_text(read_file(desktop.home / self._episode["file"]), self._episode["line"]):
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

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
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

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        moved = read_file(desktop.home / self._episode["new"]) == self._episode["content"]
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

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        if (read_file(desktop.home / "sum.txt") or "").strip() == str(self._episode["sum"]):
            return TaskStatus(1.0, True, "sum written")
        return TaskStatus(0.0, False)

    def command(self, desktop: Desktop) -> str:
        return f"awk '{{s += $1}} END {{print s}}' ~/{self._episode['source']} > ~/sum.txt"
