"""The ``pixelpilot`` command, end to end: list environments, run the tiny checkpoint, view the report."""

from __future__ import annotations

import shutil
import subprocess

from pixelpilot.agent import Trajectory
from pixelpilot.cli import main


def test_envs_lists_every_miniwob_task_with_its_suite(capsys):
    assert main(["envs", "--suite", "miniwob"]) == 0
    out = capsys.readouterr().out
    assert "pixelpilot/miniwob-click-button-v0" in out and "130 environment(s)" in out


def test_console_script_is_installed():
    executable = shutil.which("pixelpilot")
    assert executable is not None, "pip install -e . should put the pixelpilot command on PATH"
    done = subprocess.run([executable, "--help"], capture_output=True, text=True, check=True)
    for command in ("run", "envs", "view", "tiny-checkpoint"):
        assert command in done.stdout


def test_run_then_view_writes_the_trajectory_and_report(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(
        [
            "run",
            "--env",
            "pixelpilot/miniwob-click-button-v0",
            "--model",
            f"hf:{tiny_checkpoint}",
            "--max-steps",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    trajectory = Trajectory.load(out)
    assert len(trajectory.steps) == 3 and trajectory.end_reason == "max_steps"
    assert trajectory.env_id == "pixelpilot/miniwob-click-button-v0"
    assert all(step.generation is not None and step.generation.token_ids for step in trajectory.steps)
    (out / "report.html").unlink()
    assert main(["view", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert trajectory.instruction.replace('"', "&quot;") in html or trajectory.instruction in html


def test_a_bad_model_spec_is_a_clear_error_not_a_traceback(capsys):
    code = main(["run", "--env", "pixelpilot/miniwob-click-button-v0", "--model", "ftp:nowhere"])
    assert code == 2
    assert "unknown model backend" in capsys.readouterr().out
