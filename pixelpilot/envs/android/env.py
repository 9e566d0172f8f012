"""AndroidEnv: a gymnasium environment on an Android screen, driven by Qwen3-VL ``mobile_use`` calls.

One environment, two devices: the simulated phone (``"sim"``: a phone web app in Chromium, touch
events, no emulator needed) and a real phone or emulator (``"adb"``). The step contract is
ScreenEnv's: an Action, a ToolCall, a dict or a model's raw text; the 0–1000 grid becomes device
pixels in one place (``to_pixels``); a model's mistake comes back as ``info["action_error"]`` with
the screen untouched; a device that fails mid-step truncates the episode and the next ``reset``
restarts it; every phase is timed into ``info``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from pixelpilot.envs.android.base import AndroidDevice, AndroidTask
from pixelpilot.envs.android.keys import android_key
from pixelpilot.envs.core.actions import MobileAction, to_grid, to_pixels
from pixelpilot.envs.core.screen import Observation, ScreenEnv, Step, first_line, timed
from pixelpilot.errors import ActionError, EnvError, PixelpilotError

if TYPE_CHECKING:
    from playwright.sync_api import Page


def make_device(kind: str, **options: Any) -> AndroidDevice:
    """A device by name: ``"sim"`` (SimPhone options) or ``"adb"`` (AdbDevice options)."""
    if kind == "sim":
        from pixelpilot.envs.android.sim import SimPhone

        return SimPhone(**options)
    if kind == "adb":
        from pixelpilot.envs.android.adb import AdbDevice

        return AdbDevice(**options)
    raise ValueError(f"unknown Android device kind {kind!r} (expected 'sim' or 'adb')")


class AndroidEnv(ScreenEnv[AndroidTask, MobileAction]):
    """A task on an Android device; observations are screenshots plus the instruction.

    ``device`` is an AndroidDevice or its kind (``"sim"``, ``"adb"``) built with ``device_options``.
    A long press lasts the action's ``time`` or ``long_press_s``; a swipe takes ``swipe_s``.
    The device starts on the first ``reset`` (the adb device is asked its screen size at once, so a
    missing ``adb`` or phone is an EnvError when the environment is made).
    """

    gui_tool = "mobile_use"

    def __init__(
        self,
        task: AndroidTask,
        device: AndroidDevice | str = "sim",
        render_mode: str | None = None,
        *,
        device_options: Mapping[str, Any] | None = None,
        long_press_s: float = 0.8,
        swipe_s: float = 0.3,
        max_wait_s: float = 30.0,
    ) -> None:
        super().__init__(task, render_mode)
        self.long_press_s = long_press_s
        self.swipe_s = swipe_s
        self.max_wait_s = max_wait_s
        self._device = make_device(device, **(device_options or {})) if isinstance(device, str) else device
        width, height = self._device.screen_size
        self._shape = (height, width, 3)
        self._use_screen(height, width)

    # -- what oracles, tools and tests read --------------------------------------------------------

    @property
    def device(self) -> AndroidDevice:
        return self._device

    @property
    def page(self) -> Page:
        """The simulated phone's Playwright page (only the sim device has one)."""
        page = getattr(self._device, "page", None)
        if page is None:
            raise gym.error.ResetNeeded("no page: the device is not the simulated phone, or reset() was not called")
        return page

    def to_grid(self, x: float, y: float) -> tuple[int, int]:
        """The 0–1000 grid point of the observation where a point of the device's layout appears."""
        return to_grid(x, y, *self._device.layout_size)

    def _pixels(self, coordinate: tuple[int, int]) -> tuple[int, int]:
        height, width = self._shape[:2]
        return to_pixels(coordinate, width, height)

    # -- gymnasium API -----------------------------------------------------------------------------

    def close(self) -> None:
        self._teardown()
        self._device.close()
        self._screenshot = None
        super().close()

    # -- an episode --------------------------------------------------------------------------------

    def _open_episode(self, seed: int, timings: dict[str, float]) -> Observation:
        self._teardown()

        def start() -> Observation:
            with timed(timings, "launch"):
                self._device.start()
            with timed(timings, "setup"):
                instruction = str(self.task.setup(self._device, seed))
            with timed(timings, "settle"):
                self._device.settle()
            self._take_instruction(instruction)
            with timed(timings, "observe"):
                return self._observe()

        return self._start_or_restart(start)

    def _teardown(self) -> None:
        if self._screenshot is None or not self._device.healthy:
            return
        with suppress(PixelpilotError, *self._device.failures):
            self.task.teardown(self._device)

    # -- the phases of a step ----------------------------------------------------------------------

    def _prepare(self, action: MobileAction) -> None:
        """Check the action against the key table and the device before anything happens."""
        if action.action == "key":
            android_key(action.text or "")
        if action.action in ("wait", "long_press") and (action.time or 0) > self.max_wait_s:
            raise ActionError(f"time {action.time}s is over this environment's limit of {self.max_wait_s}s")
        self._device.check(action)

    def _perform(self, action: MobileAction, prepared: None) -> None:
        device, name = self._device, action.action
        if name == "click":
            device.tap(*self._pixels(action.coordinate))  # type: ignore[arg-type]
        elif name == "long_press":
            seconds = action.time if action.time is not None else self.long_press_s
            device.long_press(*self._pixels(action.coordinate), seconds)  # type: ignore[arg-type]
        elif name == "swipe":
            start, end = self._pixels(action.coordinate), self._pixels(action.coordinate2)  # type: ignore[arg-type]
            device.swipe(*start, *end, action.time if action.time is not None else self.swipe_s)
        elif name == "type":
            device.type_text(action.text or "")
        elif name == "key":
            device.key(android_key(action.text or ""))
        elif name == "system_button":
            device.system_button(action.button or "")
        elif name == "open":
            device.open_app(action.text or "")
        elif name == "wait":
            device.wait(action.time or 0.0)

    def _settle(self, action: MobileAction) -> None:
        self._device.settle()

    def _observe(self) -> Observation:
        image = self._device.screenshot()
        if image.shape != self._shape:
            raise EnvError(
                f"the screen is now {image.shape[1]}x{image.shape[0]}, not {self._shape[1]}x{self._shape[0]}"
            )
        return self._observation(image)

    def _task_target(self) -> AndroidDevice:
        return self._device

    # -- failures ----------------------------------------------------------------------------------

    def _failures(self) -> tuple[type[BaseException], ...]:
        return (EnvError, *self._device.failures)

    def _healthy(self) -> bool:
        return self._device.healthy

    def _broken(self, error: BaseException, timings: dict[str, float], info: dict[str, Any]) -> Step:
        cause = "the device stopped responding" if self._device.healthy else "the device is gone (killed or crashed)"
        return self._truncated(f"{cause}: {first_line(error)}; reset() to start again", timings, info)


def make_android_env(task: str, device: AndroidDevice | str = "sim", **kwargs: Any) -> AndroidEnv:
    """gymnasium entry point of ``pixelpilot/android-<task>-v0``; kwargs go to AndroidEnv."""
    from pixelpilot.envs.android.tasks import android_task

    return AndroidEnv(android_task(task), device, **kwargs)
