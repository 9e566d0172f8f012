"""RayEnvPool on a real local Ray: the same episodes as local envs, per-env stepping, dead workers, clean close."""

from __future__ import annotations

import functools
import http.server
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import ray

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.envs import URLTask, WebEnv
from pixelpilot.envs.ray_pool import EnvResult, PoolEnv, RayEnvPool, recv_any

CLICK_BUTTON = "pixelpilot/miniwob-click-button-v0"
SYNTHETIC = "pixelpilot/synthetic-click-button-v0"
RAY_INIT = {"num_cpus": 2, "include_dashboard": False, "_node_ip_address": "127.0.0.1", "log_to_driver": False}
MOVE = {"action": "mouse_move", "coordinate": [500, 900]}
_BUTTON_JS = """(right) => {
  const wanted = document.querySelector('#query').textContent.match(/"(.*)"/)[1];
  const button = [...document.querySelectorAll('#area button')].find(b => (b.textContent === wanted) === right);
  const r = button.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2];
}"""

pytestmark = pytest.mark.timeout(240)


def click_button(env: gym.Env, right: bool) -> dict[str, object]:
    """A click on the asked-for button (or another one) of a local env's current page."""
    web = env.unwrapped
    x, y = web.page.evaluate(_BUTTON_JS, right)
    return {"action": "left_click", "coordinate": list(web.to_grid(x, y))}


def process_tree(root: int) -> set[tuple[int, str]]:
    """Root and its live descendants as (pid, start time), so that a reused pid is not mistaken for a survivor."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in "ZX":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            starts[int(entry.name)] = fields[19]
    found, todo = {(root, starts[root])}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add((child, starts[child]))
            todo.append(child)
    return found


def survivors(processes: set[tuple[int, str]], timeout_s: float = 20.0) -> set[tuple[int, str]]:
    """Those of processes still running once they have had timeout_s to exit."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = set()
        for pid, start in processes:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] not in "ZX" and fields[19] == start:
                alive.add((pid, start))
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


@pytest.fixture(scope="module", autouse=True)
def _no_ray_after_module() -> Iterator[None]:
    yield
    ray.shutdown()


@pytest.fixture
def local_ray() -> None:
    """A local Ray shared by the tests of this module (started by the first that needs it)."""
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(**RAY_INIT)


@pytest.fixture(scope="module")
def gate() -> Iterator[tuple[str, threading.Event]]:
    """A page whose button asks /gate, which answers only once the test opens the gate.

    The request is synchronous: the click is not handled, so the step cannot end, until the gate
    opens, however slowly the page or the machine runs (an asynchronous fetch that had not started
    when the step's settle looked would let the step end early).
    """
    opened = threading.Event()
    page = (
        b"<html><body style='margin:0'><button style='position:fixed;inset:0;width:100%;height:100%'"
        b" onclick=\"const r = new XMLHttpRequest(); r.open('GET', '/gate', false); r.send();"
        b" document.body.dataset.done = '1';\">Go</button></body></html>"
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/gate":
                opened.wait(timeout=120)
            body = page if self.path == "/" else b"ok"
            with suppress(ConnectionError):  # the browser that asked may have been killed meanwhile
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", opened
    finally:
        opened.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def gated_envs(url: str, n: int) -> list[functools.partial[WebEnv]]:
    task = URLTask(
        url=url,
        instruction="Press the button",
        check=lambda page: page.evaluate("document.body.dataset.done === '1'"),
    )
    return [functools.partial(WebEnv, task, viewport=(320, 240), settle_timeout_s=120.0)] * n


def test_pool_runs_the_episodes_local_envs_run(local_ray: None) -> None:
    """Three envs on two actors (two share one): right click, wrong click, a move then a right click."""
    local = gym.make(CLICK_BUTTON)
    expected, plans = [], []
    try:
        for i, first in enumerate(("right", "wrong", "move")):
            obs, _ = local.reset(seed=10 + i)
            action = MOVE if first == "move" else click_button(local, first == "right")
            stepped = local.step(action)
            second = click_button(local, True) if first == "move" else MOVE
            # After an episode's end, next-step autoreset starts a new one from the env's own seeded generator.
            after = local.step(second) if first == "move" else (local.reset()[0], 0.0, False, False, {})
            expected.append((obs, stepped, after))
            plans.append((action, second))
    finally:
        local.close()

    pool = RayEnvPool.from_id(CLICK_BUTTON, 3, envs_per_actor=2)
    try:
        assert [info.env_indices for info in pool.worker_info()] == [(0, 1), (2,)]
        assert pool.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
        obs, infos = pool.reset(seed=10)
        assert obs in pool.observation_space and list(infos["seed"]) == [10, 11, 12]
        batches = [pool.step([plan[0] for plan in plans]), pool.step([plan[1] for plan in plans])]
    finally:
        pool.close()

    for i, (first_obs, stepped, after) in enumerate(expected):
        assert obs["instruction"][i] == first_obs["instruction"]
        assert np.array_equal(obs["screenshot"][i], first_obs["screenshot"])
        for (got_obs, rewards, terminated, truncated, _), want in zip(batches, (stepped, after), strict=True):
            assert got_obs["instruction"][i] == want[0]["instruction"]
            assert np.array_equal(got_obs["screenshot"][i], want[0]["screenshot"])
            assert (rewards[i], terminated[i], truncated[i]) == (want[1], want[2], want[3])
    assert batches[0][1].tolist() == [1.0, 0.0, 0.0] and batches[0][2].tolist() == [True, True, False]
    assert batches[1][1].tolist() == [0.0, 0.0, 1.0] and batches[1][2].tolist() == [False, False, True]


def test_each_env_steps_on_its_own(local_ray: None, gate: tuple[str, threading.Event]) -> None:
    """Env 0 waits on a request the test holds; env 1, on the same actor, goes on meanwhile."""
    url, opened = gate
    opened.clear()
    pool = RayEnvPool(gated_envs(url, 2), envs_per_actor=2)
    try:
        pool.reset(seed=0)
        pool.send(0, {"action": "left_click", "coordinate": [500, 500]})
        with pytest.raises(gym.error.AlreadyPendingCallError):
            pool.send(0, MOVE)
        for _ in range(3):
            pool.send(1, MOVE)
            (result,) = pool.recv()
            assert (result.index, result.kind, result.reward, result.terminated) == (1, "step", 0.0, False)
            assert "action_error" not in result.info
        assert pool.pending == (0,) and pool.recv(timeout=0.5) == []
        opened.set()
        (result,) = pool.recv()
        assert (result.index, result.reward, result.terminated, result.info["success"]) == (0, 1.0, True, True)
        pool.send_reset(1, seed=5)
        pool.send(0, MOVE)  # the episode ended: this step starts the next one
        results = {result.index: result for result in pool.recv()}
        while len(results) < 2:
            results.update((result.index, result) for result in pool.recv())
        assert results[1].kind == "reset" and results[1].info["seed"] == 5
        assert results[0].kind == "step" and not results[0].terminated and results[0].info["success"] is False
        assert results[0].observation["instruction"] == "Press the button" and pool.pending == ()
    finally:
        pool.close()


def test_a_killed_worker_is_replaced(local_ray: None, gate: tuple[str, threading.Event]) -> None:
    """Killed mid-step (env 0), while idle (env 1), or hung: the episodes end truncated and go on on a new worker."""
    url, opened = gate
    opened.clear()
    pool = RayEnvPool(gated_envs(url, 2), envs_per_actor=2)
    try:
        obs, _ = pool.reset(seed=0)
        (before,) = pool.worker_info()
        tree = process_tree(before.pid)
        assert any(b"chrom" in Path(f"/proc/{pid}/cmdline").read_bytes() for pid, _ in tree)
        pool.send(0, {"action": "left_click", "coordinate": [500, 500]})
        ray.kill(pool.actors[0])
        (result,) = pool.recv(indices=[0])
        assert result.truncated and not result.terminated and result.info["worker_restarted"]
        assert re.search(r"worker .* failed .* new worker has reset it", result.info["action_error"])
        assert np.array_equal(result.observation["screenshot"], obs["screenshot"][0])
        _, rewards, terminated, truncated, infos = pool.step([MOVE, MOVE])
        assert truncated.tolist() == [False, True] and not terminated.any() and rewards.tolist() == [0.0, 0.0]
        assert infos["_worker_restarted"].tolist() == [False, True]
        _, _, terminated, truncated, infos = pool.step([MOVE, MOVE])
        assert not terminated.any() and not truncated.any() and "action_error" not in infos
        (after,) = pool.worker_info()
        assert after.restarts == 1 and after.pid != before.pid
        assert survivors(tree) == set(), "the killed worker left processes behind"
        # A worker that stops answering is killed at the call's deadline and replaced the same way.
        pool.call_timeout_s = 2.0
        pool.send(1, {"action": "left_click", "coordinate": [500, 500]})
        pool.call_timeout_s = 120.0
        (result,) = pool.recv()
        assert result.index == 1 and result.truncated and "no answer within 2 s" in result.info["action_error"]
        assert pool.worker_info()[0].restarts == 2
    finally:
        opened.set()
        pool.close()


class Fragile(gym.Env):
    """An environment whose step raises on the action "boom" (shipped to the workers by value)."""

    observation_space = gym.spaces.Discrete(3)
    action_space = gym.spaces.Text(8)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.count = 0
        return 0, {}

    def step(self, action: str) -> tuple[int, float, bool, bool, dict]:
        if action == "boom":
            raise RuntimeError("the page crashed")
        self.count += 1
        return self.count % 3, 1.0, False, False, {}


ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def test_an_env_that_raises_ends_its_episode_and_the_next_send_starts_another(local_ray: None) -> None:
    pool = RayEnvPool([Fragile, Fragile])
    try:
        pool.reset(seed=0)
        pool.send(0, "boom")
        pool.send(1, "tick")
        results = {result.index: result for _, result in recv_all([pool])}
        assert results[0].truncated and "RuntimeError: the page crashed" in results[0].info["action_error"]
        assert (results[1].observation, results[1].reward, results[1].truncated) == (1, 1.0, False)
        pool.send(0, "tick")
        (restart,) = pool.recv(indices=[0])
        assert restart.observation == 0 and not restart.truncated, "next-step autoreset after the failure"
    finally:
        pool.close()


def recv_all(pools: list[RayEnvPool]) -> list[tuple[RayEnvPool, EnvResult]]:
    """Everything in flight in the pools, through ``recv_any``."""
    got = []
    while any(pool.pending for pool in pools):
        got.extend(recv_any(pools, timeout=60))
    return got


def test_recv_any_waits_on_several_pools_and_pool_env_is_a_gym_env(local_ray: None) -> None:
    pools = [RayEnvPool.from_id(SYNTHETIC, 1, num_cpus=0.5), RayEnvPool.from_id(SYNTHETIC, 2, num_cpus=0.5)]
    local = gym.make(SYNTHETIC)
    try:
        single = PoolEnv(pools[0], 0, spec=gym.spec(SYNTHETIC))
        assert single.gui_tool == "computer_use" and single.spec.id == SYNTHETIC
        for seed in (3, 4):
            got, want = single.reset(seed=seed), local.reset(seed=seed)
            assert np.array_equal(got[0]["screenshot"], want[0]["screenshot"])
            click = {"action": "left_click", "coordinate": [500, 500]}
            assert single.step(click)[1:4] == local.step(click)[1:4]
        for pool in pools:
            for index in range(pool.num_envs):
                pool.send_reset(index, seed=index)
        arrived = recv_all(pools)
        assert sorted((pools.index(pool), result.index) for pool, result in arrived) == [(0, 0), (1, 0), (1, 1)]
        with pytest.raises(gym.error.NoAsyncCallError):
            recv_any(pools)
    finally:
        local.close()
        for pool in pools:
            pool.close()


def test_close_leaves_no_process() -> None:
    """A pool that started its own Ray stops it: no Ray daemon, worker or browser outlives close()."""
    ray.shutdown()
    already = process_tree(os.getpid())  # what this test did not start (e.g. other tests' servers)
    pool = RayEnvPool.from_id(CLICK_BUTTON, 2, ray_init=RAY_INIT)
    try:
        pool.reset(seed=0)
        pool.step([MOVE, MOVE])
        workers = {info.pid for info in pool.worker_info()}
        browsers = set(pool.call(lambda env: env.unwrapped.browser.pid))
        assert pool.get_attr("viewport") == ((160, 210), (160, 210))
        started = process_tree(os.getpid()) - already
        assert len(workers | browsers) == 4 and workers | browsers <= {pid for pid, _ in started}
    finally:
        pool.close()
    assert not ray.is_initialized()
    assert survivors(started) == set()
    with pytest.raises(gym.error.ClosedEnvironmentError):
        pool.send(0, MOVE)
