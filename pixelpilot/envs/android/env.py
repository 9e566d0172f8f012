"""AndroidEnv: a gymnasium environment on an Android screen, driven by Qwen3-VL ``mobile_use`` calls.

One environment, two devices: the simulated phone (``"sim"``: a phone web app in Chromium, touch
events, no emulator needed) and a real phone or emulator (``"adb"``). The step contract is
WebEnv's: an Action, a ToolCall, a dict or a model's raw text; the 0–1000 grid becomes device
pixels in one place (``to_pixels``); a model's mistake comes back as ``info["action_error"]`` with
the screen untouched; a device that fails mid-step truncates the episode and the next ``reset``
restarts it; every phase is timed into ``info``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from pixelpilot.envs.actions import MobileAction, parse_action, to_pixels
from pixelpilot.envs.android.base import AndroidDevice, AndroidTask
from pixelpilot.envs.android.keys import android_key
from pixelpilot.envs.tasks import TaskStatus
from pixelpilot.envs.web import ACTION_MAX_LENGTH, INSTRUCTION_MAX_LENGTH, PHASES, UnicodeText
from pixelpilot.errors import ActionError, EnvError, PixelpilotError

if TYPE_CHECKING:
    from playwright.sync_api import Page

Step = tuple[dict[str, Any], float, bool, bool, dict[str, Any]]


def make_device(kind: str, **options: Any) -> AndroidDevice:
    """A device by name: ``"sim"`` (SimPhone options) or ``"adb"`` (AdbDevice options)."""
    if kind == "sim":
        from pixelpilot.envs.android.sim import SimPhone

        return SimPhone(**options)
    if kind == "adb":
        from pixelpilot.envs.android.adb import AdbDevice

        return AdbDevice(**options)
    raise ValueError(f"unknown Android device kind {kind!r} (expected 'sim' or 'adb')")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def _timed(timings: dict[str, float], phase: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[phase] += time.perf_counter() - start


class AndroidEnv(gym.Env[dict[str, Any], str]):
    """A task on an Android device; observations are screenshots plus the instruction.

    ``device`` is an AndroidDevice or its kind (``"sim"``, ``"adb"``) built with ``device_options``.
    A long press lasts the action's ``time`` or ``long_press_s``; a swipe takes ``swipe_s``.
    The device starts on the first ``reset`` (the adb device is asked its screen size at once, so a
    missing ``adb`` or phone is an EnvError when the environment is made).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}  # noqa: RUF012 (gymnasium's convention)
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
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.task = task
        self.render_mode = render_mode
        self.long_press_s = long_press_s
        self.swipe_s = swipe_s
        self.max_wait_s = max_wait_s
        self._device = make_device(device, **(device_options or {})) if isinstance(device, str) else device
        width, height = self._device.screen_size
        self._shape = (height, width, 3)
        self.observation_space = spaces.Dict(
            {
                "screenshot": spaces.Box(0, 255, self._shape, np.uint8),
                "instruction": UnicodeText(INSTRUCTION_MAX_LENGTH),
            }
        )
        self.action_space = UnicodeText(ACTION_MAX_LENGTH)
        self._screenshot: np.ndarray | None = None
        self._instruction = ""
        self._over = False

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
        width, height = self._device.layout_size
        gx = min(max(round(x / width * 1000), 0), 1000)
        gy = min(max(round(y / height * 1000), 0), 1000)
        return gx, gy

    def _pixels(self, coordinate: tuple[int, int]) -> tuple[int, int]:
        height, width = self._shape[:2]
        return to_pixels(coordinate, width, height)

    # -- gymnasium API -----------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        episode_seed = int(seed) if seed is not None else int(self.np_random.integers(2**31 - 1))
        timings = {"launch": 0.0, "setup": 0.0, "settle": 0.0, "observe": 0.0}
        self._teardown()
        self._screenshot = None  # until this reset succeeds, step() must not act on the old screen
        for attempt in (1, 2):
            try:
                with _timed(timings, "launch"):
                    self._device.start()
                with _timed(timings, "setup"):
                    instruction = str(self.task.setup(self._device, episode_seed))
                with _timed(timings, "settle"):
                    self._device.settle()
                if instruction not in self.observation_space["instruction"]:
                    raise EnvError(
                        f"task {self.task.name!r} gave an instruction the observation space cannot hold "
                        f"(over {INSTRUCTION_MAX_LENGTH} characters or control characters)"
                    )
                self._instruction = instruction
                with _timed(timings, "observe"):
                    observation = self._observe()
                break
            except (EnvError, *self._device.failures) as error:
                # A device that died (browser killed, phone unplugged) gets one fresh start; a task
                # that cannot start on a healthy device is a broken task.
                if attempt == 2 or self._device.healthy:
                    raise EnvError(f"task {self.task.name!r} could not start: {_first_line(error)}") from None
        self._over = False
        info = {"task": self.task.name, "seed": episode_seed, "success": False, "timings": timings}
        return observation, info

    def step(self, action: Any) -> Step:
        if self._screenshot is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._over:
            return self._rejected("the episode is over; call reset() to start a new one")
        try:
            parsed = self._checked(action)
        except PixelpilotError as error:
            return self._rejected(str(error))

        timings = dict.fromkeys(PHASES, 0.0)
        info: dict[str, Any] = {"task": self.task.name, "action": parsed.model_dump(mode="json", exclude_none=True)}
        answer = parsed.text if parsed.action == "answer" else None
        try:
            with _timed(timings, "action"):
                try:
                    self._perform(parsed)
                except ActionError as error:  # refused by the device only once under way
                    info["action_error"] = str(error)
            with _timed(timings, "settle"):
                self._device.settle()
            with _timed(timings, "observe"):
                observation = self._observe()
            with _timed(timings, "validate"):
                status = self._validate(info, answer)
        except (EnvError, *self._device.failures) as error:
            return self._broken(error, timings, info)

        terminated = status.done or parsed.is_final
        if answer is not None:
            info["answer"] = answer
        if parsed.action == "terminate":
            info["status"] = parsed.status
        self._over = terminated
        info.update(success=bool(status.done and status.reward > 0), message=status.message, timings=timings)
        return observation, float(status.reward), terminated, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._screenshot is None:
            return None
        return self._screenshot.copy()

    def close(self) -> None:
        self._teardown()
        self._device.close()
        self._screenshot = None
        super().close()

    # -- the phases of a step ----------------------------------------------------------------------

    def _checked(self, action: Any) -> MobileAction:
        """The action, validated against the schema, the key table and the device, before anything happens."""
        parsed = parse_action(action, tool=self.gui_tool)
        if not isinstance(parsed, MobileAction):
            raise ActionError(f"this environment takes {self.gui_tool} actions, not {parsed.tool}")
        if parsed.action == "key":
            android_key(parsed.text or "")
        if parsed.action in ("wait", "long_press") and (parsed.time or 0) > self.max_wait_s:
            raise ActionError(f"time {parsed.time}s is over this environment's limit of {self.max_wait_s}s")
        self._device.check(parsed)
        return parsed

    def _perform(self, action: MobileAction) -> None:
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

    def _observe(self) -> dict[str, Any]:
        image = self._device.screenshot()
        if image.shape != self._shape:
            raise EnvError(
                f"the screen is now {image.shape[1]}x{image.shape[0]}, not {self._shape[1]}x{self._shape[0]}"
            )
        self._screenshot = image
        return {"screenshot": image.copy(), "instruction": self._instruction}

    def _validate(self, info: dict[str, Any], answer: str | None) -> TaskStatus:
        try:
            status = self.task.validate(self._device, answer)
            info.update(self.task.episode_info(self._device))
        except Exception as error:
            if isinstance(error, (EnvError, *self._device.failures)) and not self._device.healthy:
                raise
            # The agent may have left the screen where the task's check cannot look: no success, no crash.
            info["validate_error"] = f"{type(error).__name__}: {_first_line(error)}"
            return TaskStatus(0.0, False, "validation failed")
        return TaskStatus(float(status.reward), bool(status.done), str(status.message))

    # -- failures ----------------------------------------------------------------------------------

    def _current_observation(self) -> dict[str, Any]:
        assert self._screenshot is not None
        return {"screenshot": self._screenshot.copy(), "instruction": self._instruction}

    def _rejected(self, message: str) -> Step:
        """An action that was never carried out: the screen is untouched, nothing was timed."""
        info = {
            "task": self.task.name,
            "action_error": message,
            "success": False,
            "timings": dict.fromkeys(PHASES, 0.0),
        }
        return self._current_observation(), 0.0, False, False, info

    def _broken(self, error: BaseException, timings: dict[str, float], info: dict[str, Any]) -> Step:
        """The device failed mid-step: the episode cannot go on, so it is truncated."""
        cause = "the device stopped responding" if self._device.healthy else "the device is gone (killed or crashed)"
        message = str(EnvError(f"{cause}: {_first_line(error)}; reset() to start again"))
        self._over = True
        info.update(action_error=message, success=False, timings=timings)
        return self._current_observation(), 0.0, False, True, info

    def _teardown(self) -> None:
        if self._screenshot is None or not self._device.healthy:
            return
        with suppress(PixelpilotError, *self._device.failures):
            self.task.teardown(self._device)


def make_android_env(task: str, device: AndroidDevice | str = "sim", **kwargs: Any) -> AndroidEnv:
    """gymnasium entry point of ``pixelpilot/android-<task>-v0``; kwargs go to AndroidEnv."""
    from pixelpilot.envs.android.tasks import android_task

    return AndroidEnv(android_task(task), device, **kwargs)
