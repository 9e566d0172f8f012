"""The X display under a desktop environment: a private Xvfb with its own cookie and window manager.

Every environment owns its server, so vector environments never share a screen, a keyboard
focus or a clipboard. The server picks a free display number itself (``-displayfd``), which
cannot race with another process choosing the same number, and admits only clients holding the
cookie written to its own ``XAUTHORITY`` file. Each process started for an environment carries a
marker in its environment, so that daemons which leave their process group (menu caches, D-Bus
helpers) can still be found and ended, and tests can prove that nothing outlives ``close()``.

Clients are always given the display explicitly: nothing here reads or changes this process's
``DISPLAY``, so a desktop session the user is sitting at is never touched by accident.
"""

from __future__ import annotations

import os
import re
import secrets
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from Xlib import X
from Xlib import display as xlib_display
from Xlib import error as xlib_error
from Xlib.ext import xtest

from pixelpilot.errors import EnvError

MARKER_ENV = "PIXELPILOT_DESKTOP"
"""Set in the environment of every process started for one desktop environment (server, WM, apps)."""

DEFAULT_WINDOW_MANAGER = ("jwm",)
"""JWM: small, in Debian, EWMH-compliant (click to focus, new windows focused, requested positions kept).

Openbox was measured to hold back pointer events for a while after each keyboard-mapping change
(which typing non-ASCII text makes): a click sent then reached the program late or never.
"""

JWM_CONFIG = """<?xml version="1.0"?>
<JWM>
  <FocusModel>click</FocusModel>
  <MoveMode>opaque</MoveMode>
  <ResizeMode>opaque</ResizeMode>
  <WindowStyle>
    <Font>DejaVu Sans-10:bold</Font>
    <Width>3</Width>
    <Height>24</Height>
    <Foreground>#404040</Foreground>
    <Background>#d6d9df</Background>
    <Active><Foreground>#ffffff</Foreground><Background>#35618f</Background></Active>
  </WindowStyle>
  <Desktops width="1" height="1"><Background type="solid">#28465e</Background></Desktops>
</JWM>
"""
"""No tray, clock or menu: an equal state must give an equal screenshot."""

APT_PACKAGES = {
    "Xvfb": "xvfb",
    "xdotool": "xdotool",
    "xmodmap": "x11-xserver-utils",
    "xwininfo": "x11-utils",
    "xprop": "x11-utils",
    "jwm": "jwm",
}
"""Programs the desktop environment runs, with the Debian package that ships each."""

_X_TIMEOUT_S = 10.0
_XAUTH_LOCK = threading.Lock()


def require_program(name: str) -> str:
    """The path of a program the desktop needs, or an EnvError that names the package to install."""
    path = shutil.which(name)
    if path is None:
        package = APT_PACKAGES.get(name, name)
        raise EnvError(f"'{name}' is not installed; on Debian: apt-get install -y {package}")
    return path


def write_xauthority(path: Path, cookie: bytes, display_number: str | None = None) -> None:
    """Write an Xauthority file holding one MIT-MAGIC-COOKIE-1 (the file belongs to one server).

    The wildcard entry serves libxcb and libX11 before the display number is known; python-xlib
    matches only an entry naming the host and the number, so one is added once it is known.
    """

    def counted(data: bytes) -> bytes:
        return struct.pack(">H", len(data)) + data

    family_wild, family_local = 0xFFFF, 0x0100
    entries = [(family_wild, b"", b"")]
    if display_number is not None:
        entries.append((family_local, socket.gethostname().encode(), display_number.encode()))
    data = b"".join(
        struct.pack(">H", family)
        + counted(address)
        + counted(number)
        + counted(b"MIT-MAGIC-COOKIE-1")
        + counted(cookie)
        for family, address, number in entries
    )
    path.write_bytes(data)
    path.chmod(0o600)


@dataclass(frozen=True)
class XDisplay:
    """Where X clients connect: a display name and the cookie file that admits them (None: the caller's)."""

    name: str
    xauthority: str | None = None
    owned: bool = False
    """Whether pixelpilot started this server (and may therefore do anything to it)."""

    def client_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A minimal environment for an X client of this display: no variable of the host session leaks in."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "DISPLAY": self.name,
        }
        xauthority = self.xauthority or os.environ.get("XAUTHORITY")
        if xauthority:
            env["XAUTHORITY"] = xauthority
        if extra:
            env.update(extra)
        return env

    @contextmanager
    def authorized(self) -> Iterator[None]:
        """Let an in-process client (libxcb, libX11) open this display with its cookie.

        Those libraries read the cookie file's name from ``XAUTHORITY`` when connecting, so it is
        set for the moment of the connection only, under a lock, and restored at once.
        """
        if not self.xauthority:
            yield
            return
        with _XAUTH_LOCK:
            before = os.environ.get("XAUTHORITY")
            os.environ["XAUTHORITY"] = self.xauthority
            try:
                yield
            finally:
                if before is None:
                    os.environ.pop("XAUTHORITY", None)
                else:
                    os.environ["XAUTHORITY"] = before


def run_client(
    display: XDisplay, argv: Sequence[str], *, timeout_s: float = _X_TIMEOUT_S, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run one short X client program (xdotool, xwininfo, xmodmap) against display."""
    try:
        done = subprocess.run(
            list(argv),
            env=display.client_env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise EnvError(f"{argv[0]} did not answer within {timeout_s:g} s on display {display.name}") from None
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise EnvError(f"{Path(argv[0]).name} failed on display {display.name}: {detail[-1] if detail else done}")
    return done


# -- processes ------------------------------------------------------------------------------------


def marked_processes(marker: str, variable: str = MARKER_ENV) -> list[int]:
    """Live processes (zombies excluded) whose environment holds ``variable=marker``. Linux only: reads /proc."""
    tag = f"{variable}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if stat[stat.rindex(")") + 2] in "ZX":
                continue
            if tag in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def end_processes(
    groups: Sequence[subprocess.Popen[bytes]] = (),
    marker: str | None = None,
    variable: str = MARKER_ENV,
    grace_s: float = 2.0,
) -> None:
    """End process groups we started and every process carrying marker: SIGTERM, then SIGKILL after grace_s."""

    def targets() -> list[int]:
        pids = [p.pid for p in groups if p.poll() is None]
        if marker is not None:
            pids += [pid for pid in marked_processes(marker, variable) if pid not in pids]
        return pids

    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = targets()
        if not pids:
            break
        for pid in pids:
            with suppress(ProcessLookupError, PermissionError):
                if any(p.pid == pid for p in groups):
                    os.killpg(pid, sig)
                else:
                    os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.02)
    for process in groups:
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)  # reap: a killed child we never wait for stays a zombie


# -- the server -----------------------------------------------------------------------------------


@dataclass
class XServer:
    """A private Xvfb (plus a window manager) started on a free display and torn down by ``stop``.

    ``marker`` tags every process started for it (see ``MARKER_ENV``); pass the environment's own
    so that one sweep ends the server and the applications together.
    """

    size: tuple[int, int] = (1280, 800)
    window_manager: Sequence[str] | None = DEFAULT_WINDOW_MANAGER
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    start_timeout_s: float = 15.0
    _server: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _wm: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _dir: Path | None = field(default=None, init=False, repr=False)
    _display: XDisplay | None = field(default=None, init=False, repr=False)

    @property
    def display(self) -> XDisplay:
        if self._display is None:
            raise EnvError("the X server is not running: call start() first")
        return self._display

    @property
    def pid(self) -> int | None:
        return self._server.pid if self._server is not None else None

    @property
    def alive(self) -> bool:
        return self._server is not None and self._server.poll() is None

    def start(self) -> XDisplay:
        """Start Xvfb and the window manager; return the display once a client can use it."""
        if self.alive:
            return self.display
        self.stop()
        xvfb = require_program("Xvfb")
        self._dir = Path(tempfile.mkdtemp(prefix="pixelpilot-x-"))
        xauthority = self._dir / "Xauthority"
        cookie = secrets.token_bytes(16)
        write_xauthority(xauthority, cookie)
        width, height = self.size
        argv = [xvfb, "-screen", "0", f"{width}x{height}x24", "-auth", str(xauthority)]
        argv += ["-nolisten", "tcp", "-noreset", "-dpi", "96"]
        try:
            number = self._launch_server(argv)
            write_xauthority(xauthority, cookie, number)
            self._display = XDisplay(f":{number}", str(xauthority), owned=True)
            if self.window_manager:
                self._start_window_manager()
        except BaseException:
            self.stop()
            raise
        return self._display

    def _launch_server(self, argv: list[str]) -> str:
        assert self._dir is not None
        read_end, write_end = os.pipe()
        log = (self._dir / "xvfb.log").open("wb")
        try:
            self._server = subprocess.Popen(
                [*argv, "-displayfd", str(write_end)],
                pass_fds=(write_end,),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), MARKER_ENV: self.marker},
                start_new_session=True,
            )
        finally:
            os.close(write_end)
            log.close()
        try:
            answer = b""
            deadline = time.monotonic() + self.start_timeout_s
            while not answer.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([read_end], [], [], left)[0]:
                    raise EnvError(f"Xvfb did not start within {self.start_timeout_s:g} s")
                chunk = os.read(read_end, 32)
                if not chunk:
                    tail = (self._dir / "xvfb.log").read_text(errors="replace").strip().splitlines()[-3:]
                    raise EnvError(f"Xvfb exited at start: {' / '.join(tail) or 'no message'}")
                answer += chunk
        finally:
            os.close(read_end)
        return answer.decode().strip()

    def _start_window_manager(self) -> None:
        assert self._dir is not None and self.window_manager
        program = require_program(self.window_manager[0])
        home = self._dir / "wm-home"  # a fresh HOME: the WM never reads the user's own configuration
        home.mkdir()
        (home / ".jwmrc").write_text(JWM_CONFIG)
        self._wm = subprocess.Popen(
            [program, *self.window_manager[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self._dir / "wm.log").open("wb"),
            env=self.display.client_env({"HOME": str(home), MARKER_ENV: self.marker}),
            start_new_session=True,
        )
        # EWMH window managers announce themselves on the root window once they manage it.
        deadline = time.monotonic() + self.start_timeout_s
        while "window id" not in run_client(self.display, ["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"]).stdout:
            if self._wm.poll() is not None:
                raise EnvError(f"window manager {self.window_manager[0]!r} exited at start")
            if time.monotonic() > deadline:
                raise EnvError(f"window manager {self.window_manager[0]!r} did not start in time")
            time.sleep(0.02)

    def stop(self) -> None:
        """End the window manager, the server and every process carrying this server's marker."""
        groups = [p for p in (self._wm, self._server) if p is not None]
        end_processes(groups, self.marker)
        self._server = self._wm = None
        self._display = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


# -- windows and the keyboard map -----------------------------------------------------------------

_GEOMETRY = re.compile(
    r"Absolute upper-left X:\s+(-?\d+).*?Absolute upper-left Y:\s+(-?\d+).*?Width:\s+(\d+).*?Height:\s+(\d+)", re.S
)


def find_windows(
    display: XDisplay, *, name: str | None = None, window_class: str | None = None, pid: int | None = None
) -> list[int]:
    """Ids of the visible windows matching every given criterion (``name``/``window_class`` are regexes)."""
    argv = [require_program("xdotool"), "search", "--onlyvisible"]
    if name is not None:
        argv += ["--name", name]
    if window_class is not None:
        argv += ["--class", window_class]
    if pid is not None:
        argv += ["--pid", str(pid)]
    if len(argv) == 3:
        raise ValueError("give at least one of name, window_class, pid")
    done = run_client(display, argv, check=False)
    return [int(line) for line in done.stdout.split() if line.isdigit()]


def wait_for_window(display: XDisplay, timeout_s: float = 15.0, **criteria: object) -> int:
    """The first visible window matching criteria (see ``find_windows``), polling up to timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = find_windows(display, **criteria)  # type: ignore[arg-type]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise EnvError(f"no window matching {criteria} appeared within {timeout_s:g} s")
        time.sleep(0.05)


def window_geometry(display: XDisplay, window: int) -> tuple[int, int, int, int]:
    """A window's client area on the screen, as (x, y, width, height) in pixels (decorations excluded)."""
    out = run_client(display, [require_program("xwininfo"), "-id", str(window)]).stdout
    match = _GEOMETRY.search(out)
    if match is None:
        raise EnvError(f"xwininfo gave no geometry for window {window}")
    x, y, width, height = (int(v) for v in match.groups())
    return x, y, width, height


class Keymap:
    """Makes any Unicode character typeable by binding it to a spare keycode before it is typed.

    xdotool can type a character missing from the keyboard map only by remapping a key, pressing
    it and restoring the map at once; clients that read the map after the restore see the wrong
    key, so such characters get lost (measured with GTK and Tk). Binding them ahead of time, and
    leaving them bound, removes the race: clients refresh their map before the keys arrive.
    """

    def __init__(self, display: XDisplay) -> None:
        self.display = display
        self._spare: list[int] | None = None
        self._bound: dict[str, int] = {}

    @staticmethod
    def needs_binding(char: str) -> bool:
        """Whether a character lies outside the US keyboard map every X server starts with (which has Return, Tab)."""
        return not (" " <= char <= "~" or char in "\r\t")

    def capacity(self) -> int:
        """How many extra characters can be bound at once."""
        return len(self._spare_keycodes())

    def _spare_keycodes(self) -> list[int]:
        if self._spare is None:
            table = run_client(self.display, [require_program("xmodmap"), "-pke"]).stdout
            self._spare = [int(line.split()[1]) for line in table.splitlines() if line.strip().endswith("=")]
        return self._spare

    def bind(self, chars: str) -> None:
        """Bind every character of chars that needs it (at most ``capacity()`` new ones per call)."""
        wanted = list(dict.fromkeys(c for c in chars if self.needs_binding(c) and c not in self._bound))
        if not wanted:
            return
        spare = self._spare_keycodes()
        keep = set(chars)
        free = [code for code in spare if code not in self._bound.values()]
        for char in [c for c in self._bound if c not in keep]:
            if len(free) >= len(wanted):
                break
            free.append(self._bound.pop(char))
        if len(free) < len(wanted):
            raise EnvError(f"cannot bind {len(wanted)} characters at once: {len(free)} spare keycodes")
        expressions = []
        for char, code in zip(wanted, free[: len(wanted)], strict=True):
            keysym = f"U{ord(char):04X}"
            expressions += ["-e", f"keycode {code} = {keysym} {keysym}"]
            self._bound[char] = code
        run_client(self.display, [require_program("xmodmap"), *expressions])

    def forget(self) -> None:
        """Drop what is known of the server's map (after the server was restarted)."""
        self._spare = None
        self._bound.clear()


class Pointer:
    """The mouse of one display, driven in process through the XTEST extension.

    A mouse action is a handful of requests on one open connection (well under a millisecond)
    where an xdotool process costs about 100 ms to start, which would dominate every click.
    """

    def __init__(self, display: XDisplay) -> None:
        try:
            with display.authorized():
                self._display = xlib_display.Display(display.name)
        except (xlib_error.DisplayError, OSError) as failure:
            raise EnvError(f"cannot open display {display.name} for input: {failure}") from None
        if not self._display.has_extension("XTEST"):
            self._display.close()
            raise EnvError(f"display {display.name} has no XTEST extension: input cannot be simulated")
        self._root = self._display.screen().root
        self._errors = (xlib_error.ConnectionClosedError, xlib_error.XError, OSError)

    @contextmanager
    def _requests(self) -> Iterator[None]:
        """Send requests and wait until the server has carried them out; a dead server is an EnvError."""
        try:
            yield
            self._display.sync()
        except self._errors as failure:
            raise EnvError(f"the X server stopped answering: {failure}") from None

    def position(self) -> tuple[int, int]:
        with self._requests():
            reply = self._root.query_pointer()
        return int(reply.root_x), int(reply.root_y)

    def move(self, x: int, y: int) -> None:
        with self._requests():
            xtest.fake_input(self._display, X.MotionNotify, x=x, y=y)

    def press(self, button: int) -> None:
        with self._requests():
            xtest.fake_input(self._display, X.ButtonPress, button)

    def release(self, button: int) -> None:
        with self._requests():
            xtest.fake_input(self._display, X.ButtonRelease, button)

    def click(self, button: int, count: int = 1, interval_s: float = 0.06) -> None:
        """count clicks, interval_s apart: close enough for programs to see double and triple clicks."""
        for i in range(count):
            if i:
                time.sleep(interval_s)
            with self._requests():
                xtest.fake_input(self._display, X.ButtonPress, button)
                xtest.fake_input(self._display, X.ButtonRelease, button)

    def close(self) -> None:
        with suppress(*self._errors):
            self._display.close()
