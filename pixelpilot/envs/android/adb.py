"""A real Android phone or emulator as an AndroidDevice, driven over adb.

The seam that makes this testable without a phone: every adb command line is built by a pure
function below (``tap_command``, ``text_command``...), and parsed output goes through pure
parsers (``parse_devices``, ``parse_screen_size``...). Tests check those functions byte for byte;
``AdbDevice`` only runs their lists with ``subprocess`` and turns failures into ``EnvError``.

What it sends, per ``mobile_use`` action:

- click: ``input tap X Y``; long_press: ``input swipe X Y X Y MS`` (a swipe in place held MS ms);
  swipe: ``input swipe X1 Y1 X2 Y2 MS``;
- type: ``input text 'TEXT'`` (spaces as ``%s``, quoted for the device shell; newlines become
  ``KEYCODE_ENTER``; ``input text`` cannot type non-ASCII, which is refused as an ActionError);
- key and system_button: ``input keyevent KEYCODE_*`` (Back 4, Home 3, Menu 82, Enter 66);
- open: the app name becomes a package (a table of common apps, then the installed packages),
  started with ``monkey -p PACKAGE -c android.intent.category.LAUNCHER 1``;
- screenshots: ``exec-out screencap -p`` (PNG on stdout).

If the adb server was not running, the device started it and ``close()`` stops it again.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from pixelpilot.envs.android.base import AndroidDevice
from pixelpilot.envs.core.actions import MobileAction
from pixelpilot.errors import ActionError, EnvError

DEFAULT_SERVER_PORT = 5037
SYSTEM_BUTTON_KEYS = {
    "Back": "KEYCODE_BACK",
    "Home": "KEYCODE_HOME",
    "Menu": "KEYCODE_MENU",
    "Enter": "KEYCODE_ENTER",
}

APP_PACKAGES: dict[str, tuple[str, ...]] = {
    "settings": ("com.android.settings",),
    "contacts": ("com.google.android.contacts", "com.android.contacts"),
    "phone": ("com.google.android.dialer", "com.android.dialer"),
    "dialer": ("com.google.android.dialer", "com.android.dialer"),
    "messages": ("com.google.android.apps.messaging", "com.android.messaging", "com.android.mms"),
    "sms": ("com.google.android.apps.messaging", "com.android.messaging", "com.android.mms"),
    "clock": ("com.google.android.deskclock", "com.android.deskclock"),
    "alarm": ("com.google.android.deskclock", "com.android.deskclock"),
    "calendar": ("com.google.android.calendar", "com.android.calendar"),
    "camera": ("com.android.camera2", "com.google.android.GoogleCamera", "com.android.camera"),
    "chrome": ("com.android.chrome",),
    "browser": ("com.android.chrome", "org.chromium.chrome", "com.android.browser"),
    "files": ("com.google.android.documentsui", "com.android.documentsui"),
    "gallery": ("com.google.android.apps.photos", "com.android.gallery3d"),
    "photos": ("com.google.android.apps.photos", "com.android.gallery3d"),
    "calculator": ("com.google.android.calculator", "com.android.calculator2"),
    "gmail": ("com.google.android.gm",),
    "email": ("com.google.android.gm", "com.android.email"),
    "maps": ("com.google.android.apps.maps",),
    "youtube": ("com.google.android.youtube",),
    "play store": ("com.android.vending",),
    "keep": ("com.google.android.keep",),
    "notes": ("com.google.android.keep",),
    "recorder": ("com.android.soundrecorder", "com.google.android.apps.recorder"),
}
"""App names a model writes -> the packages that provide them, preferred first."""


# -- the command builders (pure) -------------------------------------------------------------------


def adb_prefix(adb: str = "adb", serial: str | None = None, server_port: int | None = None) -> list[str]:
    """``adb [-P PORT] [-s SERIAL]``: the start of every command for one device on one server."""
    prefix = [adb]
    if server_port is not None:
        prefix += ["-P", str(server_port)]
    if serial is not None:
        prefix += ["-s", serial]
    return prefix


def devices_command(prefix: Sequence[str]) -> list[str]:
    return [*prefix, "devices"]


def kill_server_command(prefix: Sequence[str]) -> list[str]:
    return [*prefix, "kill-server"]


def screen_size_command(prefix: Sequence[str]) -> list[str]:
    return [*prefix, "shell", "wm", "size"]


def screencap_command(prefix: Sequence[str]) -> list[str]:
    return [*prefix, "exec-out", "screencap", "-p"]


def tap_command(prefix: Sequence[str], x: int, y: int) -> list[str]:
    return [*prefix, "shell", "input", "tap", str(int(x)), str(int(y))]


def swipe_command(prefix: Sequence[str], x1: int, y1: int, x2: int, y2: int, duration_ms: int) -> list[str]:
    return [*prefix, "shell", "input", "swipe", *(str(int(v)) for v in (x1, y1, x2, y2)), str(max(int(duration_ms), 1))]


def long_press_command(prefix: Sequence[str], x: int, y: int, duration_ms: int) -> list[str]:
    """A long press is a swipe that does not move: the finger stays down for duration_ms."""
    return swipe_command(prefix, x, y, x, y, duration_ms)


def keyevent_command(prefix: Sequence[str], keycode: str) -> list[str]:
    return [*prefix, "shell", "input", "keyevent", keycode]


def quote_input_text(text: str) -> str:
    """One line of text as ``input text`` must receive it through the device's shell.

    ``input`` reads ``%s`` as a space; single quotes keep the shell from reading anything else.
    """
    if not text.isascii() or any(not ch.isprintable() for ch in text):
        raise ActionError("adb's 'input text' types printable ASCII only; this text has other characters")
    return "'" + text.replace(" ", "%s").replace("'", "'\\''") + "'"


def text_commands(prefix: Sequence[str], text: str) -> list[list[str]]:
    """The commands that type text: ``input text`` per line, ``KEYCODE_ENTER`` between lines."""
    commands: list[list[str]] = []
    for i, line in enumerate(text.split("\n")):
        if i:
            commands.append(keyevent_command(prefix, "KEYCODE_ENTER"))
        if line:
            commands.append([*prefix, "shell", "input", "text", quote_input_text(line)])
    return commands


def packages_command(prefix: Sequence[str]) -> list[str]:
    return [*prefix, "shell", "pm", "list", "packages"]


def launch_command(prefix: Sequence[str], package: str) -> list[str]:
    """Start an app's launcher activity, as tapping its icon does."""
    return [*prefix, "shell", "monkey", "-p", package, "-c", "android.intent.category.LAUNCHER", "1"]


# -- the output parsers (pure) ---------------------------------------------------------------------


def parse_devices(output: str) -> list[tuple[str, str]]:
    """(serial, state) pairs from ``adb devices`` (state: device, offline, unauthorized...)."""
    found = []
    for line in output.splitlines():
        if not line.strip() or line.startswith(("List of devices", "*")):
            continue
        parts = line.split()
        if len(parts) >= 2:
            found.append((parts[0], parts[1]))
    return found


def parse_screen_size(output: str) -> tuple[int, int]:
    """(width, height) from ``wm size``; an override (``wm size 720x1280``) wins over the physical size."""
    sizes = dict(re.findall(r"(Physical|Override) size:\s*(\d+x\d+)", output))
    size = sizes.get("Override") or sizes.get("Physical")
    if size is None:
        raise EnvError(f"cannot read the screen size from 'wm size': {output.strip()[:200]!r}")
    width, height = size.split("x")
    return int(width), int(height)


def parse_packages(output: str) -> list[str]:
    """Package names from ``pm list packages`` (lines ``package:com.example``)."""
    return [line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith("package:")]


def resolve_package(name: str, installed: Sequence[str]) -> str | None:
    """The package an app name means on a device with these packages, or None.

    A package name is taken as is when installed; a common app name goes through ``APP_PACKAGES``;
    otherwise the one installed package whose name holds the app's name (e.g. "chrome").
    """
    wanted = " ".join(name.strip().lower().split())
    if wanted in installed:
        return wanted
    exact = [pkg for pkg in installed if pkg.lower() == wanted]
    if exact:
        return exact[0]
    for package in APP_PACKAGES.get(wanted, ()):
        if package in installed:
            return package
    compact = wanted.replace(" ", "")
    if not compact:
        return None
    matches = sorted(
        pkg for pkg in installed if compact in pkg.lower().rsplit(".", 2)[-1] or pkg.lower().endswith(compact)
    )
    return matches[0] if len(matches) == 1 else None


# -- the device ------------------------------------------------------------------------------------


def _server_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class AdbDevice(AndroidDevice):
    """A phone or emulator reached with ``adb``: ``serial`` picks one when several are attached.

    After an action the screen is captured until two captures agree (at most ``settle_timeout_s``),
    so a step waits for animations as long as they run and no longer.
    """

    def __init__(
        self,
        serial: str | None = None,
        adb_path: str = "adb",
        server_port: int | None = None,
        command_timeout_s: float = 20.0,
        settle_timeout_s: float = 3.0,
    ) -> None:
        self.adb_path = adb_path
        self.serial = serial
        self.server_port = server_port
        self.command_timeout_s = command_timeout_s
        self.settle_timeout_s = settle_timeout_s
        self._adb: str | None = None
        self._size: tuple[int, int] | None = None
        self._packages: list[str] | None = None
        self._owns_server = False
        self._healthy = False
        self._frame: np.ndarray | None = None

    # -- running commands --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self.server_port is not None:
            return self.server_port
        return int(os.environ.get("ANDROID_ADB_SERVER_PORT", DEFAULT_SERVER_PORT))

    def _prefix(self, with_serial: bool = True) -> list[str]:
        if self._adb is None:
            found = shutil.which(self.adb_path)
            if found is None:
                raise EnvError(
                    f"adb not found ({self.adb_path!r} is not an executable on PATH); install Android "
                    "platform-tools (Debian: apt-get install adb) or pass adb_path"
                )
            self._adb = found
        return adb_prefix(self._adb, self.serial if with_serial else None, self.server_port)

    def _run(self, command: list[str]) -> bytes:
        try:
            done = subprocess.run(command, capture_output=True, timeout=self.command_timeout_s, check=False)
        except subprocess.TimeoutExpired:
            self._healthy = False
            raise EnvError(f"adb did not answer within {self.command_timeout_s}s: {' '.join(command[1:])}") from None
        except OSError as error:
            self._healthy = False
            raise EnvError(f"could not run adb: {error}") from None
        if done.returncode != 0:
            self._healthy = False
            message = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
            raise EnvError(f"adb {' '.join(command[1:])} failed: {message[-1] if message else done.returncode}")
        return done.stdout

    def _connect(self) -> None:
        """Find adb and exactly one device (``serial`` when given), and read its screen size."""
        prefix = self._prefix(with_serial=False)
        if not _server_listening(self.port):
            self._owns_server = True
        try:
            self._find_device(prefix)
        except EnvError:
            self.close()  # no device: stop the server this call started rather than leave it behind
            raise

    def _find_device(self, prefix: list[str]) -> None:
        attached = parse_devices(self._run(devices_command(prefix)).decode(errors="replace"))
        ready = [serial for serial, state in attached if state == "device"]
        if self.serial is None:
            if not ready:
                others = ", ".join(f"{s} ({state})" for s, state in attached)
                raise EnvError(
                    "no Android device attached: 'adb devices' lists "
                    + (f"only {others}" if others else "none")
                    + "; connect a phone with USB debugging on or start an emulator"
                )
            if len(ready) > 1:
                raise EnvError(f"several Android devices are attached ({', '.join(ready)}); pass serial=")
            self.serial = ready[0]
        elif self.serial not in ready:
            raise EnvError(f"Android device {self.serial!r} is not attached and ready (adb devices: {attached})")
        self._size = parse_screen_size(self._run(screen_size_command(self._prefix())).decode(errors="replace"))
        self._healthy = True

    # -- AndroidDevice -----------------------------------------------------------------------------

    @property
    def screen_size(self) -> tuple[int, int]:
        if self._size is None:
            self._connect()
        assert self._size is not None
        return self._size

    @property
    def layout_size(self) -> tuple[float, float]:
        width, height = self.screen_size
        return float(width), float(height)

    @property
    def healthy(self) -> bool:
        return self._healthy

    def start(self) -> None:
        if not self._healthy:
            self._connect()

    def check(self, action: MobileAction) -> None:
        if action.action == "type":
            text_commands(["adb"], action.text or "")
        elif action.action == "open":
            self._package(action.text or "")

    def _package(self, name: str) -> str:
        if self._packages is None:
            self._packages = parse_packages(self._run(packages_command(self._prefix())).decode(errors="replace"))
        package = resolve_package(name, self._packages)
        if package is None:
            raise ActionError(f"no app named {name!r} on this device")
        return package

    def tap(self, x: int, y: int) -> None:
        self._run(tap_command(self._prefix(), x, y))

    def long_press(self, x: int, y: int, seconds: float) -> None:
        self._run(long_press_command(self._prefix(), x, y, round(seconds * 1000)))

    def swipe(self, x1: int, y1: int, x2: int, y2: int, seconds: float) -> None:
        self._run(swipe_command(self._prefix(), x1, y1, x2, y2, round(seconds * 1000)))

    def type_text(self, text: str) -> None:
        for command in text_commands(self._prefix(), text):
            self._run(command)

    def key(self, keycode: str) -> None:
        self._run(keyevent_command(self._prefix(), keycode))

    def system_button(self, button: str) -> None:
        if button not in SYSTEM_BUTTON_KEYS:
            raise ActionError(f"unknown system button {button!r}; expected one of {', '.join(SYSTEM_BUTTON_KEYS)}")
        self._run(keyevent_command(self._prefix(), SYSTEM_BUTTON_KEYS[button]))

    def open_app(self, name: str) -> None:
        self._run(launch_command(self._prefix(), self._package(name)))

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def _capture(self) -> np.ndarray:
        png = self._run(screencap_command(self._prefix()))
        try:
            image = Image.open(io.BytesIO(png)).convert("RGB")
        except (UnidentifiedImageError, OSError):
            raise EnvError("adb screencap returned no PNG image") from None
        width, height = self.screen_size
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)

    def settle(self) -> None:
        deadline = time.monotonic() + self.settle_timeout_s
        previous = self._capture()
        while time.monotonic() < deadline:
            frame = self._capture()
            if np.array_equal(frame, previous):
                break
            previous = frame
        self._frame = previous

    def screenshot(self) -> np.ndarray:
        frame, self._frame = self._frame, None
        return frame if frame is not None else self._capture()

    def close(self) -> None:
        """Stop the adb server if this device started it; the phone itself stays as it is."""
        if self._owns_server and self._adb is not None:
            self._owns_server = False
            subprocess.run(
                kill_server_command(adb_prefix(self._adb, None, self.server_port)),
                capture_output=True,
                timeout=self.command_timeout_s,
                check=False,
            )
        self._healthy = False
        self._frame = None
