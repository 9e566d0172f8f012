"""DesktopEnv: a gymnasium environment on a real X display, driven by Qwen3-VL ``computer_use`` calls.

By default each environment starts its own Xvfb and window manager (see ``xserver``) and ends
them on ``close()``. Actions are real input events sent to that display only, as XTEST requests
on open connections: the mouse, and keys and text as keysyms looked up in the display's own
keyboard map (those it lacks are bound to spare keycodes first). Observations are screenshots
taken with mss from it. After an action the step waits until nothing has been drawn for a moment,
as the server's DAMAGE extension reports it, then takes one screenshot: a step waits as long as
the programs need to react and no longer. The step contract is ScreenEnv's: an Action, a
ToolCall, a dict or a model's raw text; a model's mistake comes back as ``info["action_error"]``,
never as an exception; every phase is timed into ``info``.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import mss
import numpy as np
from mss.exception import ScreenShotError
from Xlib import XK

from pixelpilot.envs.core.actions import ComputerAction, to_grid, to_pixels
from pixelpilot.envs.core.keys import parse_combo, typing_keys
from pixelpilot.envs.core.screen import Observation, ScreenEnv, Step, timed
from pixelpilot.envs.desktop.apps import app_argv, read_state
from pixelpilot.envs.desktop.tasks import DesktopTask, desktop_task
from pixelpilot.envs.desktop.xserver import (
    DEFAULT_WINDOW_MANAGER,
    MARKER_ENV,
    ClientPing,
    DamageWatch,
    Keyboard,
    Pointer,
    XDisplay,
    XServer,
    chunks_for,
    end_processes,
    find_windows,
    marked_processes,
    require_program,
    run_client,
    wait_for_window,
    window_geometry,
)
from pixelpilot.errors import ActionError, EnvError

log = logging.getLogger(__name__)

EPISODE_ENV = "PIXELPILOT_DESKTOP_EPISODE"
"""Set in the environment of every program an episode starts, so that its daemons end with it."""

_X_KEYSYMS = {
    "ctrl": "Control_L",
    "alt": "Alt_L",
    "shift": "Shift_L",
    "super": "Super_L",
    "enter": "Return",
    "kpenter": "KP_Enter",
    "escape": "Escape",
    "tab": "Tab",
    "backspace": "BackSpace",
    "delete": "Delete",
    "insert": "Insert",
    "space": "space",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "pageup": "Prior",
    "pagedown": "Next",
    "home": "Home",
    "end": "End",
    "capslock": "Caps_Lock",
    "numlock": "Num_Lock",
    "scrolllock": "Scroll_Lock",
    "pause": "Pause",
    "printscreen": "Print",
    "menu": "Menu",
    **{f"f{i}": f"F{i}" for i in range(1, 25)},
}
"""Canonical key names (``keys.NAMED_KEYS``) -> X keysym names."""

_BUTTON_ACTIONS = frozenset(
    {"left_click", "middle_click", "right_click", "double_click", "triple_click"}
    | {"left_click_drag", "scroll", "hscroll"}
)
"""Actions that press a button: the step waits until the window manager has let them through (see ``Pointer``)."""


def x_keysym(key: str) -> int:
    """The X keysym of a canonical key; a character's is its code point (Latin-1) or 0x01000000 + code point."""
    if len(key) == 1:
        code = ord(key)
        return code if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF else 0x01000000 | code
    return XK.string_to_keysym(_X_KEYSYMS[key])


# -- the screen -----------------------------------------------------------------------------------


class Screen:
    """Screenshots of one display through mss (XShm: no copy through a file or a subprocess)."""

    def __init__(self, display: XDisplay) -> None:
        try:
            with display.authorized():
                self._mss = mss.MSS(display=display.name)
            monitor = self._mss.monitors[0]
        except ScreenShotError as error:
            raise EnvError(f"cannot read the screen of display {display.name}: {error}") from None
        self.size = (int(monitor["width"]), int(monitor["height"]))
        self._region = {
            "left": int(monitor["left"]),
            "top": int(monitor["top"]),
            "width": self.size[0],
            "height": self.size[1],
        }

    def grab(self) -> bytes:
        """The whole screen as BGRA bytes (cheap to compare for equality)."""
        try:
            return bytes(self._mss.grab(self._region).raw)
        except (ScreenShotError, AssertionError) as error:  # mss asserts on a reply a dead server never sent
            raise EnvError(f"screenshot failed: {error or 'the X server did not answer'}") from None

    def to_rgb(self, frame: bytes) -> np.ndarray:
        width, height = self.size
        return np.frombuffer(frame, np.uint8).reshape(height, width, 4)[:, :, 2::-1].copy()

    def close(self) -> None:
        with suppress(ScreenShotError):  # the server may be gone already
            self._mss.close()


# -- what a task sees of an episode ---------------------------------------------------------------


@dataclass
class AppHandle:
    """A shipped Tk app running in an episode, with its state file."""

    name: str
    process: subprocess.Popen[bytes]
    state_path: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def document(self) -> dict[str, Any]:
        """The app's last saved document (``state``, ``widgets``, ``geometry``, ``window``); {} before any."""
        return read_state(self.state_path) or {}

    def state(self) -> dict[str, Any]:
        return dict(self.document().get("state") or {})

    def widget(self, name: str) -> tuple[int, int, int, int]:
        """A widget's rectangle (x, y, width, height) on the screen, in pixels."""
        rect = self.document().get("widgets", {}).get(name)
        if rect is None:
            raise EnvError(f"app {self.name!r} shows no widget {name!r}")
        x, y, width, height = rect
        return x, y, width, height


class Desktop:
    """One episode on a display: a fresh home folder, the programs started for it, and window queries.

    Programs get a minimal environment (no variable of the host session), the episode's home as
    ``HOME`` and XDG folders, no session bus (so a program never joins the user's own session on
    another screen), and the episode marker (so whatever they leave running is ended with them).
    """

    def __init__(self, display: XDisplay, root: Path, env_marker: str, screen_size: tuple[int, int]) -> None:
        self.display = display
        self.screen_size = screen_size
        self.episode = uuid.uuid4().hex
        self.root = root
        self.home = root / "home"
        self._env_marker = env_marker
        self._processes: list[subprocess.Popen[bytes]] = []
        for folder in (".config/gtk-3.0", ".local/share", ".cache", "runtime"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        (self.home / "runtime").chmod(0o700)
        # Blinking carets would make two screenshots of the same state differ.
        (self.home / ".config/gtk-3.0/settings.ini").write_text("[Settings]\ngtk-cursor-blink=false\n")
        self.log = (root / "programs.log").open("ab")

    def program_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        home = str(self.home)
        env = self.display.client_env(
            {
                "HOME": home,
                "USER": "user",
                "SHELL": "/bin/bash",
                "XDG_CONFIG_HOME": f"{home}/.config",
                "XDG_DATA_HOME": f"{home}/.local/share",
                "XDG_CACHE_HOME": f"{home}/.cache",
                "XDG_RUNTIME_DIR": f"{home}/runtime",
                "DBUS_SESSION_BUS_ADDRESS": "disabled:",
                "NO_AT_BRIDGE": "1",
                MARKER_ENV: self._env_marker,
                EPISODE_ENV: self.episode,
            }
        )
        if extra:
            env.update(extra)
        return env

    def launch(
        self, argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a program in its own process group; it is ended with the episode."""
        program = require_program(argv[0]) if "/" not in argv[0] else argv[0]
        process = subprocess.Popen(
            [program, *argv[1:]],
            cwd=str(cwd or self.home),
            env=self.program_env(env),
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        self._processes.append(process)
        return process

    def start_app(self, app: str, params: Mapping[str, Any], *, timeout_s: float = 20.0) -> AppHandle:
        """Start a shipped Tk app and return once its window is on the screen and its state saved."""
        state_path = self.root / f"{app}-{len(self._processes)}.json"
        handle = AppHandle(app, self.launch(app_argv(app, state_path, dict(params))), state_path)
        deadline = time.monotonic() + timeout_s
        while not handle.document().get("ready"):
            if not handle.alive:
                raise EnvError(f"app {app!r} exited at start (see {self.root / 'programs.log'})")
            if time.monotonic() > deadline:
                raise EnvError(f"app {app!r} did not show its window within {timeout_s:g} s")
            time.sleep(0.02)
        return handle

    def wait_for_window(self, timeout_s: float = 15.0, **criteria: Any) -> int:
        """The first visible window matching ``name``/``window_class`` (regexes) or ``pid``."""
        return wait_for_window(self.display, timeout_s=timeout_s, **criteria)

    def find_windows(self, **criteria: Any) -> list[int]:
        return find_windows(self.display, **criteria)

    def window_geometry(self, window: int) -> tuple[int, int, int, int]:
        """(x, y, width, height) of a window's content on the screen, in pixels."""
        return window_geometry(self.display, window)

    def place_window(self, window: int, x: int, y: int, width: int | None = None, height: int | None = None) -> None:
        """Move (and resize) a window, as a user arranging the desktop before a task would."""
        argv = [require_program("xdotool")]
        if width is not None and height is not None:
            argv += ["windowsize", "--sync", str(window), str(width), str(height)]
        argv += ["windowmove", "--sync", str(window), str(x), str(y)]
        run_client(self.display, argv)

    def close(self) -> None:
        """End every program of the episode, including daemons that left their process group."""
        end_processes(self._processes, self.episode, EPISODE_ENV)
        self._processes.clear()
        self.log.close()


# -- the environment ------------------------------------------------------------------------------


class DesktopEnv(ScreenEnv[DesktopTask, ComputerAction]):
    """A task on a real X display; observations are full-screen screenshots plus the instruction.

    With ``display=None`` (the default) the environment starts its own Xvfb of ``screen_size``
    with ``window_manager`` on the first ``reset`` and ends it on ``close``. Acting on any other
    display (``display=":0"``) needs ``allow_foreign_display=True``: input events there reach
    whatever the user has open, and keys missing from its keyboard map are bound to unused
    keycodes of that display until ``close``. ``scroll_notch_pixels`` is how many ``pixels`` of a
    scroll action make one wheel notch (X11 scrolls by notches, not pixels). ``type_delay_ms``
    spaces typed characters; 0 (the default) sends them at once, which every program of the task
    suite reads without loss, since XTEST events queue like real ones.

    After an action the step makes sure the programs have the input and have handled it, then waits
    until nothing has been drawn on the screen for ``settle_quiet_s`` (a program that has not begun
    to redraw by then is taken to have nothing to show), at most ``settle_timeout_s`` each; then it
    takes one screenshot. Two round trips give the proof, where timing alone gave none:

    - a click is over once the server holds no button down. The window manager grabs every click
      and holds the pointer until it has focused the window and let the click through, while keys
      are not held: typed before that, they reached the window focused before the click, and a text
      box the click was to focus lost them (the rare notes-type failure, whenever the manager was
      not scheduled within the quiet window; certain with the manager paused).
    - the programs holding the focus and under the pointer are pinged (``_NET_WM_PING``), which GTK
      and the shipped Tk apps answer only once they have handled every event before: a task's check
      then reads the state the input produced, not the state before it.

    Drawing is known from the X DAMAGE extension; on a display without it (a foreign server may lack
    it) the screen is grabbed every 20 ms instead, until two grabs ``settle_quiet_s`` apart agree.
    The default quiet window stays 60 ms: with the round trips every oracle passes with none at all
    (19 tasks x 4 seeds at 0 ms on a loaded 2-core machine), but a screenshot still depends on it,
    since programs draw after handling input on clocks of their own (GTK's frame clock, galculator's
    100 ms key press, at 20 ms caught mid-way) and xterm is not pinged.
    """

    gui_tool = "computer_use"

    def __init__(
        self,
        task: DesktopTask,
        render_mode: str | None = None,
        *,
        screen_size: tuple[int, int] = (1280, 800),
        display: str | None = None,
        allow_foreign_display: bool = False,
        xauthority: str | None = None,
        window_manager: Sequence[str] | None = DEFAULT_WINDOW_MANAGER,
        settle_timeout_s: float = 3.0,
        settle_quiet_s: float = 0.06,
        max_wait_s: float = 30.0,
        type_delay_ms: int = 0,
        scroll_notch_pixels: int = 100,
    ) -> None:
        super().__init__(task, render_mode)
        if display is not None and not allow_foreign_display:
            raise EnvError(
                f"refusing to act on display {display!r}, which pixelpilot did not start: its input events would "
                "reach whatever is open there. Pass allow_foreign_display=True to allow it, or display=None for a "
                "private Xvfb."
            )
        for program in ("xdotool", "xwininfo"):  # window search and placement; input goes through XTEST
            require_program(program)
        self.settle_timeout_s = settle_timeout_s
        self.settle_quiet_s = settle_quiet_s
        self.max_wait_s = max_wait_s
        self.type_delay_ms = type_delay_ms
        self.scroll_notch_pixels = scroll_notch_pixels
        self.marker = uuid.uuid4().hex
        """Tags every process this environment starts (see ``xserver.MARKER_ENV``)."""
        self._server: XServer | None = None
        self._screen: Screen | None = None
        if display is None:
            self._server = XServer(size=tuple(screen_size), window_manager=window_manager, marker=self.marker)  # type: ignore[arg-type]
            self._display: XDisplay | None = None
            self.screen_size = (int(screen_size[0]), int(screen_size[1]))
        else:
            self._display = XDisplay(display, xauthority, owned=False)
            self._screen = Screen(self._display)
            self.screen_size = self._screen.size
        width, height = self.screen_size
        self._use_screen(height, width)
        self._root = Path(tempfile.mkdtemp(prefix="pixelpilot-desktop-"))
        self._keyboard: Keyboard | None = None
        self._pointer: Pointer | None = None
        self._damage: DamageWatch | None = None
        self._pings: ClientPing | None = None
        self._desktop: Desktop | None = None
        self._episodes = 0
        self._frame = b""
        """The last still screen, as ``_settle`` left it for ``_observe``."""

    # -- what oracles and tools read -------------------------------------------------------------

    @property
    def display(self) -> XDisplay:
        """The display this environment acts on (its own Xvfb once reset)."""
        if self._display is None:
            raise gym.error.ResetNeeded("no display yet: call reset() first")
        return self._display

    @property
    def settle_method(self) -> str:
        """How steps wait for a still screen: "damage" (X DAMAGE reports) or "screenshots" (without DAMAGE)."""
        if self._pointer is None:  # the connections to the display open on the first reset
            raise gym.error.ResetNeeded("no display yet: call reset() first")
        return "damage" if self._damage is not None else "screenshots"

    @property
    def server(self) -> XServer | None:
        """The Xvfb this environment owns (None on a foreign display)."""
        return self._server

    @property
    def desktop(self) -> Desktop:
        """The current episode's desktop: its home folder, programs and windows."""
        if self._desktop is None:
            raise gym.error.ResetNeeded("no episode yet: call reset() first")
        return self._desktop

    def to_grid(self, x_px: float, y_px: float) -> tuple[int, int]:
        """The 0–1000 grid point where a screen pixel appears in the observation."""
        return to_grid(x_px, y_px, *self.screen_size)

    def processes(self) -> list[int]:
        """Every live process this environment started (server, window manager, programs, their daemons)."""
        return marked_processes(self.marker)

    # -- gymnasium API -----------------------------------------------------------------------------

    def close(self) -> None:
        try:
            self._end_episode()
        finally:  # whatever the task's teardown did, nothing of this environment may outlive close()
            self._close_clients()
            if self._server is not None:
                self._server.stop()
                self._display = None
            end_processes(marker=self.marker)
            shutil.rmtree(self._root, ignore_errors=True)
            self._screenshot = None
        super().close()

    # -- an episode --------------------------------------------------------------------------------

    def _open_episode(self, seed: int, timings: dict[str, float]) -> Observation:
        self._end_episode()
        try:
            instruction = self._start_episode(seed, timings)
        except EnvError:
            if self._display_alive():
                raise
            # The X server died (killed, crashed) before or during set-up: one fresh start, then give up.
            self._end_episode()
            instruction = self._start_episode(seed, timings)
        self._take_instruction(instruction)
        with timed(timings, "settle"):
            self._settle()
        with timed(timings, "observe"):
            return self._observe()

    def _start_episode(self, seed: int, timings: dict[str, float]) -> str:
        with timed(timings, "launch"):
            self._ensure_display()
        with timed(timings, "setup"):
            self._episodes += 1
            root = self._root / f"episode-{self._episodes}"
            root.mkdir()
            self._desktop = Desktop(self.display, root, self.marker, self.screen_size)
            # The pointer starts in the same corner every episode: hover effects must not depend on the last one.
            assert self._pointer is not None
            self._pointer.move(0, 0)
            return str(self.task.setup(self._desktop, seed))

    def _ensure_display(self) -> None:
        if self._server is None:
            if self._keyboard is None:
                self._open_clients()
            return
        if self._display_alive():
            return
        self._close_clients()
        self._server.stop()  # a server that stopped answering may still be exiting: end it for good
        self._display = self._server.start()
        self._screen = Screen(self._display)
        self._open_clients()
        if self._screen.size != self.screen_size:
            raise EnvError(f"display {self._display.name} is {self._screen.size}, expected {self.screen_size}")

    def _open_clients(self) -> None:
        """Open this process's input and damage connections to the display (the screen's is opened with it)."""
        self._keyboard = Keyboard(self.display)
        self._pointer = Pointer(self.display)
        self._damage = DamageWatch.open(self.display)
        self._pings = ClientPing.open(self.display)
        if self._damage is None:
            log.warning(
                "display %s has no DAMAGE extension: settling by comparing screenshots every 20 ms, "
                "which makes every step slower",
                self.display.name,
            )

    def _close_clients(self) -> None:
        """Close this process's own connections to the display (screen grabs, pointer, keyboard, damage)."""
        if self._screen is not None:
            self._screen.close()
            self._screen = None
        if self._pointer is not None:
            self._pointer.close()
            self._pointer = None
        if self._keyboard is not None:
            self._keyboard.close()
            self._keyboard = None
        if self._damage is not None:
            self._damage.close()
            self._damage = None
        if self._pings is not None:
            self._pings.close()
            self._pings = None

    def _display_alive(self) -> bool:
        """Whether the display still answers (a killed server's process may not have been reaped yet)."""
        if self._server is not None and not self._server.alive:
            return False
        if self._screen is None:
            return False
        try:
            self._screen.grab()
        except EnvError:
            return False
        return True

    # -- the phases of a step ----------------------------------------------------------------------

    def _prepare(self, action: ComputerAction) -> Any:
        """Check what only this environment knows (key names, typeable text, wait limit) before acting."""
        if action.action == "key":
            return [x_keysym(key) for key in parse_combo(action.keys or ())]
        if action.action == "type":
            return [x_keysym(key) for key in typing_keys(action.text or "")]
        if action.action == "wait" and (action.time or 0) > self.max_wait_s:
            raise ActionError(f"wait time {action.time}s is over this environment's limit of {self.max_wait_s}s")
        return None

    def _perform(self, action: ComputerAction, prepared: Any) -> None:
        assert self._pointer is not None and self._keyboard is not None
        pointer, name = self._pointer, action.action
        if action.coordinate is not None and name not in (
            "left_click_drag",
            "key",
            "type",
            "wait",
            "terminate",
            "answer",
        ):
            pointer.move(*to_pixels(action.coordinate, *self.screen_size))
        if name == "key":
            self._bind(prepared)
            self._keyboard.press(prepared)
        elif name == "type":
            self._type(prepared)
        elif name in ("left_click", "middle_click", "right_click"):
            pointer.click({"left_click": 1, "middle_click": 2, "right_click": 3}[name])
        elif name in ("double_click", "triple_click"):
            pointer.click(1, count=2 if name == "double_click" else 3)
        elif name == "left_click_drag":
            self._drag(action.coordinate)  # type: ignore[arg-type]
        elif name in ("scroll", "hscroll"):
            pixels = action.pixels or 0
            notches = max(1, round(abs(pixels) / self.scroll_notch_pixels)) if pixels else 0
            # X11 wheel buttons: 4 up, 5 down, 6 left, 7 right.
            button = {("scroll", True): 4, ("scroll", False): 5, ("hscroll", True): 7, ("hscroll", False): 6}[
                (name, pixels > 0)
            ]
            pointer.click(button, count=notches, interval_s=0.02)
        elif name == "wait":
            time.sleep(action.time or 0)
        if name in _BUTTON_ACTIONS and not pointer.wait_until_released(self.settle_timeout_s):
            log.warning(
                "display %s still holds a button down %g s after the input: its window manager has not let the "
                "click through",
                self.display.name,
                self.settle_timeout_s,
            )

    def _type(self, keysyms: list[int]) -> None:
        assert self._keyboard is not None
        keymap = self._keyboard.keymap
        for i, piece in enumerate(chunks_for(keysyms, keymap.capacity(), keymap.lacks)):
            if i:
                self._settle()  # the program must have read the last piece before keys are rebound
            self._bind(piece)
            self._keyboard.type(piece, self.type_delay_ms)

    def _bind(self, keysyms: list[int]) -> None:
        """Bind the keys keysyms lack and let the programs holding the input read the new map before any is sent."""
        assert self._keyboard is not None and self._pings is not None
        if self._keyboard.bind(keysyms):
            self._pings.ping_input_holders(self.settle_timeout_s)

    def _drag(self, coordinate: tuple[int, int]) -> None:
        """Press at the pointer, travel to coordinate, release (the pointer moves before the drag, not in it)."""
        assert self._pointer is not None
        pointer = self._pointer
        (x0, y0), (x1, y1) = pointer.position(), to_pixels(coordinate, *self.screen_size)
        pointer.press(1)
        steps = 8  # programs that track motion (drag thresholds, drag and drop) need the pointer to travel, not jump
        for i in range(1, steps + 1):
            time.sleep(0.015)
            pointer.move(round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps))
        pointer.release(1)

    def _act(self, action: ComputerAction, prepared: Any, timings: dict[str, float], info: dict[str, Any]) -> Step:
        """An input that fails on a display that still answers is the model's error, not the episode's end."""
        try:
            with timed(timings, "action"):
                self._perform(action, prepared)
            with timed(timings, "settle"):
                self._settle(action)
        except EnvError as error:
            if not self._display_alive():
                return self._broken(error, timings, info)
            info["action_error"] = str(error)  # the display is fine; the model may try something else
            self._settle(action)
        with timed(timings, "observe"):
            observation = self._observe()
        with timed(timings, "validate"):
            status = self._validate(action, info)
        return self._finish_step(observation, action, status, timings, info)

    def _settle(self, action: ComputerAction | None = None) -> None:
        """Wait until the programs holding the input have handled it and nothing has been drawn for ``settle_quiet_s``.

        Each wait ends at ``settle_timeout_s`` at the latest; then the screen is grabbed.
        """
        assert self._screen is not None and self._pings is not None
        self._pings.ping_input_holders(self.settle_timeout_s)
        if self._damage is None:
            self._frame = self._poll_until_still()
            return
        self._damage.wait_until_quiet(self.settle_quiet_s, self.settle_timeout_s)
        self._frame = self._screen.grab()

    def _poll_until_still(self) -> bytes:
        """Grab the screen until it has not changed for ``settle_quiet_s`` (or the timeout passes): without DAMAGE."""
        assert self._screen is not None
        poll_s = 0.02
        deadline = time.monotonic() + self.settle_timeout_s
        frame = self._screen.grab()
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(poll_s)
            latest = self._screen.grab()
            now = time.monotonic()
            if latest != frame:
                frame, stable_since = latest, now
            elif now - stable_since >= self.settle_quiet_s:
                break
        return frame

    def _observe(self) -> Observation:
        assert self._screen is not None
        return self._observation(self._screen.to_rgb(self._frame))

    def _task_target(self) -> Desktop:
        return self.desktop

    # -- failures ----------------------------------------------------------------------------------

    def _broken(self, error: BaseException, timings: dict[str, float], info: dict[str, Any]) -> Step:
        message = f"the X display is gone (killed or crashed): {error}; reset() to start again"
        return self._truncated(message, timings, info)

    def _end_episode(self) -> None:
        if self._desktop is None:
            return
        try:
            if self._display_alive():
                self.task.teardown(self._desktop)
        finally:
            self._desktop.close()
            shutil.rmtree(self._desktop.root, ignore_errors=True)
            self._desktop = None


def make_desktop_env(task: str, **kwargs: Any) -> DesktopEnv:
    """gymnasium entry point of ``pixelpilot/desktop-<task>-v0``; kwargs go to DesktopEnv."""
    return DesktopEnv(desktop_task(task), **kwargs)
