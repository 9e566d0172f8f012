"""WebEnv's browser options on real Chromium with pages from 127.0.0.1: a persistent profile, Playwright's storage
state, attaching over CDP, a headed browser on a private Xvfb, allow-list patterns, downloads and device presets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from pixelpilot.cli import _run_env, build_parser
from pixelpilot.envs import URLTask, WebEnv
from pixelpilot.envs.desktop.xserver import XServer
from pixelpilot.envs.web.browser import CHROMIUM_ARGS, MARKER_ENV, OriginPolicy, chromium_executable, live_processes
from pixelpilot.envs.web.devices import DEVICES
from pixelpilot.errors import ConfigError

if TYPE_CHECKING:
    from conftest import LocalServer

VIEWPORT = (320, 240)
BOX = "display:block;width:200px;height:40px;margin:0"
LOGIN_PAGE = f"""<!doctype html><html><body style="margin:0">
<button style="{BOX}" onclick="document.cookie = 'login=alice; max-age=3600; path=/';
  localStorage.setItem('theme', 'dark'); window.done = true">Log in</button>
<a id="report" style="{BOX}" href="/report.txt" download="report.txt">Report</a>
</body></html>"""
USER_PAGE = """<!doctype html><html><head><script>
document.cookie = "session=user; max-age=3600; path=/";
document.title = "Signed in";
</script></head><body>The user's own tab</body></html>"""


def row(env: WebEnv, index: int) -> list[int]:
    """The grid point of the index-th 40 px row of a test page."""
    return list(env.to_grid(100, index * 40 + 20))


def cookies(env: WebEnv) -> str:
    return env.page.evaluate("document.cookie")


@pytest.fixture(scope="module")
def login_url(http_server: LocalServer) -> str:
    (http_server.root / "report.txt").write_text("quarterly numbers\n")
    return http_server.page("login.html", LOGIN_PAGE)


@pytest.fixture
def task(login_url: str) -> URLTask:
    return URLTask(url=login_url, instruction="Log in.", check=lambda page: page.evaluate("window.done === true"))


def test_a_profile_dir_keeps_a_cookie_across_two_envs(
    task: URLTask, tmp_path: Path, no_browser_left: Callable[[int, str], None]
) -> None:
    profile = tmp_path / "profile"
    first = WebEnv(task, viewport=VIEWPORT, user_data_dir=profile)
    try:
        first.reset()
        assert first.browser.pid is not None
        no_browser_left(first.browser.pid, first.browser.marker)
        _, reward, *_ = first.step({"action": "left_click", "coordinate": row(first, 0)})
        assert reward == 1.0 and "login=alice" in cookies(first)
        first.reset()  # the profile persists across episodes by design; the episode's page replaces the old ones
        assert "login=alice" in cookies(first) and len(first.page.context.pages) == 1
    finally:
        first.close()
    second = WebEnv(task, viewport=VIEWPORT, user_data_dir=profile)
    try:
        second.reset()
        assert second.browser.pid is not None
        no_browser_left(second.browser.pid, second.browser.marker)
        assert "login=alice" in cookies(second)
        assert second.page.evaluate("localStorage.getItem('theme')") == "dark"
    finally:
        second.close()


def test_storage_state_round_trips(task: URLTask, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = WebEnv(task, viewport=VIEWPORT, save_storage_state=state)
    try:
        first.reset()
        first.step({"action": "left_click", "coordinate": row(first, 0)})
    finally:
        first.close()  # the episode ends: its state is saved
    saved = json.loads(state.read_text())
    assert [cookie["name"] for cookie in saved["cookies"]] == ["login"]
    assert {"name": "theme", "value": "dark"} in saved["origins"][0]["localStorage"]
    second = WebEnv(task, viewport=VIEWPORT, storage_state=state)
    try:
        for _ in range(2):  # every fresh context starts from it
            second.reset()
            assert "login=alice" in cookies(second)
            assert second.page.evaluate("localStorage.getItem('theme')") == "dark"
    finally:
        second.close()


@pytest.fixture
def user_chromium(tmp_path: Path, http_server: LocalServer) -> Iterator[tuple[str, subprocess.Popen[bytes], str]]:
    """A Chromium the user started with a remote-debugging port and their own tab; yields its CDP URL, process
    and that tab's URL, and ends it (and anything carrying its marker) afterwards."""
    user_url = http_server.page("user.html", USER_PAGE)
    profile, marker = tmp_path / "user-profile", uuid.uuid4().hex
    executable = chromium_executable()
    assert executable is not None
    argv = [executable, "--headless", "--remote-debugging-port=0", f"--user-data-dir={profile}", *CHROMIUM_ARGS]
    process = subprocess.Popen(
        [*argv, user_url],
        env={**os.environ, MARKER_ENV: marker},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert process.poll() is None and time.monotonic() < deadline, "Chromium did not open its debugging port"
            time.sleep(0.05)
        cdp_url = f"http://127.0.0.1:{port_file.read_text().split()[0]}"
        while [tab["title"] for tab in user_tabs(cdp_url)] != ["Signed in"]:  # its cookie is set
            assert time.monotonic() < deadline, "the user's tab did not load"
            time.sleep(0.05)
        yield cdp_url, process, user_url
    finally:
        for pid in live_processes(process.pid, marker):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)


def test_cdp_attaches_and_leaves_the_users_browser_running(
    task: URLTask, user_chromium: tuple[str, subprocess.Popen[bytes], str]
) -> None:
    cdp_url, process, user_url = user_chromium
    attached = WebEnv(task, viewport=VIEWPORT, cdp_url=cdp_url)
    try:
        attached.reset()
        assert attached.browser.pid is None and attached.browser.marker == ""  # not ours: never killed
        _, reward, terminated, *_ = attached.step({"action": "left_click", "coordinate": row(attached, 0)})
        assert (reward, terminated) == (1.0, True)
        assert "session=user" not in cookies(attached)  # a context of its own
    finally:
        attached.close()
    assert process.poll() is None and [tab["url"] for tab in user_tabs(cdp_url)] == [user_url]
    shared = WebEnv(task, viewport=VIEWPORT, cdp_url=cdp_url, cdp_default_context=True)
    try:
        shared.reset()
        assert "session=user" in cookies(shared)  # the user's own session
        assert len(user_tabs(cdp_url)) == 2
    finally:
        shared.close()
    assert process.poll() is None and [tab["url"] for tab in user_tabs(cdp_url)] == [user_url]


def user_tabs(cdp_url: str) -> list[dict[str, str]]:
    """The browser's page targets, as its DevTools HTTP endpoint lists them."""
    return [tab for tab in httpx.get(f"{cdp_url}/json/list", timeout=10).json() if tab["type"] == "page"]


WILD_PAGE = """<!doctype html><html><body>
<img src="{sub}/ok.png"><img src="{apex}/apex.png"><img src="{lookalike}/lookalike.png">
<img src="{suffixed}/suffixed.png"><img src="{https}/scheme.png"><img src="{port}/port.png">
</body></html>"""


def test_a_blocked_origin_stays_blocked_under_a_wildcard_pattern(
    http_server: LocalServer, other_server: LocalServer
) -> None:
    """``http://*.localhost:PORT`` admits subdomains at any depth (Chromium resolves them to 127.0.0.1) and
    nothing else: not the bare domain, a look-alike, a longer domain, another scheme or another port."""
    port = http_server.url.rsplit(":", 1)[1]
    other_port = other_server.url.rsplit(":", 1)[1]
    urls = {
        "sub": f"http://cdn.app.localhost:{port}",
        "apex": f"http://localhost:{port}",
        "lookalike": f"http://evil-localhost:{port}",
        "suffixed": f"http://app.localhost.evil.test:{port}",
        "https": f"https://app.localhost:{port}",
        "port": f"http://app.localhost:{other_port}",
    }
    http_server.page("wild.html", WILD_PAGE.format(**urls))
    task = URLTask(url=f"http://app.localhost:{port}/wild.html", instruction="Look.")
    env = WebEnv(task, viewport=VIEWPORT, allowed_origins=[f"http://*.localhost:{port}"])
    try:
        _, info = env.reset()
        blocked = {url for name, url in urls.items() if name != "sub"}
        assert {url.rsplit("/", 1)[0] for url in info["blocked_requests"]} == blocked
        assert "/ok.png" in http_server.requests and "/apex.png" not in http_server.requests
        assert other_server.requests == []
    finally:
        env.close()
    policy = OriginPolicy(["https://*.example.com"])
    assert policy.allows("https://shop.example.com/cart") and policy.allows("https://a.b.example.com/")
    for url in ("https://example.com/", "https://evil-example.com/", "https://example.com.evil.org/"):
        assert not policy.allows(url)
    assert not policy.allows("http://shop.example.com/") and not policy.allows("https://shop.example.com:8443/")
    for pattern in ("https://*example.com", "https://shop.*.com", "*.example.com"):
        with pytest.raises(ConfigError, match="subdomains"):
            OriginPolicy([pattern])


def test_downloads_are_saved_and_reported(task: URLTask, tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    env = WebEnv(task, viewport=VIEWPORT, downloads_path=folder)
    try:
        env.reset()
        names = []
        for _ in range(2):
            _, _, _, truncated, info = env.step({"action": "left_click", "coordinate": row(env, 1)})
            assert not truncated and "action_error" not in info
            names += [Path(path).name for path in info["downloads"]]
            assert info["notes"] == [f"Downloaded {names[-1]}."]
        assert names == ["report.txt", "report (1).txt"]
        assert (folder / "report (1).txt").read_text() == "quarterly numbers\n"
    finally:
        env.close()


def test_headed_runs_on_a_private_xvfb_unless_shown(
    task: URLTask, monkeypatch: pytest.MonkeyPatch, no_browser_left: Callable[[int, str], None]
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    env = WebEnv(task, viewport=VIEWPORT, headless=False)
    try:
        obs, _ = env.reset()
        assert env.browser.pid is not None
        no_browser_left(env.browser.pid, env.browser.marker)
        display = env.browser.display
        assert display is not None and obs["screenshot"].shape == (240, 320, 3)
        assert "HeadlessChrome" not in env.page.evaluate("navigator.userAgent")
        environ = Path(f"/proc/{env.browser.pid}/environ").read_bytes().split(b"\0")
        assert f"DISPLAY={display}".encode() in environ
        socket = Path(f"/tmp/.X11-unix/X{display.lstrip(':')}")
        assert socket.exists()
        _, reward, *_ = env.step({"action": "left_click", "coordinate": row(env, 0)})
        assert reward == 1.0
    finally:
        env.close()
    assert env.browser.display is None and not socket.exists()  # the private Xvfb ended with the browser
    with pytest.raises(ConfigError, match="DISPLAY"):
        WebEnv(task, headless=False, show=True)
    with pytest.raises(ConfigError, match="headless=False"):
        WebEnv(task, show=True)


def test_show_uses_the_users_display(task: URLTask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's display stands in as an Xvfb of the test's own; the browser's window goes there."""
    users = XServer(size=(800, 600), window_manager=None)
    display = users.start()
    try:
        monkeypatch.setenv("DISPLAY", display.name)
        monkeypatch.setenv("XAUTHORITY", str(display.xauthority))
        env = WebEnv(task, viewport=VIEWPORT, headless=False, show=True)
        try:
            env.reset()
            assert env.browser.display is None and env.browser.pid is not None  # no private server
            environ = Path(f"/proc/{env.browser.pid}/environ").read_bytes().split(b"\0")
            assert f"DISPLAY={display.name}".encode() in environ
            assert "HeadlessChrome" not in env.page.evaluate("navigator.userAgent")
        finally:
            env.close()
    finally:
        users.stop()


def test_device_presets(task: URLTask, http_server: LocalServer) -> None:
    mobile_page = LOGIN_PAGE.replace("<body", '<meta name="viewport" content="width=device-width"><body', 1)
    mobile_task = task.model_copy(update={"url": http_server.page("mobile.html", mobile_page)})
    phone = WebEnv(mobile_task, device="phone")
    try:
        obs, _ = phone.reset()
        assert obs["screenshot"].shape == (844 * 3, 390 * 3, 3)
        width, height, ratio, touch, agent = phone.page.evaluate(
            "[innerWidth, innerHeight, devicePixelRatio, navigator.maxTouchPoints, navigator.userAgent]"
        )
        assert (width, height, ratio) == (390, 844, 3) and touch > 0 and "Mobile" in agent
        _, reward, *_ = phone.step({"action": "left_click", "coordinate": row(phone, 0)})
        assert reward == 1.0
    finally:
        phone.close()
    assert WebEnv(task, device="laptop").observation_space["screenshot"].shape == (900, 1440, 3)
    assert WebEnv(task, device="desktop").device == DEVICES["desktop"]
    resized = WebEnv(task, device="phone", viewport=(412, 915))  # an explicit size wins over the preset's
    assert resized.device.viewport == (412, 915) and resized.device.is_mobile
    with pytest.raises(ConfigError, match="desktop, laptop, phone"):
        WebEnv(task, device="tablet")


def test_the_cli_passes_the_browser_options(login_url: str, tmp_path: Path) -> None:
    flags = ["--url", login_url, "--task", "Log in.", "--model", "random", "--allow", "https://*.example.com"]
    flags += ["--headed", "--profile", str(tmp_path / "p"), "--downloads", str(tmp_path / "d"), "--device", "phone"]
    env = _run_env(build_parser().parse_args(["run", *flags]))
    try:
        session = env.browser
        assert env.device == DEVICES["phone"] and not session.headless and not session.show
        assert (session.user_data_dir, session.downloads_path) == (tmp_path / "p", tmp_path / "d")
        assert env.policy.allows("https://shop.example.com/") and env.policy.allows(login_url)
    finally:
        env.close()
    env_run = ["run", "--env", "pixelpilot/miniwob-click-button-v0", "--model", "random", "--cdp", "http://x:9222"]
    with pytest.raises(ConfigError, match="--cdp: browser options, for --url runs only"):
        _run_env(build_parser().parse_args(env_run))
    with pytest.raises(ConfigError, match="cdp_url"):
        _run_env(build_parser().parse_args(["run", *flags[:6], "--cdp", "http://127.0.0.1:9222", "--headed"]))
