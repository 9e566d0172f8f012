"""Metrics backends and the run page: what a run reports to TensorBoard and W&B is read back with their own
readers (TensorBoard's event accumulator, W&B's run-file records), and ``pixelpilot view OUTPUT_DIR``
opens a page that shows the run's curves, last eval, rollouts and checkpoints."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import yaml

from pixelpilot.cli import main
from pixelpilot.rl.metrics import read_metrics
from pixelpilot.rl.sft import run_sft

CLICK = "pixelpilot/synthetic-click-button-v0"
WANDB_BLOCK = 32 * 1024
WANDB_HEADER = 7  # ":W&B", a 2-byte magic, a version byte
WANDB_RECORD_HEADER = 7  # crc32c, 2-byte length, a type byte


def wandb_records(path: Path) -> list:
    """The protobuf records of a W&B run file (``run-ID.wandb``: a LevelDB-style log of 32 KiB blocks)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, pending, offset = [], b"", WANDB_HEADER
    while offset + WANDB_RECORD_HEADER <= len(data):
        left_in_block = WANDB_BLOCK - offset % WANDB_BLOCK
        if left_in_block < WANDB_RECORD_HEADER:
            offset += left_in_block  # block trailer padding
            continue
        _crc, length, kind = struct.unpack("<IHB", data[offset : offset + WANDB_RECORD_HEADER])
        offset += WANDB_RECORD_HEADER
        pending += data[offset : offset + length]
        offset += length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
        elif kind == 0:
            break
    return records


def test_tensorboard_and_wandb_receive_every_step(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tensorboard")
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "run"
    config = {
        "model": {"path": str(tiny_checkpoint)},
        "output_dir": str(out),
        "steps": 3,
        "batch_size": 2,
        "agent": {"max_steps": 1},
        "demos": [{"oracle": {"env_id": CLICK, "num_seeds": 2}}],
        "optim": {"lr": 0.01, "micro_batch_size": 2},
        "checkpoint": {"every": 2},
        "logging": {"progress": False, "report_to": ["jsonl", "tensorboard", "wandb"], "project": "pp-test"},
    }
    path = tmp_path / "sft.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    run_sft(path)
    losses = {record["step"]: record["loss"] for record in read_metrics(out / "metrics.jsonl")}
    assert sorted(losses) == [1, 2, 3]

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    scalars = {event.step: event.value for event in events.Scalars("loss")}
    assert scalars == pytest.approx(losses)

    run_files = list((out / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(run_files) == 1
    records = wandb_records(run_files[0])
    kinds = [record.WhichOneof("record_type") for record in records]
    run = next((record.run for record in records if record.WhichOneof("record_type") == "run"), None)
    assert run is not None, (kinds, run_files[0].stat().st_size)
    assert run.project == "pp-test" and run.display_name == "run" and run.run_id == (out / "wandb-run-id").read_text()
    history = {}
    for record in records:
        if record.WhichOneof("record_type") == "history":
            items = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            if "loss" in items:
                history[items["_step"]] = items["loss"]
    assert history == pytest.approx(losses), kinds
    config_items = {item.key: item.value_json for item in run.config.update}
    assert json.loads(config_items["optim"])["lr"] == 0.01  # the resolved config travels with the run

    assert main(["view", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert '<img src="curves.png"' in page and (out / "curves.png").exists()
    assert "<h2>step 3</h2>" in page and "step-000003" in page and f"--model run:{out}" in page
    assert "<summary>config.yaml</summary>" in page and "<h2>starts</h2>" in page


def test_view_tells_what_it_cannot_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["view", str(tmp_path)]) == 2
    assert "no trajectory, training run or evaluation" in capsys.readouterr().out
