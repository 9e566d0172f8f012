"""What a task is on a desktop, the language its oracles speak, and the parameters episodes draw from.

A task follows AndroidWorld's TaskEval and BrowserGym's protocol: ``setup`` draws the episode's
parameters from the seed, starts programs and returns the instruction; ``validate`` reads real
state (files on disk, an app's saved JSON), never pixels; ``teardown`` releases what setup took
beyond the programs (which the environment ends). ``oracle`` solves the episode with the same
``computer_use`` tool-call text a model would write, one step at a time; it may look at window
geometry the way a person looks at the screen, but it never writes the state a check reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import PrivateAttr

from pixelpilot.envs.core.actions import ComputerAction
from pixelpilot.envs.core.task import Task, TaskStatus

if TYPE_CHECKING:
    from pixelpilot.envs.desktop.env import Desktop, DesktopEnv

Rect = tuple[int, int, int, int]


class DesktopTask(Task["Desktop"]):
    """A task on a desktop: the ``Task`` contract with the desktop (its X display, programs and files) as target.

    ``programs`` names the executables the task starts, for set-up scripts and error messages.
    """

    programs: ClassVar[tuple[str, ...]] = ()


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


def read_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def same_text(actual: str | None, expected: str) -> bool:
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

    def validate(self, desktop: Desktop, answer: str | None = None) -> TaskStatus:
        return TaskStatus(0.0, False)


class ProgramTask(DesktopTask):
    """A task over real programs; remembers the episode's parameters and windows."""

    _episode: dict[str, Any] = PrivateAttr(default_factory=dict)

    def _window(self, desktop: Desktop, key: str) -> Rect:
        return desktop.window_geometry(self._episode[key])
