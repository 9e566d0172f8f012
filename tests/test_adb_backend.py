"""The adb device: the exact command lines it sends (pure builders), what it reads back (pure parsers),
the Android key names, and a clear EnvError when adb or a phone is missing (real adb, real server)."""

from __future__ import annotations

import shutil
import socket
import time

import pytest

from pixelpilot.envs.android import InstructionTask
from pixelpilot.envs.android.adb import (
    AdbDevice,
    adb_prefix,
    devices_command,
    keyevent_command,
    launch_command,
    long_press_command,
    packages_command,
    parse_devices,
    parse_packages,
    parse_screen_size,
    quote_input_text,
    resolve_package,
    screen_size_command,
    screencap_command,
    swipe_command,
    tap_command,
    text_commands,
)
from pixelpilot.envs.android.env import AndroidEnv
from pixelpilot.envs.android.keys import android_key
from pixelpilot.envs.core.actions import MobileAction
from pixelpilot.errors import ActionError, EnvError

P = adb_prefix("adb", "emulator-5554")


def test_prefix_names_server_port_and_device() -> None:
    assert adb_prefix() == ["adb"]
    assert adb_prefix("/opt/adb", "R58M123", 5040) == ["/opt/adb", "-P", "5040", "-s", "R58M123"]
    assert devices_command(adb_prefix(server_port=5040)) == ["adb", "-P", "5040", "devices"]


def test_pointer_commands() -> None:
    assert tap_command(P, 540, 1200) == ["adb", "-s", "emulator-5554", "shell", "input", "tap", "540", "1200"]
    assert swipe_command(P, 540, 1800, 540, 600, 300) == [
        *P,
        *("shell", "input", "swipe", "540", "1800", "540", "600", "300"),
    ]
    # A long press is a swipe that stays in place for the duration.
    assert long_press_command(P, 100, 200, 800) == [*P, "shell", "input", "swipe", "100", "200", "100", "200", "800"]
    assert swipe_command(P, 1, 2, 3, 4, 0)[-1] == "1"  # input swipe needs a positive duration


def test_screen_commands() -> None:
    assert screencap_command(P) == [*P, "exec-out", "screencap", "-p"]
    assert screen_size_command(P) == [*P, "shell", "wm", "size"]
    assert packages_command(P) == [*P, "shell", "pm", "list", "packages"]
    assert launch_command(P, "com.android.settings") == [
        *P,
        *("shell", "monkey", "-p", "com.android.settings", "-c", "android.intent.category.LAUNCHER", "1"),
    ]


def test_key_commands_use_android_key_names() -> None:
    assert keyevent_command(P, android_key("Enter")) == [*P, "shell", "input", "keyevent", "KEYCODE_ENTER"]
    assert android_key("KEYCODE_BACK") == "KEYCODE_BACK"
    assert android_key("backspace") == android_key("Delete") == android_key("67") == "KEYCODE_DEL"
    assert android_key("volume up") == "KEYCODE_VOLUME_UP"
    assert android_key("a") == "KEYCODE_A" and android_key("7") == "KEYCODE_7" and android_key(" ") == "KEYCODE_SPACE"
    for bad in ("ctrl+a", "KEYCODE_NOPE", "999", ""):
        with pytest.raises(ActionError, match="Android key"):
            android_key(bad)


def test_text_is_quoted_for_the_device_shell() -> None:
    # Spaces become %s (input's own escape); single quotes keep the shell off everything else.
    assert quote_input_text("hello world") == "'hello%sworld'"
    assert quote_input_text("it's $HOME & (more); `x`") == "'it'\\''s%s$HOME%s&%s(more);%s`x`'"
    assert text_commands(P, "two\nlines") == [
        [*P, "shell", "input", "text", "'two'"],
        [*P, "shell", "input", "keyevent", "KEYCODE_ENTER"],
        [*P, "shell", "input", "text", "'lines'"],
    ]
    assert text_commands(P, "") == []
    with pytest.raises(ActionError, match="ASCII"):
        text_commands(P, "café")


def test_parsers() -> None:
    output = "List of devices attached\nemulator-5554\tdevice\nR58M123\tunauthorized\n\n"
    assert parse_devices(output) == [("emulator-5554", "device"), ("R58M123", "unauthorized")]
    assert parse_devices("* daemon started successfully\nList of devices attached\n\n") == []
    assert parse_screen_size("Physical size: 1080x2400\n") == (1080, 2400)
    assert parse_screen_size("Physical size: 1080x2400\nOverride size: 720x1600\n") == (720, 1600)
    with pytest.raises(EnvError, match="screen size"):
        parse_screen_size("error: closed")
    assert parse_packages("package:com.android.settings\npackage:com.android.chrome\n") == [
        "com.android.settings",
        "com.android.chrome",
    ]


def test_app_names_resolve_to_installed_packages() -> None:
    installed = ["com.android.settings", "com.android.contacts", "com.android.chrome", "org.example.todo"]
    assert resolve_package("Settings", installed) == "com.android.settings"
    assert resolve_package("contacts", installed) == "com.android.contacts"  # the AOSP one when Google's is absent
    assert resolve_package("Chrome", installed) == "com.android.chrome"
    assert resolve_package("com.android.chrome", installed) == "com.android.chrome"
    assert resolve_package("todo", installed) == "org.example.todo"
    assert resolve_package("Camera", installed) is None


def test_device_refuses_text_adb_cannot_type_before_running_anything() -> None:
    device = AdbDevice(adb_path="/nonexistent/adb")
    with pytest.raises(ActionError, match="ASCII"):
        device.check(MobileAction(action="type", text="naïve"))


def test_missing_adb_is_a_clear_env_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    with pytest.raises(EnvError, match="adb not found"):
        AndroidEnv(InstructionTask(instruction="Open Settings"), device="adb", device_options={"adb_path": "/no/adb"})
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no adb anywhere
    with pytest.raises(EnvError, match="install Android platform-tools"):
        AndroidEnv(InstructionTask(instruction="Open Settings"), device="adb")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_no_attached_device_is_a_clear_env_error_and_the_server_it_started_is_stopped() -> None:
    assert shutil.which("adb"), "adb must be installed (Debian: apt-get install adb; scripts/setup.sh does it)"
    port = _free_port()  # a private adb server: it can see no phone, and no one else's server is touched
    with pytest.raises(EnvError, match="no Android device attached"):
        AndroidEnv(InstructionTask(instruction="Open Settings"), device="adb", device_options={"server_port": port})
    deadline = time.monotonic() + 10
    while _listening(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _listening(port), "the adb server started for the check outlived it"
