"""ScreenEnv: the step and reset contract that the web, desktop and Android environments share.

Each environment only says how its backend (a browser, an X server, a device) starts an episode,
carries out an action, settles and checks the task. The rest is here, so that every screen behaves
the same to an agent: ``step`` takes an Action, a ToolCall, a dict or a model's raw text; a model's
mistake comes back as ``info["action_error"]`` with the screen untouched; a backend that fails
mid-step truncates the episode; a task check that throws is a failed check, never a crash; every
phase is timed into ``info``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar

import gymnasium as gym
import numpy as np

from pixelpilot.envs.core.actions import ACTION_TYPES, ComputerAction, MobileAction, parse_action
from pixelpilot.envs.core.spaces import INSTRUCTION_MAX_LENGTH, screen_spaces
from pixelpilot.envs.core.task import TaskStatus
from pixelpilot.errors import ActionError, EnvError, PixelpilotError

PHASES = ("action", "settle", "observe", "validate")
RESET_PHASES = ("launch", "setup", "settle", "observe")

Step = tuple[dict[str, Any], float, bool, bool, dict[str, Any]]
Observation = dict[str, Any]


class ScreenWord(NamedTuple):
    """A word the screen shows and its box (left, top, right, bottom) in the screenshot's pixels."""

    text: str
    box: tuple[float, float, float, float]


class NamedTask(Protocol):
    """What the shared code reads of a task: its name, for ``info`` and error messages."""

    name: str


TaskT = TypeVar("TaskT", bound=NamedTask)
ActionT = TypeVar("ActionT", ComputerAction, MobileAction)


def first_line(error: BaseException) -> str:
    """Playwright and device tools append logs to their messages; the first line says what happened."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def timed(timings: dict[str, float], phase: str) -> Iterator[None]:
    """Add the time spent in the block to ``timings[phase]``, even when the block raises."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[phase] += time.perf_counter() - start


class ScreenEnv(gym.Env[Observation, str], Generic[TaskT, ActionT]):
    """A task on a screen; observations are screenshots plus the instruction, actions a ``gui_tool`` call.

    A subclass calls ``_use_screen`` once it knows the screen's size and fills in its backend's part:
    ``_open_episode``, ``_prepare``, ``_perform``, ``_settle``, ``_observe``, ``_task_target`` and
    ``_broken``; ``_failures`` and ``_healthy`` tell a dead backend from a model's or a task's mistake.
    A backend whose failures call for another policy overrides ``_act``; one that observes best before
    settling overrides ``_settle_and_observe``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}
    gui_tool: ClassVar[str]

    def __init__(self, task: TaskT, render_mode: str | None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.task = task
        self.render_mode = render_mode
        self._screenshot: np.ndarray | None = None
        self._instruction = ""
        self._over = False

    def _use_screen(self, height: int, width: int) -> None:
        self.observation_space, self.action_space = screen_spaces(height, width)

    # -- gymnasium API -----------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Observation, dict[str, Any]]:
        super().reset(seed=seed)
        episode_seed = int(seed) if seed is not None else int(self.np_random.integers(2**31 - 1))
        timings = dict.fromkeys(RESET_PHASES, 0.0)
        observation = self._open_episode(episode_seed, timings)
        info = {"task": self.task.name, "seed": episode_seed, "success": False, "timings": timings}
        info.update(self._extra_info())
        return observation, info

    def step(self, action: Any) -> Step:
        if self._screenshot is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._over:
            return self._rejected("the episode is over; call reset() to start a new one")
        try:
            parsed = parse_action(action, tool=self.gui_tool)
            if not isinstance(parsed, ACTION_TYPES[self.gui_tool]):
                raise ActionError(f"this environment takes {self.gui_tool} actions, not {parsed.tool}")
            prepared = self._prepare(parsed)  # type: ignore[arg-type]
        except PixelpilotError as error:
            return self._rejected(str(error))
        info: dict[str, Any] = {"task": self.task.name, "action": parsed.model_dump(mode="json", exclude_none=True)}
        return self._act(parsed, prepared, dict.fromkeys(PHASES, 0.0), info)  # type: ignore[arg-type]

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._screenshot is None:
            return None
        return self._screenshot.copy()

    # -- what a backend fills in -------------------------------------------------------------------

    def _open_episode(self, seed: int, timings: dict[str, float]) -> Observation:
        """Start the task's episode (timing ``RESET_PHASES``), ``_take_instruction`` and observe."""
        raise NotImplementedError

    def _prepare(self, action: ActionT) -> Any:
        """Refuse (ActionError) what only this backend knows it cannot do; what it returns goes to ``_perform``."""
        raise NotImplementedError

    def _perform(self, action: ActionT, prepared: Any) -> None:
        raise NotImplementedError

    def _settle(self, action: ActionT) -> None:
        """Wait for what the action set off, and no longer."""
        raise NotImplementedError

    def _observe(self) -> Observation:
        raise NotImplementedError

    def _task_target(self) -> Any:
        """What the task sets up and validates: the page, the desktop, the device."""
        raise NotImplementedError

    def _check(self, action: ActionT, info: dict[str, Any]) -> TaskStatus:
        """The task's verdict after the action, given the answer if the action was one; episode details
        the task reports go into info."""
        target = self._task_target()
        status = self.task.validate(target, action.text if action.action == "answer" else None)
        info.update(self.task.episode_info(target))
        return status

    def _broken(self, error: BaseException, timings: dict[str, float], info: dict[str, Any]) -> Step:
        """The step after one of ``_failures`` (say what failed, then ``_truncated``)."""
        raise NotImplementedError

    def _failures(self) -> tuple[type[BaseException], ...]:
        """The errors by which the backend fails (rather than the model or the task)."""
        return ()

    def _healthy(self) -> bool:
        """Whether the backend still answers, so that a failure was the task's or the action's."""
        return True

    def _extra_info(self) -> dict[str, Any]:
        """Backend details added to the info of every reset and of every step that acted; ``notes`` (a
        list of sentences) is what the model is told besides the screenshot."""
        return {}

    # -- the phases of a step ----------------------------------------------------------------------

    def _act(self, action: ActionT, prepared: Any, timings: dict[str, float], info: dict[str, Any]) -> Step:
        """Act, settle, observe and validate, each timed; a backend failure in any of them truncates."""
        try:
            with timed(timings, "action"):
                try:
                    self._perform(action, prepared)
                except ActionError as error:  # refused by the backend only once under way
                    info["action_error"] = str(error)
            observation = self._settle_and_observe(action, timings)
            with timed(timings, "validate"):
                status = self._validate(action, info)
        except self._failures() as error:
            return self._broken(error, timings, info)
        return self._finish_step(observation, action, status, timings, info)

    def _settle_and_observe(self, action: ActionT, timings: dict[str, float]) -> Observation:
        """Settle, then observe. A backend whose screen is cheapest to capture right after the input (before
        any round trip lets its frame go by) overrides this to observe first and settle after."""
        with timed(timings, "settle"):
            self._settle(action)
        with timed(timings, "observe"):
            return self._observe()

    # -- shared steps ------------------------------------------------------------------------------

    def _take_instruction(self, instruction: str) -> None:
        """Accept the new episode's instruction; one the observation space cannot hold is a broken task."""
        if instruction not in self.observation_space["instruction"]:
            raise EnvError(
                f"task {self.task.name!r} gave an instruction the observation space cannot hold "
                f"(over {INSTRUCTION_MAX_LENGTH} characters or control characters)"
            )
        self._instruction = instruction
        self._over = False

    def _observation(self, screenshot: np.ndarray) -> Observation:
        self._screenshot = screenshot
        return self._current_observation()

    def _current_observation(self) -> Observation:
        assert self._screenshot is not None
        return {"screenshot": self._screenshot.copy(), "instruction": self._instruction}

    def _validate(self, action: ActionT, info: dict[str, Any]) -> TaskStatus:
        try:
            status = self._check(action, info)
        except Exception as error:
            if isinstance(error, self._failures()) and not self._healthy():
                raise  # the backend itself is gone: the step fails
            # The agent may have left the screen where the task's check cannot look, or a program
            # crashed mid-write: no success, no crash.
            info["validate_error"] = f"{type(error).__name__}: {first_line(error)}"
            return TaskStatus(0.0, False, "validation failed")
        return TaskStatus(float(status.reward), bool(status.done), str(status.message))

    def _finish_step(
        self, observation: Observation, action: ActionT, status: TaskStatus, timings: dict[str, float], info: dict
    ) -> Step:
        terminated = status.done or action.is_final
        if action.action == "answer":
            info["answer"] = action.text
        if action.action == "terminate":
            info["status"] = action.status
        self._over = terminated
        info.update(success=bool(status.done and status.reward > 0), message=status.message, timings=timings)
        info.update(self._extra_info())
        return observation, float(status.reward), terminated, False, info

    def _rejected(self, message: str) -> Step:
        """An action that was never carried out: the screen is untouched, nothing was timed."""
        info = {
            "task": self.task.name,
            "action_error": message,
            "success": False,
            "timings": dict.fromkeys(PHASES, 0.0),
        }
        return self._current_observation(), 0.0, False, False, info

    def _truncated(self, message: str, timings: dict[str, float], info: dict[str, Any]) -> Step:
        """The backend failed mid-step: the episode cannot go on."""
        self._over = True
        info.update(action_error=message, success=False, timings=timings)
        info.update(self._extra_info())
        return self._current_observation(), 0.0, False, True, info

    def _start_or_restart(self, start: Callable[[], Observation]) -> Observation:
        """Start an episode; a backend that died (browser killed, phone unplugged) gets one fresh start,
        while a task that cannot start on a healthy backend is a broken task."""
        self._screenshot = None  # until this start succeeds, step() must not act on the old screen
        retried = False
        while True:
            try:
                return start()
            except self._failures() as error:
                if retried or self._healthy():
                    raise EnvError(f"task {self.task.name!r} could not start: {first_line(error)}") from None
                retried = True
