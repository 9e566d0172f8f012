"""Watching an episode as it runs: the report is rewritten after every step and reloads itself in a
real Chromium until the episode ends; ``pixelpilot run --watch`` opens it."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import pytest
from test_agent_loop import ButtonEnv, ScriptedModel, call

from pixelpilot.agent import Agent, Callback, Step
from pixelpilot.agent.live import ReportWriter
from pixelpilot.envs.web.browser import CHROMIUM_ARGS, chromium_executable, shared_playwright


class Reader(Callback):
    """Opens the report in Chromium after each step, as a person watching would see it."""

    def __init__(self, path: Path, page: object) -> None:
        self.path, self.page = path, page
        self.seen: list[tuple[int, bool, str]] = []

    def on_step(self, step: Step) -> None:
        self.page.goto(self.path.as_uri())
        refreshes = self.page.locator('meta[http-equiv="refresh"]').count() == 1
        self.seen.append((self.page.locator("section.step").count(), refreshes, self.page.locator("h1").inner_text()))


def test_the_report_follows_the_episode_and_stops_reloading_at_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *args, **kwargs: opened.append(url))
    path = tmp_path / "report.html"
    script = [call("mouse_move", coordinate=[100, 150]), call("wait", time=0.1)]
    env = ButtonEnv(width=320, height=200)
    with shared_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
        try:
            reader = Reader(path, browser.new_page())
            agent = Agent(ScriptedModel(script), max_steps=5)
            trajectory = agent.run(env, seed=3, callbacks=[ReportWriter(path, open_browser=True), reader])
            page = browser.new_page()
            page.goto(path.as_uri())
            final = (page.locator("section.step").count(), page.locator('meta[http-equiv="refresh"]').count())
        finally:
            browser.close()
            env.close()
    assert opened == [path.resolve().as_uri()]
    assert [(count, refreshes) for count, refreshes, _ in reader.seen] == [(1, True), (2, True), (3, True)]
    assert all("running" in heading for _, _, heading in reader.seen)
    assert trajectory.success and final == (3, 0)
    assert not list(tmp_path.glob("*.partial"))


def test_run_watch_opens_the_report_it_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from pixelpilot.cli import main

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *args, **kwargs: opened.append(url))
    out = tmp_path / "run"
    args = ["run", "--env", "pixelpilot/synthetic-click-button-v0", "--model", "random", "--max-steps", "2"]
    code = main([*args, "--out", str(out), "--watch"])
    report = out / "report.html"
    assert code == 0 and opened == [report.resolve().as_uri()]
    assert f"watching: {report.resolve().as_uri()}" in capsys.readouterr().out
    assert 'http-equiv="refresh"' not in report.read_text(encoding="utf-8")
