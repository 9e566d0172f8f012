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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from Xlib import XK, X
from Xlib import display as xlib_display
from Xlib import error as xlib_error
from Xlib.ext import damage as xdamage
from Xlib.ext import xtest
from Xlib.protocol import event as xevent
from Xlib.xobject.drawable import Window

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
    """Run one short X client program (xdotool, xwininfo, xprop) against display."""
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
    so that one sweep ends the server and the applications together. ``server_args`` go to Xvfb
    after pixelpilot's own (``("-extension", "DAMAGE")`` stands up a server lacking DAMAGE, as a
    foreign one may).
    """

    size: tuple[int, int] = (1280, 800)
    window_manager: Sequence[str] | None = DEFAULT_WINDOW_MANAGER
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    start_timeout_s: float = 15.0
    server_args: Sequence[str] = ()
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
    def window_manager_pid(self) -> int | None:
        return self._wm.pid if self._wm is not None else None

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
        argv += ["-nolisten", "tcp", "-noreset", "-dpi", "96", *self.server_args]
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


def chunks_for(keysyms: Sequence[int], capacity: int, needs_binding: Callable[[int], bool]) -> list[list[int]]:
    """Split keysyms so that no piece holds more than capacity distinct ones that need a spare keycode."""
    pieces: list[list[int]] = []
    current: list[int] = []
    needed: set[int] = set()
    for keysym in keysyms:
        if needs_binding(keysym) and keysym not in needed:
            if len(needed) >= capacity:
                pieces.append(current)
                current, needed = [], set()
            needed.add(keysym)
        current.append(keysym)
    return [*pieces, current] if current else pieces


class Keymap:
    """The keysym -> keycode table of one display, binding keysyms it lacks (é on a US map, F13) to spare keycodes.

    A key missing from the map can only be sent by giving its keysym a keycode first. xdotool
    remaps a key, presses it and restores the map at once; clients that read the map after the
    restore see the wrong key, so such characters got lost (measured with GTK and Tk). Here a
    binding is made before its keys are sent and left in place, so every client refreshes its map
    before the keys arrive; a spare keycode is given to another keysym only when a later call needs
    it, and callers typing more distinct keysyms than there are spare keycodes split the text
    (``chunks_for``) and let the programs read each piece before binding the next.
    """

    def __init__(self, connection: xlib_display.Display) -> None:
        self._connection = connection
        first = connection.display.info.min_keycode
        rows = connection.get_keyboard_mapping(first, connection.display.info.max_keycode - first + 1)
        self._codes: dict[int, tuple[int, bool]] = {}
        for level in (0, 1):  # the first group, without then with shift: a key without shift wins
            for offset, row in enumerate(rows):
                if len(row) > level and row[level]:
                    self._codes.setdefault(row[level], (first + offset, level == 1))
        self._spare = [first + offset for offset, row in enumerate(rows) if not any(row)]
        self._bound: dict[int, int] = {}

    def capacity(self) -> int:
        """How many keysyms missing from the map can be bound at once."""
        return len(self._spare)

    def lacks(self, keysym: int) -> bool:
        """Whether the display's own map has no key for keysym (it then needs a spare keycode)."""
        return keysym not in self._codes

    def locate(self, keysym: int) -> tuple[int, bool]:
        """The keycode that sends keysym, and whether shift must be held for it."""
        if keysym in self._codes:
            return self._codes[keysym]
        if keysym in self._bound:
            return self._bound[keysym], False
        raise EnvError(f"keysym {keysym:#x} has no keycode: bind it first")

    def bind(self, keysyms: Sequence[int]) -> bool:
        """Give every keysym the map lacks a keycode (at most ``capacity()`` new ones per call); True if it changed."""
        wanted = list(dict.fromkeys(k for k in keysyms if self.lacks(k) and k not in self._bound))
        if not wanted:
            return False
        keep = set(keysyms)
        free = [code for code in self._spare if code not in self._bound.values()]
        for keysym in [k for k in self._bound if k not in keep]:
            if len(free) >= len(wanted):
                break
            free.append(self._bound.pop(keysym))
        if len(free) < len(wanted):
            raise EnvError(f"cannot bind {len(wanted)} keys at once: {len(free)} spare keycodes")
        self._remap([(code, keysym) for keysym, code in zip(wanted, free, strict=False)])
        self._bound.update((keysym, code) for keysym, code in zip(wanted, free, strict=False))
        return True

    def unbind_all(self) -> None:
        """Give the spare keycodes back (a display pixelpilot borrowed keeps its map as it was)."""
        bound, self._bound = self._bound, {}
        self._remap([(code, 0) for code in bound.values()])

    def _remap(self, assignments: Sequence[tuple[int, int]]) -> None:
        failure = xlib_error.CatchError()
        for code, keysym in assignments:  # both levels: the key sends keysym with and without shift
            self._connection.change_keyboard_mapping(code, [(keysym, keysym)], onerror=failure)
        self._connection.sync()
        if failure.get_error() is not None:
            raise EnvError(f"the X server refused a keyboard mapping change: {failure.get_error()}")


def _connect(display: XDisplay, purpose: str) -> xlib_display.Display:
    """A connection of this process to display, opened with its cookie; failing that, an EnvError."""
    try:
        with display.authorized():
            return xlib_display.Display(display.name)
    except (xlib_error.DisplayError, OSError) as failure:
        raise EnvError(f"cannot open display {display.name} for {purpose}: {failure}") from None


_X_ERRORS = (xlib_error.ConnectionClosedError, xlib_error.XError, OSError)
"""How a connection reports a server that died or refused a request."""


class _XTestClient:
    """An open connection to one display that sends input through the XTEST extension.

    An action is a handful of requests on this connection (about a millisecond) where an xdotool
    process per action costs 5 ms (a key) to over 100 ms (a click), as ``bench/desktop_env.py`` measures.
    """

    def __init__(self, display: XDisplay) -> None:
        self._display = _connect(display, "input")
        if not self._display.has_extension("XTEST"):
            self._display.close()
            raise EnvError(f"display {display.name} has no XTEST extension: input cannot be simulated")
        self._root = self._display.screen().root
        self._errors = _X_ERRORS

    @contextmanager
    def _requests(self) -> Iterator[None]:
        """Send requests and wait until the server has carried them out; a dead server is an EnvError."""
        try:
            yield
            self._display.sync()
            while self._display.pending_events():  # MappingNotify and the like: nobody reads them here
                self._display.next_event()
        except self._errors as failure:
            raise EnvError(f"the X server stopped answering: {failure}") from None

    def close(self) -> None:
        with suppress(*self._errors):
            self._display.close()


class DamageWatch:
    """Tells when anything was last drawn on one display's screen, from the server's DAMAGE extension.

    Waiting for a still screen this way takes no screenshot: the server reports drawing as it
    happens, on the root window, into whose pixels every window draws, so a wait ends
    ``quiet_s`` after the last drawing where comparing screenshots every 20 ms costs up to a poll
    interval more plus a grab (about 6 ms at 1280x800) per poll. Damage is reported at the
    coarsest level (one event when the damaged region turns non-empty) and emptied on every event,
    so a busy program costs one event per round trip, never one per drawing request. Whatever was
    drawn before an emptying is on the screen already, and whatever is drawn after it raises a
    new event: no drawing goes unseen.
    """

    def __init__(self, connection: xlib_display.Display) -> None:
        self._display = connection
        try:
            # python-xlib registers a copy of the event class, so events are told apart by their code.
            self._notify = connection.query_extension(xdamage.extname).first_event + xdamage.DamageNotifyCode
            self._display.damage_query_version()  # the protocol requires it before any other DAMAGE request
            self._damage = self._display.screen().root.damage_create(xdamage.DamageReportNonEmpty)
            self._display.damage_subtract(self._damage)  # a new damage object starts with the whole screen
            self._display.sync()
        except _X_ERRORS as failure:
            self.close()
            raise EnvError(f"the X server refused to report damage: {failure}") from None
        # poll, not select: in a process holding many files this connection's number may be over 1024.
        self._poll = select.poll()
        self._poll.register(self._display.fileno(), select.POLLIN)

    @classmethod
    def open(cls, display: XDisplay) -> DamageWatch | None:
        """A watch on display's screen, or None when its server has no DAMAGE extension (a foreign one may lack it)."""
        connection = _connect(display, "damage reports")
        if not connection.has_extension(xdamage.extname):
            with suppress(*_X_ERRORS):
                connection.close()
            return None
        return cls(connection)

    def wait_until_quiet(self, quiet_s: float, timeout_s: float) -> bool:
        """Return once nothing has been drawn for quiet_s, counted from the call; False if timeout_s ran out first.

        The quiet window starts at the call, not at the first drawing: a program may take a while
        to begin redrawing after input, and this grace is what waits for it.
        """
        start = time.monotonic()
        last, deadline = start, start + timeout_s
        while True:
            if self._take():
                last = time.monotonic()
            now = time.monotonic()
            if now - last >= quiet_s:
                return True
            if now >= deadline:
                return False
            self._poll.poll((min(last + quiet_s, deadline) - now) * 1000)

    def _take(self) -> bool:
        """Read the events that arrived (without blocking); whether any reported damage, which is then emptied."""
        damaged = False
        try:
            while self._display.pending_events():
                event = self._display.next_event()
                damaged = damaged or event.type & 0x7F == self._notify  # the top bit marks a SendEvent
            if damaged:
                self._display.damage_subtract(self._damage)
                self._display.flush()
        except _X_ERRORS as failure:
            raise EnvError(f"the X server stopped answering: {failure}") from None
        return damaged

    def close(self) -> None:
        with suppress(*_X_ERRORS):
            self._display.close()


class ClientPing:
    """Round trips through the programs that hold the input, by EWMH's ``_NET_WM_PING``.

    The server delivering an event is not the program having handled it. A program that lists
    ``_NET_WM_PING`` in its ``WM_PROTOCOLS`` answers a ping by sending it back to the root window, and
    it reads its events in order, so the answer proves it is done with every input event sent before
    the ping: what it saves for them is saved, and what it draws is drawn or about to be. GTK answers
    once everything queued before has been dispatched; Tk answers while handling its events in order
    (the shipped apps list the protocol, see ``apps/tkapp.py``). Programs that do not list it (xterm)
    are not pinged: the quiet window alone waits for them.
    """

    def __init__(self, connection: xlib_display.Display) -> None:
        self._display = connection
        self._root = connection.screen().root
        try:
            self._protocols = connection.intern_atom("WM_PROTOCOLS")
            self._ping = connection.intern_atom("_NET_WM_PING")
            self._wm_state = connection.intern_atom("WM_STATE")
            self._root.change_attributes(event_mask=X.SubstructureNotifyMask)  # answers are sent to the root
            connection.sync()
        except _X_ERRORS as failure:
            self.close()
            raise EnvError(f"the X server refused a ping watch: {failure}") from None
        self._poll = select.poll()
        self._poll.register(connection.fileno(), select.POLLIN)
        self._stamp = 0

    @classmethod
    def open(cls, display: XDisplay) -> ClientPing:
        return cls(_connect(display, "pings"))

    def ping_input_holders(self, timeout_s: float) -> bool:
        """Ping the programs holding the keyboard focus and under the pointer; False if one did not answer in time."""
        deadline = time.monotonic() + timeout_s
        try:
            windows = dict.fromkeys(w for w in (self._focus_client(), self._pointer_client()) if w is not None)
            return all([self._ping_client(window, deadline) for window in windows if self._answers_pings(window)])
        except xlib_error.BadWindow:  # a window closed meanwhile: its program has nothing more to handle
            return True
        except _X_ERRORS as failure:
            raise EnvError(f"the X server stopped answering: {failure}") from None

    def _focus_client(self) -> int | None:
        """The top-level client window holding the keyboard focus (the focus window or an ancestor with WM_STATE)."""
        window = self._display.get_input_focus().focus
        while isinstance(window, Window) and window.id != self._root.id:
            if self._is_client(window):
                return int(window.id)
            window = window.query_tree().parent
        return None

    def _pointer_client(self) -> int | None:
        """The top-level client window under the pointer (the first window with WM_STATE down from the root)."""
        window = self._root.query_pointer().child
        while window:
            if self._is_client(window):
                return int(window.id)
            window = window.query_pointer().child
        return None

    def _is_client(self, window: Window) -> bool:
        return window.get_property(self._wm_state, X.AnyPropertyType, 0, 0) is not None

    def _answers_pings(self, window: int) -> bool:
        protocols = self._display.create_resource_object("window", window).get_wm_protocols()
        return self._ping in (protocols or ())

    def _ping_client(self, window: int, deadline: float) -> bool:
        """Send one ping to window and wait for its answer until deadline."""
        self._drain()
        self._stamp = (self._stamp + 1) & 0xFFFFFFFF
        ping = xevent.ClientMessage(
            window=window, client_type=self._protocols, data=(32, [self._ping, self._stamp, window, 0, 0])
        )
        self._display.create_resource_object("window", window).send_event(ping, event_mask=0)
        self._display.flush()
        while True:
            if any(self._is_answer(event, window) for event in self._drain()):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._poll.poll(left * 1000)

    def _drain(self) -> list[object]:
        """The events that arrived (without blocking)."""
        events = []
        while self._display.pending_events():
            events.append(self._display.next_event())
        return events

    def _is_answer(self, event: object, window: int) -> bool:
        return (
            isinstance(event, xevent.ClientMessage)
            and event.client_type == self._protocols
            and list(event.data[1][:3]) == [self._ping, self._stamp, window]
        )

    def close(self) -> None:
        with suppress(*_X_ERRORS):
            self._display.close()


_BUTTONS_DOWN = X.Button1Mask | X.Button2Mask | X.Button3Mask | X.Button4Mask | X.Button5Mask
"""The pointer state bits of the buttons the core protocol reports (wheel buttons 6 and 7 have none)."""


class Pointer(_XTestClient):
    """The mouse of one display, driven in process through XTEST.

    The server carrying out a request to press or release a button is not the button event reaching its
    window: a window manager that focuses on click (JWM, like most) grabs the buttons of every window
    synchronously, so from a press on the server holds the pointer's events (the release among them) until
    the manager has handled the press (focused and raised the window) and let it through to the program.
    Keys are not held meanwhile: sent then, they reach the window that had the focus before the click,
    ahead of the press, and a text box the click was to focus loses them. ``wait_until_released`` is the
    round trip that proves the manager is done.
    """

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

    def wait_until_released(self, timeout_s: float) -> bool:
        """Return once the server holds no button down; False if timeout_s ran out first.

        The server updates the pointer state when it processes a button event, not when it queues one
        behind a grab, so no button down means every release sent has been carried out: a window manager
        holding the pointer has let it go, the press has been delivered, and any focus change the manager
        made before letting it go is in effect. Input sent next reaches the program after the press.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            with self._requests():
                down = self._root.query_pointer().mask & _BUTTONS_DOWN
            if not down:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)

    def click(self, button: int, count: int = 1, interval_s: float = 0.06) -> None:
        """count clicks, interval_s apart: close enough for programs to see double and triple clicks."""
        for i in range(count):
            if i:
                time.sleep(interval_s)
            with self._requests():
                xtest.fake_input(self._display, X.ButtonPress, button)
                xtest.fake_input(self._display, X.ButtonRelease, button)


class Keyboard(_XTestClient):
    """The keyboard of one display, driven in process through XTEST: keys are keysyms, never text.

    Shift is pressed around a keysym the map has only on a key's shifted level (upper case,
    ``+`` on a US map), as a person would; keysyms the map lacks are bound first (see ``Keymap``).
    """

    def __init__(self, display: XDisplay) -> None:
        super().__init__(display)
        self._borrowed = not display.owned
        try:
            with self._requests():
                self.keymap = Keymap(self._display)
        except EnvError:
            super().close()
            raise

    def bind(self, keysyms: Sequence[int]) -> bool:
        """Bind the keysyms the map lacks now; True if the map changed.

        A program may look keys up as it reads them off the wire, before it handles the map change
        read with them (Tk through its input method): keys sent right behind a change then come out
        as the keys bound before it (seen in CI on a loaded machine: the second piece of a long Greek
        text came out as the first piece's letters). A caller that can wait for the programs to
        answer a ping binds first, waits, then types.
        """
        with self._requests():
            return self.keymap.bind(keysyms)

    def press(self, keysyms: Sequence[int]) -> None:
        """Press keysyms in order and release them in reverse: a combination such as ctrl+shift+t."""
        with self._requests():
            self.keymap.bind(keysyms)
            codes: list[int] = []
            for keysym in keysyms:
                code, shifted = self.keymap.locate(keysym)
                codes += [c for c in ((self._shift(), code) if shifted else (code,)) if c not in codes]
            for code in codes:
                xtest.fake_input(self._display, X.KeyPress, code)
            for code in reversed(codes):
                xtest.fake_input(self._display, X.KeyRelease, code)

    def type(self, keysyms: Sequence[int], delay_ms: int = 0) -> None:
        """Press and release each keysym in turn, delay_ms apart (the server waits, not this process).

        At most ``keymap.capacity()`` distinct keysyms the map lacks may be typed in one call.
        """
        with self._requests():
            self.keymap.bind(keysyms)
            for i, keysym in enumerate(keysyms):
                code, shifted = self.keymap.locate(keysym)
                delay = delay_ms if i else 0
                if shifted:
                    xtest.fake_input(self._display, X.KeyPress, self._shift(), time=delay)
                    delay = 0
                xtest.fake_input(self._display, X.KeyPress, code, time=delay)
                xtest.fake_input(self._display, X.KeyRelease, code)
                if shifted:
                    xtest.fake_input(self._display, X.KeyRelease, self._shift())

    def _shift(self) -> int:
        if self.keymap.lacks(XK.XK_Shift_L):
            raise EnvError("the keyboard map has no Shift_L key: shifted characters cannot be typed")
        return self.keymap.locate(XK.XK_Shift_L)[0]

    def close(self) -> None:
        if self._borrowed:
            with suppress(*self._errors, EnvError):
                self.keymap.unbind_all()
        super().close()
