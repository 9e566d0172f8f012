"""Trajectories: save/load round trip and the HTML report, checked in a real headless Chromium."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_agent_loop import ButtonEnv, ScriptedModel, call

from pixelpilot.agent import Agent, Trajectory
from pixelpilot.envs.web.browser import CHROMIUM_ARGS, chromium_executable, shared_playwright


@pytest.fixture
def trajectory() -> Trajectory:
    env = ButtonEnv(width=320, height=200)
    script = [
        "<think>Move first.</think>" + call("mouse_move", coordinate=[100, 150]),
        call("left_click_drag", coordinate=[300, 400]),
        "<script>alert(1)</script> no call",
    ]
    result = Agent(ScriptedModel(script)).run(env, seed=11)
    env.close()
    return result


def test_save_and_load_round_trip(trajectory, tmp_path):
    assert len(trajectory.steps) == 4 and trajectory.success
    trajectory.save(tmp_path)
    loaded = Trajectory.load(tmp_path)
    assert loaded.model_dump() == trajectory.model_dump()
    for original, back in zip(trajectory.steps, loaded.steps, strict=True):
        assert np.array_equal(np.asarray(back.screenshot), np.asarray(original.screenshot))
        assert back.generation.token_ids == original.generation.token_ids
        assert back.landings == original.landings
    assert np.array_equal(np.asarray(loaded.final_screenshot), np.asarray(trajectory.final_screenshot))
    # The failed turn did not change the screen: its screenshot is written once and shared.
    assert trajectory.steps[3].screenshot_file == trajectory.steps[2].screenshot_file
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "final.png",
        "step_000.png",
        "step_001.png",
        "step_002.png",
    ]


def test_html_report_holds_every_step_image_and_marker(trajectory, tmp_path):
    html = trajectory.to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    sections = re.findall(r'<section class="step" id="step-(\d+)">(.*?)</section>', html, re.S)
    assert [int(i) for i, _ in sections] == [0, 1, 2, 3]
    for _, body in sections:
        assert body.count('<img src="data:image/png;base64,') == 1
    assert 'class="marker" data-x="100" data-y="150"' in sections[0][1] and "left:10%;top:15%" in sections[0][1]
    assert 'class="marker start"' in sections[1][1] and "<line x1=" in sections[1][1]
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "success" in html and "env_terminated" in html


def test_report_markers_land_on_the_clicked_pixels(trajectory, tmp_path):
    path = trajectory.to_html(tmp_path / "report.html")
    with shared_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(path.as_uri())
            for step in trajectory.steps:
                shot = page.locator(f"#step-{step.index} .shot")
                image_box = shot.locator("img").bounding_box()
                for landing, marker in zip(step.landings, shot.locator(".marker:not(.start)").all(), strict=True):
                    box = marker.bounding_box()
                    centre_x = box["x"] + box["width"] / 2
                    centre_y = box["y"] + box["height"] / 2
                    assert abs(centre_x - (image_box["x"] + landing.x / 1000 * image_box["width"])) < 2
                    assert abs(centre_y - (image_box["y"] + landing.y / 1000 * image_box["height"])) < 2
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "report.png").stat().st_size > 0
