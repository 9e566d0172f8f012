"""The RL trainer, and the machinery it shares with SFT: setup, the accumulated update, checkpoints, metrics.

One RL step: draw queries (mixed task families) → G multi-turn rollouts each → hybrid reward →
drop queries whose binary pass rate says they teach nothing → group advantages → training
sequences from the sampled ids → π_old (the sampler's log-probs, or recomputed) → ``policy_loss``
(SAPO by default, GRPO's clip as the alternative, TIS when another engine sampled) → AdamW step
→ weights to the generation engine.

The engine is the transformers backend sharing the trained module, so a step's new weights are
sampled from at once; under FSDP (sharded weights), with vLLM or when rollouts run one step ahead
it is a separate copy that gets the full weights through ``load_weights`` before it samples.

One step off-policy (``rollout.off_policy_steps: 1``), the next step's rollout plays on a thread
while this step trains, on the weights from before this step's update; every turn carries the step
of the weights that sampled it, and the update recomputes π_old and corrects the lag with TIS.

Every process runs the same loop on its shard of the queries. Losses are normalised by counts
summed over ranks and every rank runs the same number of forward/backward passes (padding with
zero-weight passes), so N processes compute the single-process loss and gradient.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import torch
from PIL import Image
from rich.console import Console

from pixelpilot.agent import Agent
from pixelpilot.model.base import ChatModel, SamplingParams
from pixelpilot.model.hf import HFModel, vision_token_ids
from pixelpilot.rl.advantages import group_advantages
from pixelpilot.rl.checkpoint import MODEL_DIR, latest_checkpoint, load_checkpoint, save_checkpoint
from pixelpilot.rl.config import AgentConfig, OptimConfig, RLConfig, TaskSource, load_config
from pixelpilot.rl.dist import (
    DistContext,
    all_reduce,
    barrier,
    full_model_state,
    init_distributed,
    resolve_strategy,
    shard,
    shutdown,
    unwrap,
    wrap,
)
from pixelpilot.rl.evaluation import evaluate
from pixelpilot.rl.filtering import MixedTaskConfig, MixedTaskSampler, filter_queries
from pixelpilot.rl.losses import Aggregation, normaliser, policy_loss
from pixelpilot.rl.metrics import MetricsLogger, plot_curves
from pixelpilot.rl.policy import Batch, TokenLogprobs, WithoutAdapters, collate, scorable
from pixelpilot.rl.progress import StepReporter
from pixelpilot.rl.rewards.base import RolloutRecord
from pixelpilot.rl.rewards.hybrid import build_hybrid
from pixelpilot.rl.rollout import (
    Environments,
    EnvPool,
    EpisodeRecord,
    Query,
    collect_rollouts,
    mix_seed,
)
from pixelpilot.rl.rollout_log import ScoredEpisode, save_rollouts
from pixelpilot.rl.run_folder import check_resume, write_run_files
from pixelpilot.rl.sequences import (
    TrainingSequence,
    encode_prompt,
    end_token_id,
    episode_sequences,
    mark_episodes,
)
from pixelpilot.rl.trackers import Tracker, open_trackers
from pixelpilot.tools import image_zoom_in_tool

log = logging.getLogger(__name__)
console = Console(stderr=True)

RunConfig = TypeVar("RunConfig", bound=Any)
LossFn = Callable[[Batch, torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, dict[str, float]]]
"""``(batch, logprobs, entropy, micro-batch index) -> (loss, metrics)`` of one micro-batch."""
Played = tuple[list[EpisodeRecord], list[Any], list[str], int]
"""A step's rollout: its episodes, their scores, the groups the filter kept, the rounds played."""


def loss_denominator(sequences: list[TrainingSequence], mode: Aggregation) -> float:
    """This batch's normaliser for ``aggregate``; summed over ranks it is the whole step's."""
    counts = torch.tensor([float(s.generated) for s in sequences], dtype=torch.float64)
    units = torch.tensor([float(s.unit_tokens) for s in sequences], dtype=torch.float64)
    return float(normaliser(counts, mode, units))


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def micro_batches(
    sequences: list[TrainingSequence], size: int, token_budget: int | None
) -> list[list[TrainingSequence]]:
    """Sequences per forward pass: ``size`` at a time, or packed up to ``token_budget`` padded tokens.

    Packing goes longest first, so each pass pads to a length close to its rows' own (as verl's dynamic
    batch size does); a sequence longer than the budget gets a pass of its own. The loss is normalised
    over the whole step, so how sequences are split does not change the gradient.
    """
    if token_budget is None:
        return chunks(sequences, size)
    passes: list[list[TrainingSequence]] = []
    for sequence in sorted(sequences, key=lambda s: len(s.input_ids), reverse=True):
        current = passes[-1] if passes else None
        if current and len(current[0].input_ids) * (len(current) + 1) <= token_budget:
            current.append(sequence)  # rows pad to the first (longest) row of the pass
        else:
            passes.append([sequence])
    return passes


def build_agent(model: ChatModel, config: AgentConfig, sampling: SamplingParams) -> Agent:
    tools = [image_zoom_in_tool] if "image_zoom_in_tool" in config.tools else []
    return Agent(
        model,
        max_steps=config.max_steps,
        tools=tools,
        history_images=config.history_images,
        sampling=sampling,
        max_failures=config.max_failures,
        max_repeats=config.max_repeats,
        role_prompt=config.role_prompt,
        prompt_style=config.prompt_style,
        history_layout=config.history_layout,
    )


def family_sampler(families: dict[str, tuple[list[Any], float]], batch_size: int, seed: int) -> MixedTaskSampler:
    """A resumable sampler over named families with their weights."""
    return MixedTaskSampler(
        {name: items for name, (items, _) in families.items()},
        MixedTaskConfig(
            ratios={name: weight for name, (_, weight) in families.items()}, batch_size=batch_size, seed=seed
        ),
    )


def task_families(tasks: list[TaskSource]) -> dict[str, tuple[list[Query], float]]:
    families: dict[str, tuple[list[Query], float]] = {}
    for source in tasks:
        if source.family in families:
            raise ValueError(f"two task sources are named {source.family!r}; give them distinct names")
        families[source.family] = (source.queries(), source.weight)
    return families


def enable_checkpointing(model: Any) -> None:
    """Recompute each decoder layer's activations in the backward pass (non-reentrant, so DDP/FSDP work)."""
    modern = getattr(model, "activation_checkpointing_enable", None)  # transformers >= 5.2x renamed it
    if modern is not None:
        modern(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


PROJECTOR_PREFIXES = ("merger.", "deepstack_merger_list.")


def vision_tower_parameters(model: Any) -> list[torch.nn.Parameter]:
    """The ViT's own weights of a Qwen3-VL model (patch and position embeddings, blocks), not the projector's."""
    return [p for name, p in model.model.visual.named_parameters() if not name.startswith(PROJECTOR_PREFIXES)]


def freeze_vision(model: Any, *, tower: bool, projector: bool) -> None:
    """Stop training the vision tower and/or the projector of a Qwen3-VL model (their weights stay as loaded).

    A model whose LM starts untrained can learn to drown its image tokens in one large shared vector
    instead of reading them; frozen (even at random init) they keep what tells images apart.
    """
    in_tower = {id(parameter) for parameter in vision_tower_parameters(model)}
    for parameter in model.model.visual.parameters():
        if tower if id(parameter) in in_tower else projector:
            parameter.requires_grad_(False)


def base_lrs(optim: OptimConfig) -> list[float]:
    """Each optimizer group's rate before the schedule: everything at ``lr``, or the ViT apart (second)."""
    return [optim.lr] if optim.vision_tower_lr is None else [optim.lr, optim.vision_tower_lr]


def parameter_groups(model: Any, trained: torch.nn.Module, optim: OptimConfig) -> list[dict[str, Any]]:
    """The optimizer's groups over ``trained``'s parameters, in ``base_lrs`` order (``model`` names the ViT)."""
    parameters = [parameter for parameter in trained.parameters() if parameter.requires_grad]
    if optim.vision_tower_lr is None:
        return [{"params": parameters}]
    in_tower = {id(parameter) for parameter in vision_tower_parameters(model)}
    rest = [parameter for parameter in parameters if id(parameter) not in in_tower]
    tower = [parameter for parameter in parameters if id(parameter) in in_tower]
    return [{"params": group, "lr": lr} for group, lr in zip((rest, tower), base_lrs(optim), strict=True)]


def _dummy_sequence(processor: Any) -> TrainingSequence:
    """A one-image prompt whose last token counts as generated: the input of zero-weight padding passes."""
    image = Image.new("RGB", (64, 64), (128, 128, 128))
    conversation = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "."}]}]
    ids, images = encode_prompt(processor, conversation)
    return TrainingSequence(
        input_ids=ids, loss_mask=[0] * (len(ids) - 1) + [1], logprobs=[0.0] * len(ids), images=images
    )


class Trainer(Generic[RunConfig]):
    """Setup and update shared by SFT and RL; subclasses define ``train_step`` and their data state."""

    kind = "run"
    sampler: MixedTaskSampler
    """The resumable draw of the subclass's data (demonstrations, pages, queries)."""

    def __init__(self, config: RunConfig, temperature: float = 1.0, *, allow_config_change: bool = False) -> None:
        config.check()
        self.config = config
        self.ctx: DistContext = init_distributed(config.model.device, config.distributed.timeout_s)
        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)
        self.output = Path(config.output_dir)
        if self.ctx.is_main:
            self.output.mkdir(parents=True, exist_ok=True)
            config.model.resolve()  # builds a tiny checkpoint once, before the other ranks read it
        barrier(self.ctx)
        self.base_path = config.model.resolve()
        self.resume_from = latest_checkpoint(self.output) if config.checkpoint.resume else None
        if self.resume_from is not None:
            check_resume(self.output, config, allow_change=allow_config_change)
        # Trackers start before the model loads: a W&B login that fails costs seconds, not a model load.
        self.metrics = MetricsLogger(self.output, enabled=self.ctx.is_main, trackers=self._trackers())
        # A LoRA run always loads its base; a resumed one then puts its saved adapter back on it.
        resumed_weights = self.resume_from is not None and config.model.lora is None
        path = str(self.resume_from / MODEL_DIR) if resumed_weights else self.base_path
        self.strategy = resolve_strategy(config.distributed.strategy, self.ctx)
        device = str(self.ctx.device)
        self.hf = HFModel(
            path, device=device, dtype=torch.float32, attn_implementation=config.model.attn_implementation
        )
        self.processor = self.hf.processor
        self.tokenizer = self.hf.tokenizer
        self.end_token = end_token_id(self.tokenizer)
        model_config = self.hf.model.config
        self.image_token = model_config.image_token_id
        self.placeholders = list(vision_token_ids(model_config))
        if config.model.gradient_checkpointing:
            enable_checkpointing(self.hf.model)
        self.adapter = self._adapters()
        if self.adapter is None:
            freeze_vision(
                self.hf.model,
                tower=config.model.freeze_vision_tower,
                projector=config.model.freeze_multi_modal_projector,
            )
        self.policy = self._policy(temperature)
        layers = list(self.hf.model.model.language_model.layers)
        self.trained = wrap(self.policy, layers, self.strategy, self.ctx)
        self.engine: ChatModel = self._engine(path)
        optim = config.optim
        self.optimizer = torch.optim.AdamW(
            parameter_groups(self.hf.model, self.trained, optim),
            lr=optim.lr,
            betas=optim.betas,
            eps=optim.eps,
            weight_decay=optim.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.autocast_dtype = self._autocast_dtype()
        if isinstance(self.engine, HFModel):
            self.engine.autocast = self._compute_dtype()
        self.envs = self._environments()
        self.step = 0
        self._dummy = _dummy_sequence(self.processor)

    # -- setup -------------------------------------------------------------------------------------

    def _environments(self) -> Environments:
        return EnvPool()

    def _policy(self, temperature: float) -> torch.nn.Module:
        """The module the optimizer trains (its ``model`` is the Hugging Face model): token log-probabilities."""
        return TokenLogprobs(self.hf.model, temperature)

    def _adapters(self) -> Any:
        """The PeftModel of a LoRA run (fresh adapters, or the checkpoint's on resume); None otherwise."""
        lora = self.config.model.lora
        if lora is None:
            return None
        from pixelpilot.model.lora import add_adapters, load_adapters, trainable_parameters

        if self.resume_from is not None:
            adapted = load_adapters(self.hf.model, self.resume_from / MODEL_DIR, trainable=True)
        else:
            adapted = add_adapters(self.hf.model, self.base_path, **lora.model_dump())
        if self.ctx.is_main:
            trained, total = trainable_parameters(self.hf.model)
            console.print(f"LoRA r={lora.r}: training {trained:,} of {total:,} weights ({trained / total:.2%})")
        return adapted

    def _trackers(self) -> list[Tracker]:
        if not self.ctx.is_main:
            return []
        settings = self.config.logging
        return open_trackers(
            settings.report_to,
            self.output,
            self.config.model_dump(mode="json"),
            project=settings.project,
            run_name=settings.run_name,
        )

    def _engine(self, path: str) -> ChatModel:
        """The sampling engine: the trained module itself unless its weights are sharded."""
        return self._engine_copy(path) if self.strategy == "fsdp" else self.hf

    def _engine_copy(self, path: str, dtype: torch.dtype | None = None) -> HFModel:
        """A separate copy of the weights to sample from, which ``sync_engine`` keeps up to date."""
        return HFModel(
            path, device=str(self.ctx.device), dtype=dtype, attn_implementation=self.config.model.attn_implementation
        )

    def _autocast_dtype(self) -> torch.dtype | None:
        dtype = self.config.model.dtype
        if self.strategy == "fsdp" or dtype == "float32":
            return None  # FSDP casts through its mixed-precision policy
        if dtype == "bfloat16" or self.ctx.device.type == "cuda":
            return torch.bfloat16
        return None

    def _compute_dtype(self) -> torch.dtype | None:
        """The precision of the training forward (autocast, or FSDP's bf16 parameters on GPU): the sampler's too."""
        if self.strategy == "fsdp" and self.ctx.device.type == "cuda":
            return torch.bfloat16
        return self.autocast_dtype

    def _lr_factor(self, step: int) -> float:
        optim = self.config.optim
        if optim.warmup_steps and step < optim.warmup_steps:
            return (step + 1) / optim.warmup_steps
        if optim.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - optim.warmup_steps) / max(1, self.config.steps - optim.warmup_steps))
        if optim.schedule == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    def agent(self, config: AgentConfig, sampling: SamplingParams) -> Agent:
        return build_agent(self.engine, config, sampling)

    # -- the update --------------------------------------------------------------------------------

    @contextmanager
    def _autocast(self) -> Iterator[None]:
        if self.autocast_dtype is None:
            yield
            return
        with torch.autocast(device_type=self.ctx.device.type, dtype=self.autocast_dtype):
            yield

    def _batch(self, sequences: list[TrainingSequence]) -> Batch:
        return collate(sequences, self.processor.image_processor, self.hf.pad_token_id, self.image_token).to(
            self.ctx.device
        )

    def _padded(self, micro_batches: list[list[TrainingSequence]]) -> Iterator[tuple[int, bool, bool, Batch]]:
        """Every rank's micro-batches, padded with zero-weight dummies to the most any rank has.

        Yields ``(index, real, last, batch)``; each batch is collated and moved to the device only when
        its turn comes, so a step holds one micro-batch's pixels on the accelerator, not all of them.
        """
        count = int(all_reduce({"n": float(len(micro_batches))}, self.ctx, op="max")["n"])
        for index in range(count):
            real = index < len(micro_batches)
            yield index, real, index == count - 1, self._batch(micro_batches[index] if real else [self._dummy])

    @torch.no_grad()
    def score(
        self, micro_batches: list[list[TrainingSequence]], module: torch.nn.Module | None = None
    ) -> list[torch.Tensor]:
        """Log-probs of every micro-batch's tokens under the current (or given) weights, without gradient."""
        module = module or self.trained
        scored = []
        for _index, real, _last, batch in self._padded(micro_batches):
            with self._autocast():
                logprobs, _ = module(**batch.model_inputs)
            if real:
                scored.append(logprobs.float())
        return scored

    def update(self, micro_batches: list[list[TrainingSequence]], loss_fn: LossFn) -> dict[str, float]:
        """Accumulate the gradients of all micro-batches (all ranks), clip, and take one optimizer step."""
        self.trained.train()
        sums: dict[str, float] = {}
        peaks: dict[str, float] = {}
        for index, real, last, batch in self._padded(micro_batches):
            with self._gradient_sync(last):
                with self._autocast():
                    logprobs, entropy = self.trained(**batch.model_inputs)
                loss, metrics = loss_fn(batch, logprobs.float(), entropy, index if real else -1)
                (loss * (self.ctx.world_size if real else 0.0)).backward()
            if real:
                tokens = float(batch.loss_mask.sum())
                sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
                sums["tokens"] = sums.get("tokens", 0.0) + tokens
                sums["entropy_sum"] = sums.get("entropy_sum", 0.0) + float(entropy[batch.loss_mask].sum())
                for key, value in metrics.items():
                    if key.endswith("_max"):
                        peaks[key] = max(peaks.get(key, value), value)
                    elif key == "policy_loss":  # already normalised over the whole step, like the loss
                        sums[key] = sums.get(key, 0.0) + value
                    elif key != "tokens":
                        sums[f"{key}_sum"] = sums.get(f"{key}_sum", 0.0) + value * tokens
        norm = self._clip()
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.trained.eval()
        totals = all_reduce(sums, self.ctx)
        tokens = max(1.0, totals.pop("tokens", 0.0))
        result = {"loss": totals.pop("loss", 0.0), "tokens_trained": tokens, "grad_norm": norm}
        if "policy_loss" in totals:
            result["policy_loss"] = totals.pop("policy_loss")
        result.update({key[: -len("_sum")]: value / tokens for key, value in totals.items()})
        result.update(all_reduce(peaks, self.ctx, op="max"))
        result["lr"] = self.scheduler.get_last_lr()[0]
        return result

    def _gradient_sync(self, sync: bool) -> AbstractContextManager[Any]:
        """Reduce gradients over ranks on a step's last micro-batch only (DDP's no_sync, FSDP2's flag)."""
        if hasattr(self.trained, "set_requires_gradient_sync"):
            self.trained.set_requires_gradient_sync(sync)
            return nullcontext()
        if sync or not hasattr(self.trained, "no_sync"):
            return nullcontext()
        return self.trained.no_sync()

    def _clip(self) -> float:
        limit = self.config.optim.max_grad_norm
        norm = torch.nn.utils.clip_grad_norm_(self.trained.parameters(), limit if limit is not None else float("inf"))
        full = getattr(norm, "full_tensor", None)
        return float(full() if callable(full) else norm)

    def sync_engine(self) -> None:
        """Give the sampling engine the new weights, when it does not share them."""
        if self.engine is self.hf:
            return
        if self.adapter is not None:
            from pixelpilot.model.lora import merged_state

            self.engine.load_weights(merged_state(self.adapter))
            return
        state = full_model_state(self.trained, everywhere=True)
        self.engine.load_weights({k.removeprefix("model."): v for k, v in state.items()})

    # -- evaluation, checkpoints, the loop ---------------------------------------------------------

    def evaluate(self) -> dict[str, float]:
        """Success on the held-out eval tasks, one episode per query, summed over ranks."""
        config = self.config.eval
        if not config.tasks:
            return {}
        queries = [query for source in config.tasks for query in source.queries()]
        mine = [query for _, query in shard(queries, self.ctx)]
        agent = self.agent(self.config.agent, config.sampling)
        # Each episode samples with a seed of its own query: the same results however ranks split the list.
        result = evaluate(
            agent, mine, self.envs, sampling=config.sampling, sampling_seed=config.seed, batch_size=config.batch_size
        )
        counts = {"episodes": result.episodes, "successes": result.successes}
        for episode in result.results:
            counts[f"n/{episode.task}"] = counts.get(f"n/{episode.task}", 0) + 1
            counts[f"hits/{episode.task}"] = counts.get(f"hits/{episode.task}", 0) + int(episode.success)
        totals = all_reduce(counts, self.ctx)
        metrics = {
            "eval_success_rate": totals["successes"] / max(1.0, totals["episodes"]),
            "eval_episodes": totals["episodes"],
        }
        for key in [k for k in totals if k.startswith("n/")]:
            name = key[2:]
            metrics[f"eval/{name}"] = totals[f"hits/{name}"] / max(1.0, totals[key])
        return metrics

    def data_state(self) -> dict[str, Any]:
        """Where the data stands, saved with each checkpoint: the position of the subclass's ``sampler``."""
        return {"sampler": self.sampler.state_dict()}

    def load_data_state(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state["sampler"])

    def train_step(self, step: int) -> dict[str, float]:
        raise NotImplementedError

    def save(self) -> Path:
        path = save_checkpoint(
            self.output,
            self.step,
            ctx=self.ctx,
            policy=unwrap(self.trained),
            hf_model=self.hf.model,
            processor=self.processor,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            trainer_state={"kind": self.kind, "data": self.data_state()},
            keep=self.config.checkpoint.keep,
            adapter=self.adapter,
        )
        if self.ctx.is_main and self.config.logging.plot:
            plot_curves(self.metrics.path)
        return path

    def resume(self) -> None:
        if self.resume_from is None:
            self.metrics.truncate_after(-1)  # killed before its first checkpoint: the run starts over, records too
            return
        state = load_checkpoint(
            self.resume_from,
            ctx=self.ctx,
            policy=unwrap(self.trained),
            optimizer=self.optimizer,
            scheduler=self.scheduler,
        )
        self.step = int(state["step"])
        self.load_data_state(state["data"])
        self.metrics.truncate_after(self.step)
        self._apply_optim_config()
        if self.ctx.is_main:
            console.print(f"resuming from step {self.step} ({self.resume_from})", soft_wrap=True, highlight=False)

    def _apply_optim_config(self) -> None:
        """Give the restored optimizer and schedule the config's hyperparameters (changed ones take effect)."""
        optim = self.config.optim
        rates = base_lrs(optim)
        for group, base in zip(self.optimizer.param_groups, rates, strict=True):
            group.update(initial_lr=base, betas=optim.betas, eps=optim.eps, weight_decay=optim.weight_decay)
            group["lr"] = base * self._lr_factor(self.step)  # LambdaLR's value after `step` steps
        self.scheduler.base_lrs = rates

    def saves_after(self, step: int) -> bool:
        """Whether ``run`` checkpoints at the end of ``step``."""
        every = self.config.checkpoint.every
        return bool(every and step % every == 0) or step == self.config.steps

    def run(self) -> Path:
        """Train to ``config.steps``, checkpointing as configured; returns the last checkpoint."""
        config = self.config
        try:
            self.resume()
            if self.ctx.is_main:
                write_run_files(self.output, config, self.step)
            self.trained.eval()
            if self.step == 0 and config.eval.tasks:
                self.metrics.log(0, self.evaluate())
            last: Path | None = None
            reporter = StepReporter(
                self.kind,
                config.steps,
                self.step,
                enabled=self.ctx.is_main and config.logging.progress,
                every=config.logging.log_every,
            )
            with reporter:
                while self.step < config.steps:
                    self.step += 1
                    metrics = self.train_step(self.step)
                    every = config.eval.every
                    if config.eval.tasks and ((every and self.step % every == 0) or self.step == config.steps):
                        metrics.update(self.evaluate())
                    self.metrics.log(self.step, metrics)
                    reporter.advance(metrics)
                    if self.saves_after(self.step):
                        last = self.save()
            return last or latest_checkpoint(self.output) or self.save()
        finally:
            self.close()

    def close(self) -> None:
        self.envs.close()
        self.metrics.close()
        if self.engine is not self.hf:
            self.engine.close()
        shutdown()


class RLTrainer(Trainer[RLConfig]):
    """Tool-integrated multi-turn RL with SAPO (or GRPO) on the hybrid reward."""

    kind = "rl"

    def __init__(self, config: RLConfig, *, allow_config_change: bool = False) -> None:
        super().__init__(
            config, temperature=config.rollout.sampling.temperature, allow_config_change=allow_config_change
        )
        if config.rollout.engine == "vllm":
            self._start_vllm()
        self.sampler = family_sampler(task_families(config.tasks), config.rollout.queries_per_step, config.seed)
        judge = None
        if config.judge:
            from pixelpilot.model import load_model

            judge = load_model(config.judge)
        self.reward = build_hybrid(config.reward, judge)
        self.reference = self._reference() if config.loss.kl_coef > 0 else None
        # The sampler's log-probs are the trainer's own only for the same module in float32: another engine
        # (vLLM, FSDP's separate copy) or bf16 computes them differently, by up to 1e-2 per token.
        # A rollout played a step ahead differs from the trainer's weights by that step: the same correction.
        mismatch = config.rollout.engine != "hf" or self.engine is not self.hf or self._compute_dtype() is not None
        self.recompute_old = config.old_logprobs == "recompute" or (config.old_logprobs == "auto" and mismatch)
        self.tis = mismatch
        self.engine_version: int | None = None
        """The step whose weights the engine holds (0: the starting ones); None until the first sync."""
        self._ahead: tuple[int, Future[Played]] | None = None
        """The step whose rollout plays ahead, and its future."""
        self._ahead_thread: ThreadPoolExecutor | None = None

    def _engine(self, path: str) -> ChatModel:
        """A copy of the weights when rollouts play ahead: the trained module changes while they sample."""
        rollout = self.config.rollout
        if rollout.off_policy_steps and rollout.engine == "hf" and self.strategy != "fsdp":
            return self._engine_copy(path, torch.float32)
        return super()._engine(path)

    def _start_vllm(self) -> None:
        """vLLM in this process, on this rank's GPU, holding the trained weights.

        Its weights are synced in from the trained model at once, as after every step: files written
        by transformers (an SFT or resumed checkpoint) hold MoE experts in a layout vLLM's loader
        misreads, while ``load_weights`` converts them. Under torchrun each rank's engine runs beside its trainer
        (vLLM's ``external_launcher``, as TRL colocates it) instead of claiming GPU 0.
        """
        from pixelpilot.model import load_model

        kwargs = dict(self.config.rollout.engine_kwargs)
        if self.ctx.world_size > 1:
            kwargs.setdefault("distributed_executor_backend", "external_launcher")
            kwargs.setdefault("seed", self.ctx.rank)
        self.engine = load_model(f"vllm:{self.base_path}", weight_sync=True, **kwargs)
        self.sync_engine()

    def _environments(self) -> Environments:
        envs = self.config.rollout.envs
        if envs.backend == "local":
            return EnvPool(max_idle=envs.max_idle)
        if envs.backend == "threads":
            from pixelpilot.rl.thread_envs import ThreadEnvs

            return ThreadEnvs(max_idle=envs.max_idle)
        from pixelpilot.rl.ray_envs import RayEnvs

        return RayEnvs(
            envs_per_actor=envs.envs_per_actor,
            num_cpus=envs.num_cpus,
            ray_address=envs.ray_address,
            call_timeout_s=envs.call_timeout_s,
            actor_options={"resources": dict(envs.resources)} if envs.resources else None,
        )

    def _reference(self) -> torch.nn.Module:
        """The frozen starting policy, for the KL penalty: the policy with its adapters off in a LoRA run,
        else a full copy on every rank, loaded as the policy was."""
        if self.adapter is not None:
            return WithoutAdapters(self.policy, self.adapter)
        reference = HFModel(
            self.base_path,
            device=str(self.ctx.device),
            dtype=torch.float32,
            attn_implementation=self.config.model.attn_implementation,
        )
        reference.model.requires_grad_(False)
        return TokenLogprobs(reference.model, self.config.rollout.sampling.temperature)

    def data_state(self) -> dict[str, Any]:
        if self._ahead is not None:
            # The sampler has drawn the batch playing ahead: a checkpoint now would skip it on resume.
            raise RuntimeError(f"step {self._ahead[0]}'s rollout is playing ahead; a checkpoint would lose it")
        return super().data_state()

    def rollouts(self, step: int, round_: int = 0) -> list[EpisodeRecord]:
        """A batch of queries drawn and played, ``group_size`` times each (``round_`` > 0: a refill)."""
        config = self.config.rollout
        draws = self.sampler.next_batch()
        mine = shard(draws, self.ctx)
        queries = [draw.item for _, draw in mine]
        prefix = f"r{round_}." if round_ else ""
        groups = [f"{prefix}{index}:{draw.item.key}" for index, draw in mine]
        agent = self.agent(self.config.agent, config.sampling)
        extra = (round_,) if round_ else ()
        play = {"groups": groups, "mode": config.mode, "policy_version": self.engine_version}
        if config.per_query_seed:
            seeds = [mix_seed(self.config.seed, step, index, *extra) for index, _ in mine]
            return collect_rollouts(agent, queries, config.group_size, self.envs, query_seeds=seeds, **play)
        seed = mix_seed(self.config.seed, step, self.ctx.rank, *extra)
        return collect_rollouts(agent, queries, config.group_size, self.envs, sampling_seed=seed, **play)

    def play(self, step: int) -> Played:
        """The step's episodes, their scores, the groups kept by the filter and the rounds played.

        With ``filter.refill_rounds`` (DAPO's dynamic sampling), while fewer than ``queries_per_step``
        groups survive the filter over all ranks, another batch is drawn and played; the groups kept beyond
        ``queries_per_step`` are then dropped (ranks keep theirs in rank order, so the later ranks' surplus goes),
        the same way on every rank.
        """
        config = self.config
        refills = config.filter.refill_rounds if config.filter else 0
        episodes: list[EpisodeRecord] = []
        scores: list[Any] = []
        kept: list[str] = []
        for round_ in range(refills + 1):
            played = self.rollouts(step, round_)
            records = [
                RolloutRecord.from_trajectory(
                    e.trajectory, reference=e.query.answer, query_id=e.group, task=e.query.family
                )
                for e in played
            ]
            scores += self.reward.score_batch(records)
            episodes += played
            outcomes: dict[str, list[bool]] = {}
            for episode in played:
                outcomes.setdefault(episode.group, []).append(episode.success)
            kept += filter_queries(outcomes, config.filter).kept if config.filter else list(outcomes)
            if (
                not refills
                or all_reduce({"kept": float(len(kept))}, self.ctx)["kept"] >= config.rollout.queries_per_step
            ):
                break
        if refills:
            kept = kept[: self._allotted(len(kept))]
        return episodes, scores, kept, round_ + 1

    def _allotted(self, mine: int) -> int:
        """How many of this rank's kept groups fill the batch, ranks taking theirs in rank order."""
        counts = all_reduce({f"kept/{self.ctx.rank}": float(mine)}, self.ctx)
        left = self.config.rollout.queries_per_step
        for rank in range(self.ctx.world_size):
            take = min(int(counts.get(f"kept/{rank}", 0.0)), left)
            if rank == self.ctx.rank:
                return take
            left -= take
        return mine

    def _engine_at(self, version: int) -> None:
        """Give the engine the trained weights, which are those of step ``version``, unless it has them."""
        if self.engine_version != version:
            self.sync_engine()
            self.engine_version = version

    def _rollout(self, step: int) -> Played:
        """This step's rollout, played now or while the last step trained; one step off-policy, the next
        step's then starts on the weights from before this step's update.

        The step after a checkpoint is not played ahead: the checkpoint's sampler state must not hold a
        drawn batch, and a resumed run samples that step from the checkpoint's weights, as this run does.
        """
        if self._ahead is None:
            self._engine_at(step - 1)
            played = self.play(step)
        else:
            ahead, future = self._ahead
            if ahead != step:
                raise RuntimeError(f"step {ahead}'s rollout played ahead, but step {step} is being trained")
            self._ahead = None
            played = future.result()
        if self.config.rollout.off_policy_steps and step < self.config.steps and not self.saves_after(step):
            self._engine_at(step - 1)
            if self._ahead_thread is None:
                self._ahead_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollout")
            self._ahead = (step + 1, self._ahead_thread.submit(self.play, step + 1))
        return played

    def _settle(self) -> None:
        """Wait for the rollout playing ahead (its result is kept for its step): the engine and the
        environments are free again."""
        if self._ahead is not None:
            wait([self._ahead[1]])

    def evaluate(self) -> dict[str, float]:
        """Evaluation samples from the weights of the step just trained."""
        if not self.config.eval.tasks:
            return {}
        self._settle()
        self._engine_at(self.step)
        return super().evaluate()

    def close(self) -> None:
        if self._ahead_thread is not None:
            self._ahead_thread.shutdown(wait=True)
        super().close()

    def train_step(self, step: int) -> dict[str, float]:
        config = self.config
        started = time.perf_counter()
        episodes, scores, kept_order, rounds = self._rollout(step)
        rolled = time.perf_counter()
        rewards = [score.score for score in scores]
        kept_groups = set(kept_order)
        kept = [i for i, e in enumerate(episodes) if e.group in kept_groups]
        advantages = group_advantages([rewards[i] for i in kept], [episodes[i].group for i in kept], config.advantage)
        every = config.logging.rollouts_every
        if every and step % every == 0 and self.ctx.is_main:
            advantage_of = dict(zip(kept, advantages.tolist(), strict=True))
            scored = [
                ScoredEpisode(episode, score.score, dict(score.parts), advantage_of.get(index))
                for index, (episode, score) in enumerate(zip(episodes, scores, strict=True))
            ]
            save_rollouts(self.output, step, scored, config.logging.rollouts_groups)
        sequences: list[TrainingSequence] = []
        for advantage, index in zip(advantages.tolist(), kept, strict=True):
            for sequence in episode_sequences(episodes[index], config.rollout.sequence_mode, self.end_token, index):
                sequence.advantage = advantage
                sequences.append(sequence)
        usable = [s for s in sequences if scorable(s, self.placeholders)]
        mark_episodes(usable)
        update = self.learn(usable)
        if not config.rollout.off_policy_steps:
            self._engine_at(step)
        finished = time.perf_counter()
        lags = [step - 1 - t.policy_version for e in episodes for t in e.turns if t.policy_version is not None]
        tokens = sum(len(t.prompt_ids) + len(t.token_ids) for e in episodes for t in e.turns)
        local = {
            "episodes": len(episodes),
            "queries": len({e.group for e in episodes}),
            "kept_queries": len(kept_groups),
            "kept_episodes": len(kept),
            "sequences": len(usable),
            "unscorable_sequences": len(sequences) - len(usable),
            "reward_sum": sum(rewards),
            "successes": sum(e.success for e in episodes),
            "turns": sum(len(e.turns) for e in episodes),
            "generate_batch_sum": float(sum(t.batch_size for e in episodes for t in e.turns)),
            "generated_tokens": sum(e.generated_tokens for e in episodes),
            "rollout_tokens": tokens,
            "policy_lag_sum": float(sum(lags)),
            "tagged_turns": float(len(lags)),
        }
        for name in self.reward.weights:
            local[f"reward/{name}_sum"] = sum(score.parts.get(name, 0.0) for score in scores)
        totals = all_reduce(local, self.ctx)
        count = max(1.0, totals["episodes"])
        metrics = {
            **update,
            "reward_mean": totals.pop("reward_sum") / count,
            "success_rate": totals.pop("successes") / count,
            "generate_batch_mean": totals.pop("generate_batch_sum") / max(1.0, totals["turns"]),
            "turns_mean": totals.pop("turns") / count,
            "time_rollout": rolled - started,
            "time_update": finished - rolled,
            "tokens_per_s": totals["rollout_tokens"] / max(1e-9, finished - started),
            "policy_lag": totals.pop("policy_lag_sum") / max(1.0, totals.pop("tagged_turns")),
            "policy_lag_max": all_reduce({"lag": float(max(lags, default=0))}, self.ctx, op="max")["lag"],
        }
        for key in [k for k in totals if k.startswith("reward/")]:
            metrics[key.removesuffix("_sum")] = totals.pop(key) / count
        metrics.update(totals)
        metrics["rollout_rounds"] = rounds
        return metrics

    def learn(self, sequences: list[TrainingSequence]) -> dict[str, float]:
        """Split the step's sequences into minibatches (one optimizer step each) of micro-batches.

        π_old is recomputed by the trainer when the sampler is another engine or computes in another
        precision (``old_logprobs: auto``), and whenever a sequence came back without log-probs (a
        zero would pass for log-prob 0, a skewed ratio); the sampler's log-probs then only feed TIS.
        """
        config = self.config
        counts = all_reduce(
            {"sequences": float(len(sequences)), "missing": float(sum(not s.has_logprobs for s in sequences))},
            self.ctx,
        )
        if counts["sequences"] == 0:
            return {"skipped_update": 1.0}
        size = math.ceil(len(sequences) / config.minibatches) if sequences else 1
        optim = config.optim
        minibatches = [
            micro_batches(part, optim.micro_batch_size, optim.micro_batch_tokens) for part in chunks(sequences, size)
        ]
        minibatches += [[] for _ in range(config.minibatches - len(minibatches))]
        recompute = self.recompute_old or counts["missing"] > 0
        old = [self.score(parts) if recompute else None for parts in minibatches]
        reference = [self.score(parts, self.reference) if self.reference is not None else None for parts in minibatches]
        results: dict[str, float] = {"sequences_without_logprobs": counts["missing"]}
        for number, parts in enumerate(minibatches):
            flat = [s for part in parts for s in part]
            denominator = all_reduce({"d": loss_denominator(flat, config.loss.aggregation)}, self.ctx)["d"]
            loss_fn = self._loss_fn(old[number], reference[number], max(denominator, 1e-9))
            metrics = self.update(parts, loss_fn)
            for key, value in metrics.items():
                if key.endswith("_max"):
                    results[key] = max(results.get(key, value), value)
                else:
                    results[key] = results.get(key, 0.0) + value / config.minibatches
        return results

    def _loss_fn(
        self, old: list[torch.Tensor] | None, reference: list[torch.Tensor] | None, denominator: float
    ) -> LossFn:
        tis = self.tis and old is not None

        def loss_fn(
            batch: Batch, logprobs: torch.Tensor, entropy: torch.Tensor, index: int
        ) -> tuple[torch.Tensor, dict[str, float]]:
            if index < 0:  # a padding pass: any differentiable value of the right graph will do
                return logprobs.sum(), {}
            old_logprobs = old[index] if old is not None else batch.logprobs
            # A row the sampler gave no log-probs for has no sampler-vs-trainer gap to correct: weight 1.
            rollout = torch.where(batch.has_logprobs[:, None], batch.logprobs, old_logprobs) if tis else None
            return policy_loss(
                logprobs,
                old_logprobs,
                batch.advantages,
                batch.loss_mask,
                self.config.loss,
                ref_logprobs=reference[index] if reference is not None else None,
                rollout_logprobs=rollout,
                denominator=denominator,
                unit_tokens=batch.unit_tokens,
            )

        return loss_fn


def run_train(config_path: str | Path, overrides: Sequence[str] = (), *, allow_config_change: bool = False) -> Path:
    """``pixelpilot train CONFIG [KEY=VALUE ...]``: run (or resume) an RL run; returns its last checkpoint."""
    config = load_config(config_path, RLConfig, overrides)
    return RLTrainer(config, allow_config_change=allow_config_change).run()
