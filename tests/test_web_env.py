"""WebEnv on real Chromium pages served from 127.0.0.1: actions, errors, settling, allow-list, recovery, cleanup."""

from __future__ import annotations

import copy
import json
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.spaces.utils import flatten, unflatten
from gymnasium.utils.env_checker import check_env
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.envs import ComputerAction, TaskStatus, ToolCall, URLTask, WebEnv
from pixelpilot.envs.core.spaces import UnicodeText
from pixelpilot.envs.web.browser import OriginPolicy, PageActivity, origin_of
from pixelpilot.envs.web.env import playwright_keys
from pixelpilot.errors import ActionError

if TYPE_CHECKING:
    from conftest import LocalServer
    from playwright.sync_api import Request

EVENTS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
  body { margin: 0; font: 16px sans-serif; }
  #btn { position: absolute; left: 20px; top: 20px; width: 100px; height: 40px; }
  #finish { position: absolute; left: 140px; top: 20px; width: 100px; height: 40px; }
  #field { position: absolute; left: 20px; top: 80px; width: 200px; }
  #para { position: absolute; left: 20px; top: 120px; width: 300px; margin: 0; }
  #zone { position: absolute; left: 360px; top: 20px; width: 200px; height: 200px; background: #ddd; }
  #tall { width: 3000px; height: 3000px; }
</style></head><body>
<button id="btn">Press</button>
<button id="finish" onclick="window.done = true">Finish</button>
<input id="field">
<p id="para">The quick brown fox jumps over the lazy dog.</p>
<div id="zone"></div>
<div id="tall"></div>
<script>
  window.events = [];
  const log = e => window.events.push({type: e.type, x: e.clientX, y: e.clientY, button: e.button,
      buttons: e.buttons, detail: e.detail, key: e.key, ctrl: e.ctrlKey, target: e.target.id});
  for (const type of ["click", "dblclick", "contextmenu", "auxclick", "mousedown", "mouseup", "mousemove",
                      "keydown", "keyup"]) document.addEventListener(type, log, true);
  document.addEventListener("contextmenu", e => e.preventDefault());
</script>
</body></html>
"""
VIEWPORT = (640, 400)
BUTTON = (70, 40)  # centre of #btn in CSS px
ZONE = (460, 120)


def call(**arguments: Any) -> str:
    """A model's reply holding one computer_use call, as Qwen3-VL writes it."""
    return f"Sure.\n<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


@pytest.fixture(scope="module")
def events_url(http_server: LocalServer) -> str:
    return http_server.page("events.html", EVENTS_PAGE)


@pytest.fixture(scope="module")
def env(events_url: str) -> Iterator[WebEnv]:
    task = URLTask(
        url=events_url, instruction="Press Finish.", check=lambda page: page.evaluate("window.done === true")
    )
    environment = WebEnv(task, viewport=VIEWPORT, render_mode="rgb_array")
    yield environment
    environment.close()


def events(env: WebEnv, *types: str) -> list[dict[str, Any]]:
    return [e for e in env.page.evaluate("window.events") if e["type"] in types]


def grid(env: WebEnv, point: tuple[float, float]) -> list[int]:
    return list(env.to_grid(*point))


def test_check_env_passes_for_a_url_task(events_url: str) -> None:
    task = URLTask(url=events_url, instruction="Press Finish.", check=lambda page: page.evaluate("window.done"))
    environment = WebEnv(task, viewport=(320, 240))
    try:
        check_env(environment)
    finally:
        environment.close()


def test_reset_gives_a_screenshot_and_the_instruction(env: WebEnv) -> None:
    obs, info = env.reset(seed=0)
    assert obs["screenshot"].dtype == np.uint8 and obs["screenshot"].shape == (400, 640, 3)
    assert obs["instruction"] == "Press Finish."
    assert obs in env.observation_space
    assert set(info["timings"]) >= {"setup", "observe"} and info["success"] is False
    assert obs["screenshot"].std() > 0  # a rendered page, not a blank array
    assert np.array_equal(env.render(), obs["screenshot"])


def test_url_task_check_ends_the_episode(env: WebEnv) -> None:
    env.reset()
    _, reward, terminated, truncated, info = env.step(call(action="left_click", coordinate=grid(env, (190, 40))))
    assert (reward, terminated, truncated, info["success"]) == (1.0, True, False, True)
    assert set(info["timings"]) == {"action", "settle", "observe", "validate"}


@pytest.mark.parametrize(
    ("action", "event", "button"),
    [
        ("left_click", "click", 0),
        ("right_click", "contextmenu", 2),
        ("middle_click", "auxclick", 1),
        ("double_click", "dblclick", 0),
    ],
)
def test_clicks_land_where_the_grid_points(env: WebEnv, action: str, event: str, button: int) -> None:
    env.reset()
    _, reward, terminated, _, info = env.step({"action": action, "coordinate": grid(env, BUTTON)})
    assert "action_error" not in info and not terminated and reward == 0.0
    hits = events(env, event)
    assert len(hits) == 1
    assert hits[0]["target"] == "btn" and hits[0]["button"] == button
    assert abs(hits[0]["x"] - BUTTON[0]) <= 1 and abs(hits[0]["y"] - BUTTON[1]) <= 1


def test_step_takes_actions_tool_calls_and_text_alike(env: WebEnv) -> None:
    point = grid(env, BUTTON)
    env.reset()
    for action in (
        ComputerAction(action="left_click", coordinate=point),
        ToolCall(name="computer_use", arguments={"action": "left_click", "coordinate": point}),
        {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": point}},
        call(action="left_click", coordinate=point),
    ):
        _, _, _, _, info = env.step(action)
        assert "action_error" not in info and info["action"] == {"action": "left_click", "coordinate": point}
    assert len(events(env, "click")) == 4


def test_triple_click_selects_a_paragraph(env: WebEnv) -> None:
    env.reset()
    env.step({"action": "triple_click", "coordinate": grid(env, (60, 130))})
    assert [e["detail"] for e in events(env, "mousedown")] == [1, 2, 3]
    assert env.page.evaluate("getSelection().toString().trim()") == "The quick brown fox jumps over the lazy dog."


def test_mouse_move_then_drag_from_the_cursor(env: WebEnv) -> None:
    env.reset()
    env.step({"action": "mouse_move", "coordinate": grid(env, (380, 40))})
    moves = events(env, "mousemove")
    assert moves and abs(moves[-1]["x"] - 380) <= 1 and abs(moves[-1]["y"] - 40) <= 1
    env.step({"action": "left_click_drag", "coordinate": grid(env, ZONE)})
    down, up = events(env, "mousedown"), events(env, "mouseup")
    assert abs(down[0]["x"] - 380) <= 1 and abs(down[0]["y"] - 40) <= 1
    assert abs(up[0]["x"] - ZONE[0]) <= 1 and abs(up[0]["y"] - ZONE[1]) <= 1
    dragged = [e for e in events(env, "mousemove") if e["buttons"] == 1]
    assert len(dragged) >= 5  # intermediate moves, as drag-and-drop handlers need


def test_type_and_key_combos(env: WebEnv) -> None:
    env.reset()
    env.step({"action": "left_click", "coordinate": grid(env, (100, 92))})
    env.step({"action": "type", "text": "héllo 世界"})
    assert env.page.input_value("#field") == "héllo 世界"
    env.step({"action": "key", "keys": ["ctrl", "a"]})
    assert any(e["key"] == "a" and e["ctrl"] for e in events(env, "keydown"))
    env.step({"action": "key", "keys": ["BackSpace"]})
    assert env.page.input_value("#field") == ""
    env.step({"action": "type", "text": "abc"})
    env.step({"action": "key", "keys": "shift+Home"})
    env.step({"action": "key", "keys": ["Delete"]})
    assert env.page.input_value("#field") == ""


def test_scroll_and_hscroll_by_pixels(env: WebEnv) -> None:
    env.reset()
    point = grid(env, (300, 300))
    env.step({"action": "scroll", "coordinate": point, "pixels": -200})
    assert env.page.evaluate("scrollY") == 200
    env.step({"action": "scroll", "coordinate": point, "pixels": 120})
    assert env.page.evaluate("scrollY") == 80
    env.step({"action": "hscroll", "coordinate": point, "pixels": 150})
    env.step({"action": "hscroll", "coordinate": point, "pixels": -50})
    assert env.page.evaluate("scrollX") == 100


def test_wait_answer_and_terminate(env: WebEnv) -> None:
    env.reset()
    _, reward, terminated, _, info = env.step({"action": "wait", "time": 0.05})
    assert not terminated and "action_error" not in info
    _, reward, terminated, _, info = env.step(call(action="answer", text="forty-two"))
    assert terminated and info["answer"] == "forty-two" and reward == 0.0 and info["success"] is False
    _, _, terminated, _, info = env.step({"action": "left_click", "coordinate": [10, 10]})
    assert not terminated and "episode is over" in info["action_error"]
    env.reset()
    _, _, terminated, _, info = env.step({"action": "terminate", "status": "failure"})
    assert terminated and info["status"] == "failure"


INVALID = [
    ("I would click the button.", "tool_call"),
    ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "fly"}}\n</tool_call>', "unknown"),
    ({"action": "left_click"}, "coordinate"),
    ({"action": "left_click", "coordinate": [1200, 5]}, "outside"),
    ({"action": "key", "keys": ["hyperdrive"]}, "unknown key"),
    ({"name": "mobile_use", "arguments": {"action": "click", "coordinate": [5, 5]}}, "computer_use"),
    ({"action": "wait", "time": 3600}, "limit"),
    (call(action="left_click", coordinate=[1, 1]) + call(action="left_click", coordinate=[2, 2]), "exactly one"),
    ('<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1,', ""),
    (12345, "cannot read"),
]


@pytest.mark.parametrize(("action", "expected"), INVALID)
def test_invalid_actions_come_back_as_errors(env: WebEnv, action: Any, expected: str) -> None:
    before, _ = env.reset()
    obs, reward, terminated, truncated, info = env.step(action)
    assert expected in info["action_error"] and info["action_error"]
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert np.array_equal(obs["screenshot"], before["screenshot"]) and obs["instruction"] == before["instruction"]
    assert env.page.evaluate("window.events.length") == 0  # the page was never touched


def test_random_action_space_samples_are_handled(env: WebEnv) -> None:
    env.reset()
    env.action_space.seed(7)
    for _ in range(3):
        _, _, terminated, _, info = env.step(env.action_space.sample())
        assert info["action_error"] and not terminated


SETTLE_PAGE = """<!doctype html><html><body>
<button id="go" style="width:120px;height:40px" onclick="
  fetch('/slow').then(r => r.json()).then(d => { document.querySelector('#out').textContent = d.ok ? 'ok' : 'no'; })
">Fetch</button>
<a id="next" href="/next.html" style="display:block;width:120px;height:40px">Next</a>
<div id="out">-</div></body></html>"""
NEXT_PAGE = "<!doctype html><html><body><h1 id='title'>Next page</h1><img src='/slow.png'></body></html>"


def test_settling_waits_for_requests_and_navigations_the_action_started(http_server: LocalServer) -> None:
    url = http_server.page("settle.html", SETTLE_PAGE)
    http_server.page("next.html", NEXT_PAGE)
    environment = WebEnv(URLTask(url=url, instruction="Fetch.", check=lambda page: False), viewport=(320, 240))
    try:
        environment.reset()
        environment.step({"action": "left_click", "coordinate": list(environment.to_grid(60, 20))})
        assert environment.page.text_content("#out") == "ok"  # the 0.4 s request had answered
        environment.step({"action": "left_click", "coordinate": list(environment.to_grid(60, 60))})
        assert environment.page.url.endswith("/next.html")
        assert environment.page.evaluate("document.readyState") == "complete"
        assert "/slow.png" in http_server.requests
    finally:
        environment.close()


def test_settling_waits_for_a_request_reported_late(http_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under load, Playwright can report a fetch after the page has run its click handler (with the allow-list
    on, only once the browser process paused the request): the page's own count keeps the step waiting."""
    report = PageActivity._on_request

    def late(activity: PageActivity, request: Request) -> None:
        if request.resource_type == "fetch":  # reported 0.3 s late; the response takes 0.4 s
            threading.Timer(0.3, report, (activity, request)).start()
        else:
            report(activity, request)

    monkeypatch.setattr(PageActivity, "_on_request", late)
    url = http_server.page("settle.html", SETTLE_PAGE)
    environment = WebEnv(URLTask(url=url, instruction="Fetch.", check=lambda page: False), viewport=(320, 240))
    try:
        environment.reset()
        environment.step({"action": "left_click", "coordinate": list(environment.to_grid(60, 20))})
        assert environment.page.text_content("#out") == "ok"
    finally:
        environment.close()


PAINT_PAGE = """<!doctype html><html><head><style>
  body { margin: 0; } button { display: block; width: 100px; height: 40px; }
  #panel { position: absolute; left: 120px; top: 0; width: 200px; height: 240px; background: rgb(255, 0, 0); }
</style></head><body>
<button id="now">Now</button><button id="task">Task</button><button id="frame">Frame</button>
<button id="fetch">Fetch</button><input id="field">
<div id="hover" style="position: absolute; left: 0; top: 200px; width: 100px; height: 40px"></div>
<div id="panel"></div>
<script>
  const paint = () => { document.getElementById("panel").style.background = "rgb(0, 0, 255)"; };
  document.getElementById("now").onclick = paint;
  document.getElementById("task").onclick = () => setTimeout(paint, 0);
  document.getElementById("frame").onclick = () => requestAnimationFrame(() => requestAnimationFrame(paint));
  document.getElementById("fetch").onclick = () => fetch("/slow.json").then(paint);
  document.getElementById("field").onkeydown = () => setTimeout(paint, 0);
  document.getElementById("hover").onmousemove = paint;
</script></body></html>"""


def click(x: float, y: float) -> dict[str, Any]:
    return {"action": "left_click", "point": (x, y)}


@pytest.mark.parametrize(
    ("actions", "screenshots"),
    [
        ([click(50, 20)], 1),  # paints in its handler
        ([click(50, 60)], None),  # a task turn later
        ([click(50, 100)], 2),  # two frames later
        ([click(50, 140)], 2),  # once a 0.4 s fetch answers
        ([click(50, 170), {"action": "key", "keys": ["a"]}], None),  # the field: a key paints a task turn later
        ([{"action": "mouse_move", "point": (50, 220)}], 1),  # a pointer move over the hover zone paints at once
    ],
    ids=["handler", "task", "frame", "fetch", "key", "move"],
)
def test_the_observation_shows_what_the_action_changed(
    http_server: LocalServer, actions: list[dict[str, Any]], screenshots: int | None
) -> None:
    """A step screenshots the frame its input produced and settles after; a change made later than that
    frame (a later frame, a response) is seen by the settle and screenshotted again. A task queued by the
    handler may run before that frame or after it (so one screenshot or two): either way it is shown."""
    url = http_server.page("paint.html", PAINT_PAGE)
    http_server.page("slow.json", "{}")
    environment = WebEnv(URLTask(url=url, instruction="Paint.", check=lambda page: False), viewport=(320, 240))
    try:
        environment.reset()
        page, taken = environment.page, []
        shoot = page.screenshot
        page.screenshot = lambda **options: taken.append(options) or shoot(**options)  # type: ignore[method-assign]
        for action in actions:
            taken.clear()  # the last step's screenshots are counted
            step = {key: value for key, value in action.items() if key != "point"}
            if "point" in action:
                step["coordinate"] = list(environment.to_grid(*action["point"]))
            observation, *_ = environment.step(step)
        assert observation["screenshot"].shape == (240, 320, 3)
        assert observation["screenshot"][120, 220].tolist() == [0, 0, 255]  # the panel, painted
        assert screenshots is None or len(taken) == screenshots
    finally:
        environment.close()


def test_allow_list_blocks_other_origins(http_server: LocalServer, other_server: LocalServer) -> None:
    other_server.page("data.json", '{"secret": 1}')
    page = (
        f"<!doctype html><html><body><img src='{other_server.url}/pixel.png'>"
        f"<button style='width:100px;height:40px' onclick=\"fetch('{other_server.url}/data.json', {{mode: 'no-cors'}})"
        ".then(() => window.result = 'loaded', () => window.result = 'blocked')\">Go</button></body></html>"
    )
    url = http_server.page("cross.html", page)
    task = URLTask(url=url, instruction="Go.", check=lambda page: False)
    environment = WebEnv(task, viewport=(320, 240))
    try:
        _, info = environment.reset()
        assert f"{other_server.url}/pixel.png" in info["blocked_requests"]
        _, _, _, _, info = environment.step({"action": "left_click", "coordinate": list(environment.to_grid(50, 30))})
        assert environment.page.evaluate("window.result") == "blocked"
        assert f"{other_server.url}/data.json" in info["blocked_requests"]
        assert other_server.requests == []
    finally:
        environment.close()
    allowed = WebEnv(task, viewport=(320, 240), allowed_origins=[http_server.url, other_server.url])
    try:
        allowed.reset()
        allowed.step({"action": "left_click", "coordinate": list(allowed.to_grid(50, 30))})
        assert allowed.page.evaluate("window.result") == "loaded"
        assert "/data.json" in other_server.requests
    finally:
        allowed.close()


def test_origin_policy_rules() -> None:
    policy = OriginPolicy(["http://127.0.0.1:8000/", "https://example.com:443"])
    assert policy.allows("http://127.0.0.1:8000/a/b?c=1")
    assert policy.allows("https://example.com/x")
    assert not policy.allows("http://127.0.0.1:8001/a")
    assert not policy.allows("http://127.0.0.1:80001/a")
    assert not policy.allows("https://example.com.evil.org/")
    assert not policy.allows("file:///etc/passwd")
    assert policy.allows("data:text/plain,hi") and policy.allows("about:blank")
    assert OriginPolicy(["file:///any/where.html"]).allows("file:///other/file.js")
    assert origin_of("HTTP://Example.COM:80/path") == "http://example.com"
    assert OriginPolicy(["*"]).allows("https://anything.org/")


def test_killed_browser_is_recovered_on_reset(events_url: str, no_browser_left: Callable[[int, str], None]) -> None:
    task = URLTask(url=events_url, instruction="Press Finish.", check=lambda page: False)
    environment = WebEnv(task, viewport=(320, 240))
    try:
        environment.reset()
        first = environment.browser.pid
        assert first is not None
        no_browser_left(first, environment.browser.marker)
        os.kill(first, signal.SIGKILL)
        _, reward, terminated, truncated, info = environment.step({"action": "left_click", "coordinate": [100, 100]})
        assert truncated and not terminated and reward == 0.0 and "browser" in info["action_error"]
        obs, _ = environment.reset()
        assert obs["instruction"] == "Press Finish." and environment.browser.pid not in (None, first)
        no_browser_left(environment.browser.pid, environment.browser.marker)
        _, _, _, truncated, info = environment.step({"action": "left_click", "coordinate": [100, 100]})
        assert not truncated and "action_error" not in info
    finally:
        environment.close()


def test_unicode_text_space_holds_any_script_and_shares_cheaply() -> None:
    space = UnicodeText(64)
    text = "Click «OK» — 确定 ✓ 🙂\tok"
    assert text in space and "bell\x07" not in space and "x" * 65 not in space
    assert space.sample() in space
    assert len(pickle.dumps(space)) < 4096 and pickle.loads(pickle.dumps(space)) == space
    assert unflatten(space, flatten(space, text)) == text
    dict_space = gym.spaces.Dict({"instruction": space})
    memory = create_shared_memory(dict_space, n=2)
    write_to_shared_memory(dict_space, 1, {"instruction": text}, memory)
    write_to_shared_memory(dict_space, 0, {"instruction": "日本語"}, memory)
    view = read_from_shared_memory(dict_space, memory, n=2)
    assert view["instruction"] == ("日本語", text)
    write_to_shared_memory(dict_space, 0, {"instruction": "next episode"}, memory)
    assert copy.deepcopy(view)["instruction"] == ("next episode", text)  # what AsyncVectorEnv hands out


def test_key_names_map_to_playwright() -> None:
    assert playwright_keys(["ctrl", "a"]) == ["Control", "a"]
    assert playwright_keys(["ctrl+shift+T"]) == ["Control", "Shift", "T"]
    assert playwright_keys(["Return", "Page_Down", "esc", "super", "F5", "+"]) == [
        "Enter",
        "PageDown",
        "Escape",
        "Meta",
        "F5",
        "+",
    ]
    with pytest.raises(ActionError, match="unknown key"):
        playwright_keys(["hyperdrive"])


PRICE_PAGE = "<html><body><h1>Blue mug</h1><p id='price'>Price: 42 EUR</p></body></html>"


def test_an_open_ended_task_on_any_page_ends_on_the_models_answer(http_server: LocalServer) -> None:
    from test_agent_loop import ScriptedModel, call

    from pixelpilot.agent import Agent

    url = http_server.page("price.html", PRICE_PAGE)
    model = ScriptedModel([call("mouse_move", coordinate=[500, 500]), call("answer", text="42 EUR")], see=False)
    environment = WebEnv(URLTask(url=url, instruction="What does the mug cost?"), viewport=(320, 240))
    try:
        trajectory = Agent(model, max_steps=5).run(environment, seed=0)
    finally:
        environment.close()
    assert trajectory.end_reason == "answer" and trajectory.answer == "42 EUR"
    assert len(trajectory.steps) == 2 and trajectory.reward == 0.0  # no check: the model's answer ends it


class PriceQuestion(URLTask):
    """A question about the page, checked against what the page shows: the answer reaches ``validate``."""

    def validate(self, page: Any, answer: str | None = None) -> TaskStatus:
        if answer is None:
            return TaskStatus(0.0, False)
        right = answer.strip() in page.locator("#price").inner_text()
        return TaskStatus(float(right), True, f"answered {answer}")


def test_a_web_task_checks_the_models_answer_against_the_page(http_server: LocalServer) -> None:
    url = http_server.page("price.html", PRICE_PAGE)
    environment = WebEnv(PriceQuestion(url=url, instruction="What does the mug cost?"), viewport=(320, 240))
    try:
        for answer, reward in (("42 EUR", 1.0), ("40 EUR", 0.0)):
            environment.reset(seed=0)
            _, got, terminated, _, info = environment.step(ComputerAction(action="answer", text=answer))
            assert (got, terminated, info["message"]) == (reward, True, f"answered {answer}")
    finally:
        environment.close()


def test_run_takes_any_url_and_an_instruction(http_server: LocalServer, tmp_path, capsys) -> None:
    from pixelpilot.cli import main

    url = http_server.page("price.html", PRICE_PAGE)
    assert main(["run", "--url", url, "--model", "random", "--out", str(tmp_path)]) == 2
    assert "--url needs --task" in capsys.readouterr().out
    command = ["run", "--url", url, "--task", "What does the mug cost?", "--model", "random", "--max-steps", "1"]
    guarded = [*command, "--deny-text", "pay", "--deny-passwords"]  # the approval flags build their hook
    assert main([*guarded, "--viewport", "320", "240", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.html").exists() and "What does the mug cost?" in (tmp_path / "report.html").read_text()
