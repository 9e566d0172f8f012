"""The two contracts of the Android environment: a device (what acts and shows) and a task (what is asked).

``AndroidEnv`` speaks only to these, so the same environment, tool calls and agent run on a real
phone or emulator through adb and on the simulated phone in Chromium. A device works in the
pixels of its own screenshots; the environment alone maps Qwen3-VL's 0–1000 grid onto them.
A task follows AndroidWorld's ``TaskEval``: parameters drawn from a seed in ``setup``, a success
check in code (which may read the answer the agent gave), and an oracle that solves it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from pixelpilot.envs.core.task import Task, TaskStatus

if TYPE_CHECKING:
    from pixelpilot.envs.core.actions import MobileAction

SYSTEM_BUTTONS = ("Back", "Home", "Menu", "Enter")


class AndroidDevice(ABC):
    """A touchscreen phone the environment drives; coordinates are pixels of ``screenshot()``.

    Methods raise ``ActionError`` for an action this device cannot carry out (checked by ``check``
    before anything happens) and ``EnvError`` when the device itself fails (gone, crashed); the
    exception types in ``failures`` are also device failures (e.g. the browser's own errors).
    """

    failures: tuple[type[BaseException], ...] = ()

    @property
    @abstractmethod
    def screen_size(self) -> tuple[int, int]:
        """(width, height) of the screenshots in pixels; fixed for the device's life."""

    @property
    @abstractmethod
    def layout_size(self) -> tuple[float, float]:
        """(width, height) of the screen in the units its layout is read in (CSS px on the sim)."""

    @property
    @abstractmethod
    def healthy(self) -> bool:
        """Whether the device answers; an unhealthy one is restarted by the next ``start``."""

    @abstractmethod
    def start(self) -> None:
        """Connect or launch (once); idempotent while healthy."""

    def check(self, action: MobileAction) -> None:  # noqa: B027 (an optional hook)
        """Raise ActionError if this device cannot carry out action (unknown key or app)."""

    @abstractmethod
    def tap(self, x: int, y: int) -> None: ...

    @abstractmethod
    def long_press(self, x: int, y: int, seconds: float) -> None: ...

    @abstractmethod
    def swipe(self, x1: int, y1: int, x2: int, y2: int, seconds: float) -> None: ...

    @abstractmethod
    def type_text(self, text: str) -> None: ...

    @abstractmethod
    def key(self, keycode: str) -> None:
        """Press one key, named by its ``KEYCODE_*`` (see ``keys.android_key``)."""

    @abstractmethod
    def system_button(self, button: str) -> None:
        """Press Back, Home, Menu or Enter."""

    @abstractmethod
    def open_app(self, name: str) -> None:
        """Start an app by its name, as a launcher intent would."""

    @abstractmethod
    def wait(self, seconds: float) -> None: ...

    def settle(self) -> None:  # noqa: B027 (an optional hook)
        """Return once the screen shows the effect of the last action."""

    @abstractmethod
    def screenshot(self) -> np.ndarray:
        """The screen as uint8 (height, width, 3) RGB, of ``screen_size``."""

    @abstractmethod
    def close(self) -> None:
        """Release what ``start`` acquired; safe to call twice."""


class AndroidTask(Task[AndroidDevice]):
    """A task on an Android device (a sim or a real phone): the ``Task`` contract with the device as target."""


class InstructionTask(AndroidTask):
    """A free instruction on any device (e.g. a real phone): succeed when ``check(device)`` is truthy.

    Without ``check`` the episode runs until the agent terminates or answers, which is how an agent
    is used for real work rather than scored.
    """

    name: str = "instruction"
    instruction: str
    check: Callable[[Any], Any] | None = None
    """Called with the AndroidDevice after each step."""

    def setup(self, device: AndroidDevice, seed: int) -> str:
        return self.instruction

    def validate(self, device: AndroidDevice, answer: str | None = None) -> TaskStatus:
        if self.check is not None and self.check(device):
            return TaskStatus(1.0, True, "check passed")
        return TaskStatus(0.0, False)
