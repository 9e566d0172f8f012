"""Approval of risky actions on real Chromium pages: a denied action never reaches the page, the model is
told why, the trajectory and its report keep the reason, and a stop ends the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import LocalServer
from test_agent_loop import ScriptedModel, call

from pixelpilot.agent import Agent
from pixelpilot.agent.approval import (
    ActionRequest,
    Decision,
    all_of,
    ask_on_terminal,
    deny_click_text,
    deny_password_typing,
)
from pixelpilot.envs import URLTask, WebEnv

SHOP = """<html><body style="margin:0">
<button id="pay" style="position:absolute; left:0; top:0; width:160px; height:100px"
  onclick="window.paid = true"><span>Pay now</span></button>
<input id="secret" type="password" style="position:absolute; left:0; top:120px; width:160px; height:40px">
<input id="name" type="text" style="position:absolute; left:170px; top:120px; width:140px; height:40px">
</body></html>"""
PAY = [80 * 1000 // 320, 50 * 1000 // 240]  # the button's centre on the 0-1000 grid of a 320x240 page
SECRET = [80 * 1000 // 320, 140 * 1000 // 240]
NAME = [240 * 1000 // 320, 140 * 1000 // 240]


@pytest.fixture
def shop(http_server: LocalServer) -> WebEnv:
    env = WebEnv(URLTask(url=http_server.page("shop.html", SHOP), instruction="Buy the mug."), viewport=(320, 240))
    yield env
    env.close()


def test_a_denied_click_never_reaches_the_page_and_the_model_is_told(shop: WebEnv, tmp_path: Path) -> None:
    seen: list[ActionRequest] = []

    def recording(request: ActionRequest) -> Decision:
        seen.append(request)
        return Decision()

    model = ScriptedModel([call("left_click", coordinate=PAY), call("terminate", status="failure")], see=False)
    agent = Agent(model, max_steps=3, approve=all_of(recording, deny_click_text(["pay", "delete"])))
    trajectory = agent.run(shop, seed=0)
    assert shop.page.evaluate("window.paid === true") is False
    record = trajectory.steps[0].calls[0]
    assert record.denied and "Pay now" in record.denied and record.error.startswith("action denied")
    assert "action denied" in str(model.prompts[1])  # the next prompt tells the model why
    assert seen[0].url.endswith("/shop.html") and seen[0].target.tag == "button"
    assert seen[0].screenshot is not None and seen[0].screenshot.size == (320, 240)
    assert trajectory.end_reason == "terminate"  # the final action is not asked about
    trajectory.save(tmp_path)
    assert "action denied" in trajectory.to_html(tmp_path / "report.html").read_text()


def test_typing_into_a_password_field_is_refused_and_into_a_text_field_allowed(shop: WebEnv) -> None:
    texts = [
        call("left_click", coordinate=SECRET),
        call("type", text="hunter2"),
        call("left_click", coordinate=NAME),
        call("type", text="Ada"),
        call("terminate", status="success"),
    ]
    trajectory = Agent(ScriptedModel(texts, see=False), max_steps=6, approve=deny_password_typing).run(shop, seed=0)
    assert shop.page.evaluate("document.querySelector('#secret').value") == ""
    assert shop.page.evaluate("document.querySelector('#name').value") == "Ada"
    assert [bool(step.calls[0].denied) for step in trajectory.steps] == [False, True, False, False, False]


def test_a_person_can_allow_deny_or_stop_from_the_terminal(shop: WebEnv) -> None:
    answers = iter(["n", "too expensive", "y", "q"])
    shown: list[str] = []
    approve = ask_on_terminal(ask=lambda prompt: next(answers), show=shown.append)
    texts = [call("left_click", coordinate=point) for point in (PAY, NAME, PAY)]
    trajectory = Agent(ScriptedModel(texts, see=False), max_steps=5, approve=approve).run(shop, seed=0)
    assert trajectory.steps[0].calls[0].denied == "too expensive"
    assert trajectory.steps[1].calls[0].denied is None
    assert trajectory.end_reason == "stopped" and trajectory.error == "the user stopped the run"
    assert shop.page.evaluate("window.paid === true") is False
    assert "Pay now" in shown[0] and "shop.html" in shown[0]
