"""WebEnv: a gymnasium environment over a real Chromium page, driven by Qwen3-VL ``computer_use`` calls.

Each step parses the action with the same code as the agent's parser, carries it out with real
mouse and keyboard events, waits only for what the action set off (a navigation, requests),
takes a screenshot and asks the task whether it is done; every phase is timed into ``info``.
A model's mistake (bad text, a bad argument) and a browser failure never raise: they come back
as ``info["action_error"]`` so the agent can show them to the model.
"""

from __future__ import annotations

import bisect
import io
import time
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, SupportsIndex

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.spaces.space import Space
from gymnasium.vector.utils import read_from_shared_memory
from PIL import Image
from playwright.sync_api import Error as PlaywrightError

from pixelpilot.envs.actions import ComputerAction, parse_action, to_pixels
from pixelpilot.envs.browser import NEXT_FRAME_JS, BrowserSession, OriginPolicy, PageActivity, retry_transient
from pixelpilot.envs.tasks import TaskStatus, WebTask
from pixelpilot.errors import ActionError, EnvError, PixelpilotError

if TYPE_CHECKING:
    from playwright.sync_api import Page

PRINTABLE_UNICODE: tuple[tuple[int, int], ...] = (
    (0x09, 0x0A),
    (0x20, 0x7E),
    (0xA0, 0xD7FF),
    (0xE000, 0xFFFD),
    (0x10000, 0x10FFFF),
)
"""Tab, newline and every printable code point: what an instruction or a model's reply may hold."""

INSTRUCTION_MAX_LENGTH = 2048
ACTION_MAX_LENGTH = 16384
PHASES = ("action", "settle", "observe", "validate")


class CodepointSet(AbstractSet[str]):
    """Characters as inclusive code-point ranges, so that membership and indexing are arithmetic."""

    def __init__(self, ranges: Sequence[tuple[int, int]]) -> None:
        self.ranges = tuple(sorted((int(lo), int(hi)) for lo, hi in ranges))
        self._starts = [lo for lo, _ in self.ranges]
        self._offsets = [0]
        for lo, hi in self.ranges:
            self._offsets.append(self._offsets[-1] + hi - lo + 1)

    def index(self, char: str) -> int | None:
        """Position of char in code-point order, or None when it is not in the set."""
        point = ord(char)
        i = bisect.bisect_right(self._starts, point) - 1
        if i < 0 or point > self.ranges[i][1]:
            return None
        return self._offsets[i] + point - self.ranges[i][0]

    def char(self, index: int) -> str:
        if not 0 <= index < len(self):
            raise IndexError(index)
        i = bisect.bisect_right(self._offsets, index) - 1
        return chr(self.ranges[i][0] + index - self._offsets[i])

    def __contains__(self, char: object) -> bool:
        return isinstance(char, str) and len(char) == 1 and self.index(char) is not None

    def __len__(self) -> int:
        return self._offsets[-1]

    def __iter__(self) -> Iterator[str]:
        for lo, hi in self.ranges:
            yield from map(chr, range(lo, hi + 1))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CodepointSet):
            return self.ranges == other.ranges
        return AbstractSet.__eq__(self, other)

    def __hash__(self) -> int:
        return hash(self.ranges)


class _CodepointList(Sequence[str]):
    """``Text.character_list`` without building a tuple of a million strings."""

    def __init__(self, codepoints: CodepointSet) -> None:
        self._codepoints = codepoints

    def __getitem__(self, index: SupportsIndex) -> str:  # type: ignore[override]
        return self._codepoints.char(int(index))

    def __len__(self) -> int:
        return len(self._codepoints)


class UnicodeText(spaces.Text):
    """A ``Text`` space over whole Unicode ranges (every printable character by default).

    gymnasium's Text builds a per-character table when created: about a second and megabytes of
    pickle for the Basic Multilingual Plane alone, paid again by every vector-env copy. This one
    keeps code-point ranges, so real instructions (any script, emoji) fit and sharing is cheap,
    while flattening and shared memory still work through the Text interface.
    """

    def __init__(
        self,
        max_length: int,
        *,
        min_length: int = 0,
        ranges: Sequence[tuple[int, int]] = PRINTABLE_UNICODE,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if not 0 <= min_length <= max_length:
            raise ValueError(f"need 0 <= min_length <= max_length, got {min_length}, {max_length}")
        self.min_length = int(min_length)
        self.max_length = int(max_length)
        self._codepoints = CodepointSet(ranges)
        Space.__init__(self, dtype=str, seed=seed)

    @property
    def character_set(self) -> CodepointSet:  # type: ignore[override]
        return self._codepoints

    @property
    def character_list(self) -> Sequence[str]:  # type: ignore[override]
        return _CodepointList(self._codepoints)

    @property
    def characters(self) -> str:
        return "".join(self._codepoints)

    def character_index(self, char: str) -> np.int32:
        index = self._codepoints.index(char)
        if index is None:
            raise KeyError(char)
        return np.int32(index)

    def contains(self, x: Any) -> bool:
        return (
            isinstance(x, str)
            and self.min_length <= len(x) <= self.max_length
            and all(self._codepoints.index(c) is not None for c in x)
        )

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        length = int(self.np_random.integers(self.min_length, self.max_length + 1))
        indices = self.np_random.integers(0, len(self._codepoints), size=length)
        return "".join(self._codepoints.char(int(i)) for i in indices)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, UnicodeText):
            return (self.min_length, self.max_length, self._codepoints) == (
                other.min_length,
                other.max_length,
                other._codepoints,
            )
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length}, {len(self._codepoints)} characters)"


class SharedTexts(Sequence[str]):
    """The strings of a batch of UnicodeText slots in shared memory, decoded each time they are read.

    gymnasium's AsyncVectorEnv reads its shared observation buffer once, at creation, relying on
    numpy views to see later writes; Text decodes to plain strings, which would stay frozen at
    that first read. This view decodes on access, and a deepcopy (what AsyncVectorEnv hands out
    by default) is a plain tuple of the current strings.
    """

    def __init__(self, space: UnicodeText, rows: np.ndarray) -> None:
        self._space = space
        self._rows = rows

    def _decode(self, row: np.ndarray) -> str:
        codepoints = self._space.character_set
        return "".join(codepoints.char(int(i)) for i in row[row < len(codepoints)])

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return tuple(self._decode(row) for row in self._rows[index])
        return self._decode(self._rows[index])

    def __len__(self) -> int:
        return len(self._rows)

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return repr(tuple(self))


@read_from_shared_memory.register(UnicodeText)
def _read_unicode_texts(space: UnicodeText, shared_memory: Any, n: int = 1) -> SharedTexts:
    rows = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape((n, space.max_length))
    return SharedTexts(space, rows)


_KEY_NAMES = {
    "ctrl": "Control",
    "control": "Control",
    "alt": "Alt",
    "option": "Alt",
    "opt": "Alt",
    "shift": "Shift",
    "cmd": "Meta",
    "command": "Meta",
    "meta": "Meta",
    "super": "Meta",
    "win": "Meta",
    "windows": "Meta",
    "enter": "Enter",
    "return": "Enter",
    "kpenter": "Enter",
    "esc": "Escape",
    "escape": "Escape",
    "tab": "Tab",
    "backspace": "Backspace",
    "delete": "Delete",
    "del": "Delete",
    "insert": "Insert",
    "space": "Space",
    "spacebar": "Space",
    "up": "ArrowUp",
    "down": "ArrowDown",
    "left": "ArrowLeft",
    "right": "ArrowRight",
    "arrowup": "ArrowUp",
    "arrowdown": "ArrowDown",
    "arrowleft": "ArrowLeft",
    "arrowright": "ArrowRight",
    "pageup": "PageUp",
    "pgup": "PageUp",
    "prior": "PageUp",
    "pagedown": "PageDown",
    "pgdn": "PageDown",
    "next": "PageDown",
    "home": "Home",
    "end": "End",
    "capslock": "CapsLock",
    "menu": "ContextMenu",
    "contextmenu": "ContextMenu",
    "plus": "+",
    "minus": "-",
    **{f"f{i}": f"F{i}" for i in range(1, 13)},
}
"""Key names models write (xdotool, pyautogui, DOM) -> Playwright's key names."""


def playwright_keys(keys: Sequence[str]) -> list[str]:
    """Map a ``computer_use`` key combo (["ctrl", "a"], ["Return"], ["ctrl+shift+t"]) to Playwright keys."""
    names = [part for key in keys for part in ([key] if key == "+" else key.split("+")) if part]
    if not names:
        raise ActionError("keys must name at least one key")
    mapped = []
    for name in names:
        if len(name) == 1:
            mapped.append(name)
            continue
        normal = name.lower().replace("_", "").replace("-", "").replace(" ", "")
        if normal not in _KEY_NAMES:
            raise ActionError(
                f"unknown key {name!r}; use names such as ctrl, alt, shift, enter, tab, esc, "
                "backspace, delete, up, pagedown, f5 or a single character"
            )
        mapped.append(_KEY_NAMES[normal])
    return mapped


def _first_line(error: BaseException) -> str:
    """Playwright appends call logs to its messages; the first line says what happened."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def _timed(timings: dict[str, float], phase: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[phase] += time.perf_counter() - start


class WebEnv(gym.Env[dict[str, Any], str]):
    """A task on a real Chromium page; observations are viewport screenshots plus the instruction.

    ``viewport``/``device_scale_factor``/``allowed_origins`` default to the task's. The browser is
    launched by the first ``reset`` (one per environment) and relaunched by a ``reset`` after it
    died; like Playwright's sync API it then belongs to that thread. Scroll ``pixels`` are CSS
    pixels of the page (screen pixels at device scale 1).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}  # noqa: RUF012 (gymnasium's convention)
    gui_tool = "computer_use"

    def __init__(
        self,
        task: WebTask,
        viewport: tuple[int, int] | None = None,
        device_scale_factor: float | None = None,
        allowed_origins: Sequence[str] | None = None,
        render_mode: str | None = None,
        *,
        settle_timeout_s: float = 3.0,
        max_wait_s: float = 30.0,
        action_timeout_s: float = 10.0,
        executable_path: str | None = None,
        headless: bool = True,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.task = task
        self.render_mode = render_mode
        self.viewport = tuple(viewport or task.viewport)
        self.device_scale_factor = float(device_scale_factor or task.device_scale_factor)
        origins = task.origins() if allowed_origins is None else tuple(allowed_origins)
        self.policy = OriginPolicy(origins)
        self.settle_timeout_s = settle_timeout_s
        self.max_wait_s = max_wait_s
        width, height = self.viewport
        self._shape = (round(height * self.device_scale_factor), round(width * self.device_scale_factor), 3)
        self.observation_space = spaces.Dict(
            {
                "screenshot": spaces.Box(0, 255, self._shape, np.uint8),
                "instruction": UnicodeText(INSTRUCTION_MAX_LENGTH),
            }
        )
        self.action_space = UnicodeText(ACTION_MAX_LENGTH)
        self._session = BrowserSession(
            executable_path=executable_path,
            headless=headless,
            action_timeout_s=action_timeout_s,
        )
        self._activity: PageActivity | None = None
        self._screenshot: np.ndarray | None = None
        self._instruction = ""
        self._mouse = (0.0, 0.0)
        self._over = False

    # -- what oracles and tools read -------------------------------------------------------------

    @property
    def page(self) -> Page:
        """The Playwright page of the current episode."""
        page = self._session.page
        if page is None:
            raise gym.error.ResetNeeded("no page yet: call reset() first")
        return page

    @property
    def browser(self) -> BrowserSession:
        """This environment's own browser (its ``pid`` is None before the first reset and after close)."""
        return self._session

    def to_grid(self, x_css: float, y_css: float) -> tuple[int, int]:
        """The 0–1000 grid point of the observation where a CSS-pixel point of the viewport appears."""
        width, height = self.viewport
        gx = min(max(round(x_css / width * 1000), 0), 1000)
        gy = min(max(round(y_css / height * 1000), 0), 1000)
        return gx, gy

    def _to_css(self, coordinate: tuple[int, int]) -> tuple[float, float]:
        obs_height, obs_width = self._shape[:2]
        x_px, y_px = to_pixels(coordinate, obs_width, obs_height)
        width, height = self.viewport
        return x_px * width / obs_width, y_px * height / obs_height

    # -- gymnasium API -----------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        episode_seed = int(seed) if seed is not None else int(self.np_random.integers(2**31 - 1))
        timings = {"launch": 0.0, "setup": 0.0, "settle": 0.0, "observe": 0.0}
        self._teardown()
        self._screenshot = None  # until this reset succeeds, step() must not act on the old page
        for attempt in (1, 2):
            try:
                instruction = self._start_episode(episode_seed, timings)
                if instruction not in self.observation_space["instruction"]:
                    raise EnvError(
                        f"task {self.task.name!r} gave an instruction the observation space cannot hold "
                        f"(over {INSTRUCTION_MAX_LENGTH} characters or control characters)"
                    )
                self._instruction = instruction
                with _timed(timings, "observe"):
                    observation = self._observe()
                break
            except PlaywrightError as error:
                # A browser or page that died (killed, crashed) gets one fresh start; a task whose
                # page cannot load on a healthy browser is a broken task.
                if attempt == 2 or self._session.healthy:
                    raise EnvError(f"task {self.task.name!r} could not start: {_first_line(error)}") from None
        self._mouse = (0.0, 0.0)
        self._over = False
        info = {
            "task": self.task.name,
            "seed": episode_seed,
            "success": False,
            "timings": timings,
            "blocked_requests": self._drain_blocked(),
        }
        return observation, info

    def _start_episode(self, seed: int, timings: dict[str, float]) -> str:
        with _timed(timings, "launch"):
            self._session.start()
        self._session.blocked.clear()
        with _timed(timings, "setup"):
            page = self._session.new_page(
                self.viewport, self.device_scale_factor, self.policy, fresh=self.task.fresh_context
            )
            if self._activity is None or self._activity.page is not page:
                self._activity = PageActivity(page)
            self._activity.mark()
            instruction = retry_transient(lambda: self.task.setup(page, seed), page)
        with _timed(timings, "settle"):
            self._activity.settle(self.settle_timeout_s)
        return str(instruction)

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._screenshot is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._over:
            return self._rejected("the episode is over; call reset() to start a new one")
        try:
            parsed = parse_action(action, tool=self.gui_tool)
            if not isinstance(parsed, ComputerAction):
                raise ActionError(f"this environment takes {self.gui_tool} actions, not {parsed.tool}")
            keys = playwright_keys(parsed.keys or ()) if parsed.action == "key" else []
            if parsed.action == "wait" and (parsed.time or 0) > self.max_wait_s:
                raise ActionError(f"wait time {parsed.time}s is over this environment's limit of {self.max_wait_s}s")
        except PixelpilotError as error:
            return self._rejected(str(error))

        timings = dict.fromkeys(PHASES, 0.0)
        info: dict[str, Any] = {"task": self.task.name, "action": parsed.model_dump(mode="json", exclude_none=True)}
        try:
            with _timed(timings, "action"):
                self._perform(parsed, keys)
            with _timed(timings, "settle"):
                self._settle(parsed)
            with _timed(timings, "observe"):
                observation = self._observe()
            with _timed(timings, "validate"):
                status = self._validate(info)
        except PlaywrightError as error:
            return self._broken(error, timings, info)

        terminated = status.done or parsed.is_final
        if parsed.action == "answer":
            info["answer"] = parsed.text
        if parsed.action == "terminate":
            info["status"] = parsed.status
        self._over = terminated
        info.update(
            success=bool(status.done and status.reward > 0),
            message=status.message,
            timings=timings,
            blocked_requests=self._drain_blocked(),
        )
        return observation, float(status.reward), terminated, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._screenshot is None:
            return None
        return self._screenshot.copy()

    def close(self) -> None:
        self._teardown()
        self._session.close()
        self._activity = None
        super().close()

    # -- the phases of a step ----------------------------------------------------------------------

    def _perform(self, action: ComputerAction, keys: list[str]) -> None:
        page, mouse = self.page, self.page.mouse
        name = action.action
        if action.coordinate is not None and name not in ("wait", "terminate", "answer", "type", "key"):
            target = self._to_css(action.coordinate)
        else:
            target = self._mouse
        if name == "key":
            for key in keys:
                page.keyboard.down(key)
            for key in reversed(keys):
                page.keyboard.up(key)
        elif name == "type":
            page.keyboard.type(action.text or "")
        elif name == "mouse_move":
            mouse.move(*target)
        elif name in ("left_click", "right_click", "middle_click"):
            mouse.click(*target, button=name.removesuffix("_click"))  # type: ignore[arg-type]
        elif name == "double_click":
            mouse.dblclick(*target)
        elif name == "triple_click":
            mouse.click(*target, click_count=3)
        elif name == "left_click_drag":
            mouse.move(*self._mouse)
            mouse.down()
            mouse.move(*target, steps=10)
            mouse.up()
        elif name in ("scroll", "hscroll"):
            mouse.move(*target)
            pixels = action.pixels or 0
            if name == "scroll":
                mouse.wheel(0, -pixels)
            else:
                mouse.wheel(pixels, 0)
        elif name == "wait":
            page.wait_for_timeout((action.time or 0) * 1000)
        self._mouse = target

    def _settle(self, action: ComputerAction) -> None:
        assert self._activity is not None
        if action.action in ("scroll", "hscroll"):
            # Wheel events scroll asynchronously; one frame later the new position is on screen.
            self.page.evaluate(NEXT_FRAME_JS)
        self._activity.settle(self.settle_timeout_s)
        self._activity.mark()

    def _observe(self) -> dict[str, Any]:
        page = self.page
        png = retry_transient(page.screenshot, page)
        image = Image.open(io.BytesIO(png)).convert("RGB")
        if image.size != (self._shape[1], self._shape[0]):
            image = image.resize((self._shape[1], self._shape[0]), Image.Resampling.BILINEAR)
        self._screenshot = np.array(image, dtype=np.uint8)
        return {"screenshot": self._screenshot.copy(), "instruction": self._instruction}

    def _validate(self, info: dict[str, Any]) -> TaskStatus:
        page = self.page
        try:
            status = retry_transient(lambda: self.task.validate(page), page)
            info.update(self.task.episode_info(page))
        except Exception as error:
            if isinstance(error, PlaywrightError) and not self._session.healthy:
                raise
            # The model may have taken the page where the task's check cannot look: no success, no crash.
            info["validate_error"] = f"{type(error).__name__}: {_first_line(error)}"
            return TaskStatus(0.0, False, "validation failed")
        return TaskStatus(float(status.reward), bool(status.done), str(status.message))

    # -- failures ----------------------------------------------------------------------------------

    def _current_observation(self) -> dict[str, Any]:
        assert self._screenshot is not None
        return {"screenshot": self._screenshot.copy(), "instruction": self._instruction}

    def _rejected(self, message: str) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """An action that was never carried out: the page is untouched, nothing was timed."""
        info = {
            "task": self.task.name,
            "action_error": message,
            "success": False,
            "timings": dict.fromkeys(PHASES, 0.0),
            "blocked_requests": [],
        }
        return self._current_observation(), 0.0, False, False, info

    def _broken(
        self, error: PlaywrightError, timings: dict[str, float], info: dict[str, Any]
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """The browser failed mid-step: the episode cannot go on, so it is truncated."""
        if not self._session.alive:
            cause = "the browser is gone (killed or crashed)"
        elif not self._session.healthy:
            cause = "the page crashed or was closed"
        else:
            cause = "the page stopped responding"
        message = str(EnvError(f"{cause}: {_first_line(error)}; reset() to start again"))
        self._over = True
        info.update(action_error=message, success=False, timings=timings, blocked_requests=self._drain_blocked())
        return self._current_observation(), 0.0, False, True, info

    def _teardown(self) -> None:
        page = self._session.page
        if page is None or not self._session.alive:
            return
        with suppress(PlaywrightError):
            self.task.teardown(page)

    def _drain_blocked(self) -> list[str]:
        blocked = list(self._session.blocked)
        self._session.blocked.clear()
        return blocked
