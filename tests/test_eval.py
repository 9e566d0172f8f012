"""``pixelpilot eval``: Wilson intervals, resuming a killed run, workers that change nothing, the index in Chromium."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pixelpilot.cli import main
from pixelpilot.envs.web.browser import CHROMIUM_ARGS, chromium_executable, shared_playwright
from pixelpilot.rl.eval_run import read_results, run_eval
from pixelpilot.rl.evaluation import EpisodeResult, summarize, wilson_interval

CLICK_TEST = "pixelpilot/miniwob-click-test-v0"
CLICK_BUTTON = "pixelpilot/miniwob-click-button-v0"


def _plain(results: list[EpisodeResult]) -> list[dict]:
    """Results without their wall-clock seconds, sorted: what must not depend on how the run was split."""
    return sorted((r.model_dump(exclude={"seconds"}) for r in results), key=lambda r: (r["task"], r["seed"]))


@pytest.mark.parametrize(
    ("successes", "episodes", "low", "high"),
    [(0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (5, 10, 0.2366, 0.7634), (18, 20, 0.6990, 0.9721)],
)
def test_wilson_interval_matches_published_values(successes: int, episodes: int, low: float, high: float) -> None:
    got = wilson_interval(successes, episodes)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_summaries_per_task_then_overall() -> None:
    results = [
        EpisodeResult(task="a", seed=s, success=s < 3, reward=1.0, steps=1 + s, end_reason="env_terminated", seconds=1)
        for s in range(4)
    ] + [EpisodeResult(task="b", seed=0, success=False, reward=0.0, steps=5, end_reason="max_steps", seconds=3)]
    a, b, overall = summarize(results)
    assert (a.task, a.episodes, a.successes, a.success_rate, a.mean_steps) == ("a", 4, 3, 0.75, 2.5)
    assert (b.task, b.success_rate) == ("b", 0.0)
    assert (overall.task, overall.episodes, overall.successes, overall.mean_seconds) == ("overall", 5, 3, 1.4)


def test_several_workers_give_the_results_of_one(tmp_path: Path) -> None:
    kwargs = {"max_steps": 3}
    one = run_eval([CLICK_TEST, CLICK_BUTTON], "random", range(10000, 10004), tmp_path / "one", workers=1, **kwargs)
    three = run_eval([CLICK_TEST, CLICK_BUTTON], "random", range(10000, 10004), tmp_path / "three", workers=3, **kwargs)
    assert _plain(read_results(tmp_path / "one")) == _plain(read_results(tmp_path / "three"))
    assert [(s.task, s.successes) for s in one] == [(s.task, s.successes) for s in three]
    assert [s.task for s in one] == ["click-test", "click-button", "overall"] and one[-1].episodes == 8


def test_a_real_model_evaluates_the_same_with_any_worker_count(tiny_checkpoint: Path, tmp_path: Path) -> None:
    model = f"hf:{tiny_checkpoint}"
    run_eval([CLICK_BUTTON], model, range(10000, 10003), tmp_path / "one", workers=1, max_steps=2)
    run_eval([CLICK_BUTTON], model, range(10000, 10003), tmp_path / "three", workers=3, max_steps=2)
    one, three = read_results(tmp_path / "one"), read_results(tmp_path / "three")
    assert len(one) == 3 and _plain(one) == _plain(three)
    for result in one:  # every episode's trajectory and report are saved where its line says
        assert (tmp_path / "one" / result.trajectory / "trajectory.json").exists()
        assert (tmp_path / "one" / result.trajectory / "report.html").exists()


def test_a_killed_eval_resumes_without_replaying_episodes(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    command = [
        sys.executable, "-m", "pixelpilot.cli", "eval", "--env", CLICK_BUTTON, "--model", "random",
        "--seeds", "10000:10008", "--workers", "1", "--max-steps", "3", "--out", str(out),
    ]  # fmt: skip
    results = out / "results.jsonl"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if results.exists() and len(results.read_text().splitlines()) >= 2:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the evaluation ended before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)  # the CLI and its browsers, as a kill -9 of the job would
    finally:
        process.wait(timeout=30)
    before = results.read_text().splitlines()
    assert 2 <= len(before) < 8
    with results.open("a") as file:
        file.write('{"task": "click-button", "se')  # the kill may cut a line short: it is ignored

    assert main(["eval", *command[command.index("--env") :]]) == 0
    after = results.read_text().splitlines()
    assert after[: len(before)] == before  # the finished episodes were kept, not played again
    seeds = [json.loads(line)["seed"] for line in after]
    assert sorted(seeds) == list(range(10000, 10008))  # every episode exactly once
    summary = json.loads((out / "summary.json").read_text())
    assert summary["summaries"][-1]["episodes"] == 8


def test_index_html_opens_in_chromium_and_links_every_report(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    assert main(["eval", "--env", CLICK_TEST, "--env", CLICK_BUTTON, "--model", "random", "--seeds", "10000:10003",
                 "--workers", "2", "--max-steps", "2", "--out", str(out)]) == 0  # fmt: skip
    assert (out / "success.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    expected = {r.task: r for r in summarize(read_results(out))}
    with shared_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page()
            page.goto((out / "index.html").as_uri())
            rows = page.locator("#summary tr").all()[1:]
            cells = [row.locator("td").all_inner_texts() for row in rows]
            assert [c[0] for c in cells] == ["click-test", "click-button", "overall"]
            for c in cells:
                assert c[2] == f"{expected[c[0]].success_rate:.1%}" and int(c[1]) == expected[c[0]].episodes
            assert page.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
            links = page.locator("#summary a")
            assert links.count() == 6
            page.locator("#summary details").first.locator("summary").click()
            links.first.click()
            page.wait_for_load_state()
            assert page.url.endswith("/report.html") and "click-test" in page.content()
        finally:
            browser.close()


def test_eval_settings_come_from_flags_a_file_and_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "--env", CLICK_TEST, "--model", "random", "--seeds", "5:5", "--out", "x"])
    assert "empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", "--env", CLICK_TEST, "--model", "random", "--seeds", "a:b", "--out", "x"])
    assert main(["eval", "--model", "random", "--out", "x"]) == 2
    assert "name at least one environment" in capsys.readouterr().out
    out = tmp_path / "eval"
    config = {"model": "random", "envs": [CLICK_BUTTON], "seed_start": 10000, "num_seeds": 3, "out": str(out)}
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["eval", str(path), "num_seeds=2", "max_steps=1", "--workers", "1"]) == 0
    assert [r.seed for r in read_results(out)] == [10000, 10001]
    assert main(["eval", str(path), "--seeds", "10002", "worker=1"]) == 2  # a misspelt key is named
    assert "worker" in capsys.readouterr().out


def test_suites_name_their_environments() -> None:
    from pixelpilot.rl.eval_run import suite_env_ids

    miniwob = suite_env_ids("miniwob")
    assert len(miniwob) == 130 and CLICK_TEST in miniwob and all(i.startswith("pixelpilot/miniwob-") for i in miniwob)
    assert suite_env_ids("android") and not set(suite_env_ids("android")) & set(miniwob)
    with pytest.raises(ValueError, match="no environments"):
        suite_env_ids("nonesuch")
