"""The reading stage: page words from real Chromium, token targets, and a run on the tiny Qwen3-VL."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest
import torch
import yaml
from safetensors.torch import load_file

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.envs.core.screen import ScreenWord
from pixelpilot.errors import ConfigError
from pixelpilot.rl.checkpoint import EXTRA, MODEL_DIR, step_dir
from pixelpilot.rl.config import ReadingConfig
from pixelpilot.rl.metrics import read_metrics
from pixelpilot.rl.reading import ALPHABET, SHOWS_TEXT, anchor_distance, characters, run_reading, token_targets

CLICK_TEST_2 = "pixelpilot/miniwob-click-test-2-v0"
BUTTONS_JS = """() => [...document.querySelectorAll('button')].map(b => {
  const r = b.getBoundingClientRect();
  return [b.innerText, r.x, r.y, r.width, r.height];
})"""


def test_a_token_fires_the_characters_of_the_words_it_covers() -> None:
    """A 4x3 grid of 10-px tokens: a word over two tokens fires both; a sliver under min_cover fires none."""
    words = [
        ScreenWord("One,", (12.0, 2.0, 28.0, 8.0)),  # tokens (0, 1) and (0, 2), over half of the word each
        ScreenWord("B2", (30.5, 21.0, 39.5, 29.0)),  # inside token (2, 3)
        ScreenWord("zz", (8.0, 12.0, 19.0, 18.0)),  # a sliver of the word inside token (1, 0); most in (1, 1)
    ]
    targets = token_targets(words, (40, 30), (4, 3), min_cover=0.3).view(3, 4, -1)
    cells = [(r, c) for r in range(3) for c in range(4)]
    fired = {(r, c): {ALPHABET[i] for i in range(len(ALPHABET)) if targets[r, c, i]} for r, c in cells}
    assert fired[0, 1] == fired[0, 2] == {"o", "n", "e"}
    assert fired[2, 3] == {"b", "2"}
    assert fired[1, 0] == set() and fired[1, 1] == {"z"}
    shows = {(r, c) for r, c in cells if targets[r, c, SHOWS_TEXT]}
    assert shows == {(0, 1), (0, 2), (2, 3), (1, 1)}
    assert characters("Tab #3!") == {ALPHABET.index(char) for char in "tab3"}


def test_words_on_screen_are_boxed_where_the_screenshot_shows_them() -> None:
    """MiniWoB click-test-2 at its 3x scale: each button's label lies inside that button, in screenshot pixels."""
    env = gym.make(CLICK_TEST_2)
    try:
        observation, _ = env.reset(seed=4)
        words = env.unwrapped.words_on_screen()
        buttons = env.unwrapped.page.evaluate(BUTTONS_JS)
        scale = observation["screenshot"].shape[1] / env.unwrapped.viewport[0]
    finally:
        env.close()
    assert [word.text for word in words[:3]] == ["Click", "button", "ONE."]  # the instruction bar first
    for label, x, y, width, height in buttons:
        (word,) = [word for word in words if word.text == label]
        left, top, right, bottom = word.box
        assert x * scale <= left < right <= (x + width) * scale
        assert y * scale <= top < bottom <= (y + height) * scale
    assert sorted(label for label, *_ in buttons) == ["ONE", "TWO"]


def reading_config(tiny_checkpoint: Path, out: Path, **overrides: object) -> dict:
    return {
        "model": {"path": str(tiny_checkpoint)},
        "output_dir": str(out),
        "steps": 6,
        "batch_size": 4,
        "pages": [{"env_id": CLICK_TEST_2, "num_seeds": 4}],
        "eval": {"tasks": [{"env_id": CLICK_TEST_2, "seed_start": 100, "num_seeds": 2}], "every": 3},
        "optim": {"lr": 3e-3, "micro_batch_size": 2},
        "checkpoint": {"every": 3, "keep": 2},
        "logging": {"progress": False, "plot": False},
        **overrides,
    }


def test_reading_trains_the_vision_tower_only_and_starts_at_its_anchor(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "read"
    path = tmp_path / "read.yaml"
    path.write_text(yaml.safe_dump(reading_config(tiny_checkpoint, out)), encoding="utf-8")
    last = run_reading(path)

    rows = read_metrics(out / "metrics.jsonl")
    assert [row["step"] for row in rows] == list(range(7))
    assert rows[1]["anchor"] == 0.0  # the first step's features are the loaded tower's own
    assert rows[-1]["read_loss"] < rows[1]["read_loss"]
    assert {"read/click-test-2", "read_accuracy"} <= rows[3].keys() and 0.0 <= rows[3]["read_accuracy"] <= 1.0
    before, after = load_file(tiny_checkpoint / "model.safetensors"), load_file(last / MODEL_DIR / "model.safetensors")
    assert before.keys() == after.keys()
    changed = {name for name in before if not torch.equal(before[name], after[name].to(before[name].dtype))}
    assert changed and all(name.startswith("model.visual.") for name in changed)
    assert any(".blocks." in name for name in changed) and any("merger" in name for name in changed)
    head = torch.load(last / EXTRA)
    assert set(head) == {"head.1.weight", "head.1.bias"} and head["head.1.weight"].shape[0] == len(ALPHABET) + 1
    assert sorted(p.name for p in (out / "pages").iterdir()) and step_dir(out, 3).exists()


def test_anchor_distance_is_relative_to_each_levels_scale() -> None:
    anchors = [torch.full((4, 3), 10.0), torch.full((4, 3), 0.1)]
    assert float(anchor_distance(anchors, anchors)) == 0.0
    moved = [anchors[0] + 1.0, anchors[1] + 0.01]  # both 10% off: 0.01 each
    assert float(anchor_distance(moved, anchors)) == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"model": {"freeze_vision_tower": True}}, "freeze_vision_tower"),
        ({"pages": [{"questions": "questions.jsonl"}]}, "reading needs pages"),
    ],
)
def test_configs_that_cannot_read_are_refused_before_the_model_loads(
    tiny_checkpoint: Path, tmp_path: Path, override: dict, problem: str
) -> None:
    data = reading_config(tiny_checkpoint, tmp_path / "out")
    for key, value in override.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    (tmp_path / "questions.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        ReadingConfig.model_validate(data).check()
