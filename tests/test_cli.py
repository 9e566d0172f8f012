"""The ``pixelpilot`` command, end to end: list environments, run the tiny checkpoint, view the report."""

from __future__ import annotations

import re
import shutil
import subprocess

import yaml

from pixelpilot.agent import Trajectory
from pixelpilot.cli import main
from pixelpilot.rl.metrics import read_metrics


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


def test_training_under_a_pipe_prints_plain_step_lines_and_config_errors_plainly(tiny_checkpoint, tmp_path):
    """`pixelpilot sft CONFIG KEY=VALUE | cat`: the overrides run; no live bar, one readable line per logged step
    with the time left; a misspelt override key is named, without a traceback."""
    config = {
        "model": {"path": str(tiny_checkpoint)},
        "output_dir": str(tmp_path / "out"),
        "steps": 2,
        "batch_size": 2,
        "agent": {"max_steps": 1},
        "demos": [{"oracle": {"env_id": "pixelpilot/synthetic-click-button-v0", "num_seeds": 2}}],
        "optim": {"lr": 0.01, "micro_batch_size": 2},
        "logging": {"plot": False, "log_every": 2},
    }
    path = tmp_path / "sft.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    executable = shutil.which("pixelpilot")
    command = [executable, "sft", str(path), "optim.lr=0.02", "steps=3"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("sft step")]
    assert [line.split()[2] for line in lines] == ["2/3", "3/3"]  # every 2nd step, and the last
    assert all(re.search(r"loss [\d.e-]+ [\d.]+ s/step ETA \d+s$", line) for line in lines), lines
    assert "Writing model shards" not in done.stderr and "\x1b[" not in done.stdout
    assert f"hf:{tmp_path / 'out' / 'checkpoints' / 'step-000003'}" in done.stdout.replace("\n", "")
    assert [r["lr"] for r in read_metrics(tmp_path / "out" / "metrics.jsonl")] == [0.02] * 3  # the overrides ran

    bad = subprocess.run(
        [executable, "sft", str(path), "optim.lerning_rate=1"], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2 and "lerning_rate" in bad.stdout and "Traceback" not in bad.stdout + bad.stderr


def test_config_reference_lists_every_key_and_docs_are_current(capsys):
    from pathlib import Path

    from pixelpilot.rl.config_reference import document

    assert main(["config", "show", "train"]) == 0
    out = capsys.readouterr().out
    for key in ("`optim.lr`", "`rollout.group_size`", "`tasks.N.env_id`", "`logging.rollouts_every`", "`loss"):
        assert key in out
    docs = Path(__file__).resolve().parents[1] / "docs" / "config.md"
    assert docs.read_text(encoding="utf-8") == document(), "regenerate docs/config.md with config_reference.document()"
