"""Shared fixtures: real HTTP servers on 127.0.0.1, the tiny Qwen3-VL checkpoint, and a check for leftover browsers."""

from __future__ import annotations

import os

# Tiny models on a 2-core machine run far faster on one thread; set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import http.server
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import pytest
from support import free_port

from pixelpilot.envs.web.browser import live_processes


@dataclass
class LocalServer:
    """A static file server on a free 127.0.0.1 port that records the paths it was asked for."""

    root: Path
    url: str = ""
    requests: list[str] = field(default_factory=list)

    def page(self, name: str, html: str) -> str:
        """Write an HTML page under the server's root and return its URL."""
        (self.root / name).write_text(html, encoding="utf-8")
        return f"{self.url}/{name}"


def _serve(root: Path) -> Iterator[LocalServer]:
    server_info = LocalServer(root=root)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            server_info.requests.append(self.path)
            if self.path.startswith("/slow"):
                time.sleep(0.4)  # a slow API: settling must wait for it
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    server_info.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_info
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A local site for URLTasks (random free port)."""
    yield from _serve(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def other_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A second local site on another port: another origin, for the allow-list."""
    yield from _serve(tmp_path_factory.mktemp("elsewhere"))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline tiny Qwen3-VL checkpoint (dense), built once per test session."""
    from pixelpilot.model import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-qwen3-vl"))


@pytest.fixture(scope="session")
def tiny_server(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``transformers serve`` hosting the tiny checkpoint on a free 127.0.0.1 port; yields its /v1 URL."""
    port = free_port()
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(tiny_checkpoint)]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("transformers serve did not become healthy in time")
            time.sleep(0.5)
        yield f"{url}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_until_gone(browsers: list[tuple[int, str]], timeout_s: float = 10.0) -> list[int]:
    """Processes of the given (pid, marker) browsers still alive once they have had timeout_s to exit."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [pid for browser_pid, marker in browsers for pid in live_processes(browser_pid, marker)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@pytest.fixture
def no_browser_left() -> Iterator[Callable[[int, str], None]]:
    """Record browsers with ``track(pid, marker)``; the test fails if any of their processes outlives it."""
    browsers: list[tuple[int, str]] = []

    def track(pid: int, marker: str) -> None:
        if (pid, marker) not in browsers:
            browsers.append((pid, marker))

    yield track
    assert browsers, "the test tracked no browser"
    assert wait_until_gone(browsers) == [], "Chromium processes outlived close()"
