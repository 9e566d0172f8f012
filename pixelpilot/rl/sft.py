"""Cold-start SFT: the agent's demonstrations (oracles, saved trajectories), loss on the answer tokens only.

Demonstrations are recorded through the agent's own episodes (see ``demos``), turned into the same
training sequences as RL rollouts, and drawn in batches by the same resumable mixed-family
sampler, so a killed SFT run resumes on the very batch it would have trained next. Recorded
demonstrations are kept in the run's ``demos/`` folder, so a resumed run does not replay its
oracles again (a few minutes of browser work for a MiniWoB mix). The loss is
``sft_loss``: token-mean by default, or the report's square-root normalisation per sample.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from pixelpilot.rl.config import DemoSource, SFTConfig, load_config
from pixelpilot.rl.demos import load_records, oracle_demonstrations, save_records, trajectory_demonstrations
from pixelpilot.rl.dist import shard
from pixelpilot.rl.losses import sft_loss
from pixelpilot.rl.policy import Batch
from pixelpilot.rl.rollout import EpisodeRecord
from pixelpilot.rl.sequences import TrainingSequence, episode_sequences, mark_episodes
from pixelpilot.rl.trainer import Trainer, family_sampler, loss_denominator, micro_batches


def processor_digest(processor: Any) -> str:
    """A digest of everything a processor encodes demonstrations with: equal digests, equal sequences."""
    tokenizer = processor.tokenizer
    parts = (
        tokenizer.backend_tokenizer.to_str(),
        json.dumps(tokenizer.added_tokens_decoder, default=str, sort_keys=True),
        tokenizer.chat_template or "",
        json.dumps(processor.image_processor.to_dict(), default=str, sort_keys=True),
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class SFTTrainer(Trainer[SFTConfig]):
    """Supervised fine-tuning on demonstrations."""

    kind = "sft"

    def __init__(self, config: SFTConfig, *, allow_config_change: bool = False) -> None:
        super().__init__(config, allow_config_change=allow_config_change)
        families: dict[str, tuple[list[TrainingSequence], float]] = {}
        for source in config.demos:
            if source.family in families:
                raise ValueError(f"two demo sources are named {source.family!r}; give them distinct names")
            records = self.demonstrations(source)
            sequences = [
                sequence
                for index, record in enumerate(records)
                for sequence in episode_sequences(record, config.sequence_mode, self.end_token, index)
            ]
            if not sequences:
                raise ValueError(f"demo source {source.family!r} produced no demonstrations")
            families[source.family] = (sequences, source.weight)
        self.sampler = family_sampler(families, config.batch_size, config.seed)

    @cached_property
    def _processor_digest(self) -> str:
        return processor_digest(self.processor)  # a real tokenizer serialises to megabytes: once per run

    def demonstrations(self, source: DemoSource) -> list[EpisodeRecord]:
        """A source's demonstrations, recorded through the agent's episodes (on every rank: deterministic).

        They are cached under ``demos/``, keyed by what is recorded (the oracle's seeds or the trajectories),
        the agent and what encodes them (the tokenizer, chat template and image settings), not by the model's
        weights nor the source's name and weight in the mix: a resumed run, or a later stage whose ``demos/``
        holds a copy, reads them back instead of recording them again, however it weighs them.
        """
        recorded = source.model_dump_json(exclude={"weight", "name"})
        parts = [recorded, self.config.agent.model_dump_json(), self._processor_digest]
        if self.config.demo_clicks != "centre":  # keys of centre-click demonstrations stay what they were
            parts.append(f"clicks={self.config.demo_clicks}")
        key = "\n".join(parts)
        cache = self.output / "demos" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.pkl"
        if cache.exists():
            return load_records(cache)
        agent = self.agent(self.config.agent, self.config.eval.sampling)
        if source.oracle is not None:
            records = oracle_demonstrations(
                source.oracle.queries(), agent.episode, self.processor, self.envs, clicks=self.config.demo_clicks
            )
        else:
            records = trajectory_demonstrations(
                source.trajectory_dirs(),
                agent.episode,
                self.processor,
                self.envs,
                success_only=source.success_only,
            )
        if self.ctx.is_main:
            save_records(cache, records)
        return records

    def train_step(self, step: int) -> dict[str, float]:
        batch = [draw.item for draw in self.sampler.next_batch()]
        mark_episodes(batch)
        aggregation = self.config.aggregation
        denominator = max(loss_denominator(batch, aggregation), 1e-9)
        mine = [sequence for _, sequence in shard(batch, self.ctx)]

        def loss_fn(
            data: Batch, logprobs: torch.Tensor, entropy: torch.Tensor, index: int
        ) -> tuple[torch.Tensor, dict[str, float]]:
            if index < 0:
                return logprobs.sum(), {}
            return sft_loss(logprobs, data.loss_mask, aggregation, denominator, data.unit_tokens), {}

        optim = self.config.optim
        metrics = self.update(micro_batches(mine, optim.micro_batch_size, optim.micro_batch_tokens), loss_fn)
        self.sync_engine()
        return {**metrics, "sequences": float(len(batch))}


def run_sft(config_path: str | Path, overrides: Sequence[str] = (), *, allow_config_change: bool = False) -> Path:
    """``pixelpilot sft CONFIG [KEY=VALUE ...]``: run (or resume) cold-start SFT; returns its last checkpoint."""
    config = load_config(config_path, SFTConfig, overrides)
    return SFTTrainer(config, allow_config_change=allow_config_change).run()
