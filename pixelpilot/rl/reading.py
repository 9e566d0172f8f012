"""A reading stage: teach a vision tower which characters each of its image tokens shows.

A model built from random weights (pixelpilot-nano) trains its language model on a vision tower frozen at
random init: trained along with the language model from the start, the tower's features collapse
(docs/nano.md). Frozen random features keep where things are, but not what a short label says, and a
language model's gradient through thousands of demonstrations does not teach the tower to read either.

This stage supervises the tower directly. The browser names every word on a page and its box
(``WebEnv.words_on_screen``); each merged image token is labelled with the characters (a-z, 0-9) of the
words it covers and whether it shows text at all, and a linear head on the projector's output learns to say
them, with binary cross-entropy per character. Only the tower and projector train. An anchor (the
features' mean squared distance from those of the tower as loaded, per level, relative to their mean
square) keeps what a trained language model reads close to what it learnt on, so the SFT stage after
this one adapts instead of starting over. The head serves training only: a checkpoint's ``model/`` is a
plain Qwen3-VL whose tower reads, and the head is kept beside it (``extra.pt``) for a resumed run.
"""

from __future__ import annotations

import copy
import hashlib
import io
import pickle
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from pixelpilot.envs.core.screen import ScreenWord
from pixelpilot.errors import ConfigError
from pixelpilot.rl.checkpoint import EXTRA
from pixelpilot.rl.config import ReadingConfig, TaskSource, load_config
from pixelpilot.rl.dist import all_reduce, shard, unwrap
from pixelpilot.rl.rollout import Environments, Query
from pixelpilot.rl.trainer import Trainer, chunks, family_sampler

ALPHABET = string.ascii_lowercase + string.digits
SHOWS_TEXT = len(ALPHABET)
"""The head's last output: whether the token shows any text."""
OUTPUTS = len(ALPHABET) + 1


@dataclass(frozen=True)
class ReadingPage:
    """A task's first screen (PNG) and the words on it, boxed in the screenshot's pixels."""

    task: str
    seed: int
    png: bytes
    words: tuple[ScreenWord, ...]

    def image(self) -> Image.Image:
        return Image.open(io.BytesIO(self.png)).convert("RGB")


def record_pages(queries: Iterable[Query], envs: Environments) -> list[ReadingPage]:
    """Reset each query's environment with its seed and keep the screenshot and the words it shows."""
    pages = []
    for query in queries:
        (env,) = envs.acquire([query])
        try:
            observation, info = env.reset(seed=query.seed)
            words_on_screen = getattr(env.unwrapped, "words_on_screen", None)
            if words_on_screen is None:
                raise ConfigError(f"{query.env_id} cannot name the words on its screen (web environments can)")
            words = tuple(words_on_screen())
        finally:
            envs.release(query, env)
        buffer = io.BytesIO()
        Image.fromarray(observation["screenshot"]).save(buffer, format="PNG")
        task = str(info.get("task") or query.family or query.env_id)
        pages.append(ReadingPage(task, query.seed, buffer.getvalue(), words))
    return pages


def characters(text: str) -> set[int]:
    """The head's outputs a word turns on: its letters and digits, case folded."""
    return {ALPHABET.index(char) for char in re.sub(f"[^{ALPHABET}]", "", text.lower())}


def token_targets(
    words: Sequence[ScreenWord], size: tuple[int, int], cells: tuple[int, int], min_cover: float
) -> torch.Tensor:
    """One row per merged token (row-major, the order the projector emits them): which outputs it should fire.

    ``size`` is the screenshot's (width, height) and ``cells`` the tokens across and down. A token shows a
    word when their overlap covers ``min_cover`` of the word's box, or of the token when that is smaller;
    a token that shows several words fires the characters of all of them.
    """
    width, height = size
    columns, rows = cells
    cell_w, cell_h = width / columns, height / rows
    targets = torch.zeros(rows * columns, OUTPUTS)
    for text, (left, top, right, bottom) in words:
        fired = sorted(characters(text))
        if not fired:
            continue
        least = min(max(right - left, 1e-6) * max(bottom - top, 1e-6), cell_w * cell_h)
        for row in range(max(int(top // cell_h), 0), min(int(bottom // cell_h) + 1, rows)):
            for column in range(max(int(left // cell_w), 0), min(int(right // cell_w) + 1, columns)):
                across = min(right, (column + 1) * cell_w) - max(left, column * cell_w)
                down = min(bottom, (row + 1) * cell_h) - max(top, row * cell_h)
                if across > 0 and down > 0 and across * down >= min_cover * least:
                    targets[row * columns + column, fired] = 1.0
                    targets[row * columns + column, SHOWS_TEXT] = 1.0
    return targets


class Reader(nn.Module):
    """The Qwen3-VL model, whose vision tower learns, and the linear head that reads its tokens."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        width = model.config.vision_config.out_hidden_size
        # Normalised first, so the head's start does not depend on the scale the projector's output has.
        self.head = nn.Sequential(nn.LayerNorm(width, elementwise_affine=False), nn.Linear(width, OUTPUTS))

    def forward(
        self, pixel_values: torch.Tensor, image_grid_thw: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The features the language model receives (projector output, then each DeepStack level) and the logits."""
        output = self.model.model.visual(pixel_values, grid_thw=image_grid_thw)
        return [output.pooler_output, *output.deepstack_features], self.head(output.pooler_output)


def anchor_distance(features: Sequence[torch.Tensor], anchors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Sum over levels of the mean squared difference, relative to the anchor's mean square."""
    pairs = zip(features, anchors, strict=True)
    return sum(
        ((level - anchor).pow(2).mean() / anchor.pow(2).mean().clamp_min(1e-12) for level, anchor in pairs),
        start=torch.zeros(()),
    )


def reading_loss(logits: torch.Tensor, targets: torch.Tensor, empty_weight: float) -> torch.Tensor:
    """Binary cross-entropy summed over outputs, weighted per token (``empty_weight`` where no text shows)."""
    per_token = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(-1)
    weights = torch.where(targets[:, SHOWS_TEXT] > 0, 1.0, empty_weight)
    return (per_token * weights).sum() / weights.sum().clamp_min(1e-12)


class ReadingTrainer(Trainer[ReadingConfig]):
    """Trains the vision tower and projector to read; the language model stays as loaded."""

    kind = "read"

    def __init__(self, config: ReadingConfig, *, allow_config_change: bool = False) -> None:
        super().__init__(config, allow_config_change=allow_config_change)
        self.anchor_tower = self._anchor_tower() if config.anchor > 0 else None
        families = {source.family: (self.pages(source), source.weight) for source in config.pages}
        self.sampler = family_sampler(families, config.batch_size, config.seed)
        self.held_out = [page for source in config.eval.tasks for page in self.pages(source)]

    def _policy(self, temperature: float) -> nn.Module:
        """The model, its language model frozen here, and the head (a resumed run's own, from ``extra.pt``)."""
        tower = {id(parameter) for parameter in self.hf.model.model.visual.parameters()}
        for parameter in self.hf.model.parameters():
            if id(parameter) not in tower:
                parameter.requires_grad_(False)
        reader = Reader(self.hf.model)
        if self.resume_from is not None:
            saved = torch.load(self.resume_from / EXTRA, map_location="cpu")
            reader.head.load_state_dict({key.removeprefix("head."): value for key, value in saved.items()})
        return reader

    def _anchor_tower(self) -> nn.Module:
        """The tower as the config's model holds it (not a resumed checkpoint's), frozen."""
        if self.resume_from is None:
            tower = copy.deepcopy(self.hf.model.model.visual)
        else:
            from transformers import AutoModelForImageTextToText

            tower = AutoModelForImageTextToText.from_pretrained(self.base_path, dtype=torch.float32).model.visual
        tower.to(self.ctx.device).eval()
        for parameter in tower.parameters():
            parameter.requires_grad_(False)
        return tower

    def pages(self, source: TaskSource) -> list[ReadingPage]:
        """A source's pages, recorded once and kept under ``pages/`` (keyed by the source only)."""
        key = hashlib.sha256(source.model_dump_json().encode()).hexdigest()[:16]
        cache = self.output / "pages" / f"{key}.pkl"
        if cache.exists():
            return pickle.loads(cache.read_bytes())
        pages = record_pages(source.queries(), self.envs)
        if self.ctx.is_main:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(pickle.dumps(pages))
        return pages

    def encode(self, pages: Sequence[ReadingPage]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pixel values and grids as the processor makes them, and each token's targets."""
        images = [page.image() for page in pages]
        inputs = self.processor.image_processor(images=images, return_tensors="pt")
        merge = self.hf.model.config.vision_config.spatial_merge_size
        targets = [
            token_targets(page.words, image.size, (int(grid[2]) // merge, int(grid[1]) // merge), self.config.min_cover)
            for page, image, grid in zip(pages, images, inputs["image_grid_thw"], strict=True)
        ]
        device = self.ctx.device
        return inputs["pixel_values"].to(device), inputs["image_grid_thw"].to(device), torch.cat(targets).to(device)

    def train_step(self, step: int) -> dict[str, float]:
        pages = [draw.item for draw in self.sampler.next_batch()]
        mine = [page for _, page in shard(pages, self.ctx)]
        config = self.config
        self.trained.train()
        sums = {"loss": 0.0, "read_loss": 0.0, "anchor": 0.0}
        for micro in chunks(mine, config.optim.micro_batch_size):
            pixel_values, grid, targets = self.encode(micro)
            features, logits = self.trained(pixel_values, grid)
            read = reading_loss(logits, targets, config.empty_weight)
            anchor = torch.zeros(())
            if self.anchor_tower is not None:
                with torch.no_grad():
                    output = self.anchor_tower(pixel_values, grid_thw=grid)
                anchor = anchor_distance(features, [output.pooler_output, *output.deepstack_features])
            loss = (read + config.anchor * anchor) * len(micro) / len(pages)
            (loss * self.ctx.world_size).backward()
            for key, value in (("loss", loss), ("read_loss", read * len(micro) / len(pages))):
                sums[key] += float(value.detach())
            sums["anchor"] += float(anchor.detach()) * len(micro) / len(pages)
        norm = self._clip()
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.trained.eval()
        return {**all_reduce(sums, self.ctx), "grad_norm": norm, "lr": self.scheduler.get_last_lr()[0]}

    def evaluate(self) -> dict[str, float]:
        """Per task, the share of held-out text tokens whose characters (and only those) the head names."""
        if not self.held_out:
            return {}
        counts: dict[str, float] = {}
        reader = unwrap(self.trained)
        mine = [page for _, page in shard(self.held_out, self.ctx)]
        with torch.no_grad():
            for micro in chunks(mine, self.config.optim.micro_batch_size):
                pixel_values, grid, targets = self.encode(micro)
                _, logits = reader(pixel_values, grid)
                right = ((logits > 0) == (targets > 0)).all(-1)
                shows = targets[:, SHOWS_TEXT] > 0
                tokens = [int(g.prod()) // self.hf.model.config.vision_config.spatial_merge_size**2 for g in grid]
                for page, page_right, page_shows in zip(micro, right.split(tokens), shows.split(tokens), strict=True):
                    counts[f"n/{page.task}"] = counts.get(f"n/{page.task}", 0.0) + float(page_shows.sum())
                    counts[f"hits/{page.task}"] = counts.get(f"hits/{page.task}", 0.0) + float(
                        (page_right & page_shows).sum()
                    )
        totals = all_reduce(counts, self.ctx)
        tasks = sorted(key[2:] for key in totals if key.startswith("n/"))
        metrics = {f"read/{task}": totals[f"hits/{task}"] / max(totals[f"n/{task}"], 1.0) for task in tasks}
        hits = sum(totals[f"hits/{task}"] for task in tasks)
        metrics["read_accuracy"] = hits / max(sum(totals[f"n/{task}"] for task in tasks), 1.0)
        return metrics


def run_reading(config_path: str | Path, overrides: Sequence[str] = (), *, allow_config_change: bool = False) -> Path:
    """``pixelpilot read CONFIG [KEY=VALUE ...]``: run (or resume) a reading stage; returns its last checkpoint."""
    config = load_config(config_path, ReadingConfig, overrides)
    return ReadingTrainer(config, allow_config_change=allow_config_change).run()
