"""Training configurations: pydantic models read from YAML, so that a run is one file.

Every section has working defaults; a config names at least the model, an output directory and
its data (task families for RL, demonstrations for SFT). Unknown keys are errors, so a typo in a
YAML file stops the run before it starts instead of being silently ignored.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import gymnasium as gym
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pixelpilot.agent.prompt import HistoryLayout
from pixelpilot.errors import ConfigError, PixelpilotError
from pixelpilot.model.base import SamplingParams
from pixelpilot.rl.advantages import AdvantageConfig
from pixelpilot.rl.filtering import FilterConfig
from pixelpilot.rl.losses import Aggregation, PolicyLossConfig
from pixelpilot.rl.rewards.hybrid import ComponentSpec, HybridRewardConfig
from pixelpilot.rl.rollout import Query, RolloutMode
from pixelpilot.rl.sequences import SequenceMode
from pixelpilot.tools.base import PromptStyle

TINY_PREFIX = "tiny:"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class LoraConfig(_Section):
    """Low-rank adapters (``peft``) instead of a full fine-tune: only they train and only they are saved."""

    r: int = Field(16, ge=1)
    """The adapters' rank."""
    alpha: float = Field(32.0, gt=0.0)
    """Scale of the adapters' output (``alpha / r``), as in peft's ``lora_alpha``."""
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        min_length=1,
    )
    """The language model's projections that get adapters (names inside its decoder layers)."""
    vision_merger: bool = False
    """Also adapt the mergers that hand vision features to the LM; the vision tower itself stays frozen."""


class ModelConfig(_Section):
    """The checkpoint to train: a directory, ``run:OUTPUT_DIR`` or a hub id.

    ``tiny:DIR`` builds pixelpilot's tiny Qwen3-VL in DIR first when it is not there yet.
    """

    path: str
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    """Compute dtype: ``auto`` is bfloat16 autocast on GPU over float32 weights, float32 on CPU."""
    gradient_checkpointing: bool = False
    attn_implementation: str | None = None
    freeze_vision_tower: bool = False
    """Keep the ViT (patch and position embeddings, blocks) as loaded; the mergers and the LM still train."""
    freeze_multi_modal_projector: bool = False
    """Keep the mergers that hand vision features to the LM (the main one and DeepStack's) as loaded."""
    lora: LoraConfig | None = None
    """Train LoRA adapters only (``pip install 'pixelpilot[lora]'``); checkpoints then hold the adapter, which
    ``load_model``, ``model.path`` and ``pixelpilot merge`` read merged into its base."""

    def resolve(self) -> str:
        """The loadable path, building the tiny checkpoint first when the path asks for one.

        Any spec ``hf:`` takes works: a model folder, a checkpoint folder, ``run:OUTPUT_DIR`` (the newest
        checkpoint of an earlier stage) or a hub id; a local path that does not exist fails here at once.
        """
        if not self.path.startswith(TINY_PREFIX):
            from pixelpilot.model.spec import resolve_model_path

            return resolve_model_path(self.path)
        directory = Path(self.path[len(TINY_PREFIX) :])
        if not (directory / "config.json").exists():
            from pixelpilot.model.tiny import build_tiny_checkpoint

            build_tiny_checkpoint(directory)
        return str(directory)


class TaskSource(_Section):
    """A family of queries: an environment id over a range of seeds, or image questions (JSON lines).

    A questions file holds one ``{"image": path, "question": ..., "answer": ..., "region": [x1, y1, x2, y2]}``
    per line (``region`` optional); relative image paths are read from the file's directory.
    """

    name: str | None = None
    env_id: str | None = None
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    seed_start: int = 0
    num_seeds: int = Field(100, ge=1)
    questions: str | None = None
    weight: float = Field(1.0, ge=0.0)
    """Share of each batch drawn from this family (normalised over the families)."""

    @model_validator(mode="after")
    def _one_kind(self) -> TaskSource:
        if (self.env_id is None) == (self.questions is None):
            raise ValueError("a task source names either env_id or questions")
        return self

    @property
    def family(self) -> str:
        return self.name or self.env_id or Path(self.questions or "questions").stem

    def problems(self) -> list[str]:
        """What would stop this source once drawn: an unregistered env id, a missing questions file."""
        if self.env_id is not None:
            try:
                gym.spec(self.env_id)
            except gym.error.Error:
                return [f"environment {self.env_id!r} is not registered (pixelpilot envs lists them)"]
            return []
        if not Path(self.questions or "").is_file():
            return [f"questions file {self.questions} does not exist"]
        return []

    def queries(self) -> list[Query]:
        if self.env_id is not None:
            return [
                Query(env_id=self.env_id, seed=seed, env_kwargs=self.env_kwargs, family=self.family)
                for seed in range(self.seed_start, self.seed_start + self.num_seeds)
            ]
        path = Path(self.questions or "")
        queries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            image = Path(item["image"])
            queries.append(
                Query(
                    image=str(image if image.is_absolute() else path.parent / image),
                    question=item["question"],
                    answer=str(item["answer"]),
                    region=tuple(item["region"]) if item.get("region") else None,
                    family=self.family,
                )
            )
        return queries


class AgentConfig(_Section):
    """The agent the policy plays: its budget, its screenshots and its extra tools."""

    max_steps: int = Field(5, ge=1)
    history_images: int = Field(3, ge=1)
    max_failures: int = Field(3, ge=1)
    max_repeats: int = Field(2, ge=1)
    tools: list[Literal["image_zoom_in_tool"]] = Field(default_factory=list)
    role_prompt: str | None = Field(None, description="replaces the prompt style's role line (None: the style's own)")
    prompt_style: PromptStyle | None = Field(
        None,
        description=(
            "the system turn's wording: `qwen` is Qwen's own cookbook text, word for word (for a released Qwen3-VL); "
            "`pixelpilot` the wording pixelpilot-nano was trained on; None: the style the checkpoint's generation "
            "config names (`pixelpilot_prompt_style`), else `qwen`"
        ),
    )
    history_layout: HistoryLayout = Field(
        "chat",
        description=(
            "`chat`: the whole multi-turn conversation; `cookbook`: one user turn with the query, the steps so "
            "far and the current screenshot, as Qwen's mobile-agent cookbook (no extra tools)"
        ),
    )


def _training_sampling() -> SamplingParams:
    """Plain sampling at T = 1: the trained distribution itself, log-probs that a forward pass reproduces."""
    return SamplingParams(temperature=1.0, top_p=1.0, top_k=0, presence_penalty=0.0, max_new_tokens=256)


class OptimConfig(_Section):
    """AdamW with warmup and an optional decay."""

    lr: float = Field(1e-6, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    max_grad_norm: float | None = Field(1.0, gt=0.0)
    warmup_steps: int = Field(0, ge=0)
    schedule: Literal["constant", "linear", "cosine"] = "constant"
    vision_tower_lr: float | None = Field(None, gt=0.0)
    """The ViT's own learning rate (patch and position embeddings, blocks; the projector keeps ``lr``), on
    the same schedule: a pretrained tower usually wants a gentler rate than the LM, and one drawn at random
    and trained at the LM's rate collapses its features into one vector (docs/nano.md)."""
    micro_batch_size: int = Field(8, ge=1)
    """Sequences per forward/backward pass; gradients accumulate to the whole step's batch."""
    micro_batch_tokens: int | None = Field(None, ge=1)
    """Dynamic batching: fill each pass up to this many tokens (image tokens included), longest sequences
    first, instead of ``micro_batch_size`` sequences; screenshot sequences vary widely in length."""


class CheckpointConfig(_Section):
    every: int = Field(50, ge=0, description="steps between checkpoints; 0 saves only the last")
    keep: int = Field(2, ge=1)
    resume: bool = True
    """Continue from the newest checkpoint in the output directory when there is one."""


class LoggingConfig(_Section):
    report_to: list[Literal["jsonl", "tensorboard", "wandb"]] = Field(default_factory=lambda: ["jsonl"])
    """Metrics backends; ``metrics.jsonl`` is always written. ``tensorboard`` writes ``tensorboard/``,
    ``wandb`` a W&B run under ``wandb/`` (``WANDB_MODE=offline`` keeps it local); both in the ``track`` extra."""
    project: str | None = None
    """W&B project (default: ``pixelpilot``)."""
    run_name: str | None = None
    """The run's name in W&B (default: the output folder's name)."""
    plot: bool = True
    progress: bool = True
    """A live bar on a terminal; elsewhere (nohup, a scheduler, a pipe) plain step lines."""
    log_every: int = Field(10, ge=1)
    """Steps between plain step lines (the last step always has one)."""
    rollouts_every: int = Field(0, ge=0)
    """RL: every this many steps, save a few rollout groups under ``rollouts/step-N/`` (0: never)."""
    rollouts_groups: int = Field(2, ge=1)
    """RL: how many groups (each ``group_size`` episodes of one query) such a step saves."""


class DistributedConfig(_Section):
    """``auto``: FSDP on GPUs, DDP on CPU (gloo) when launched by torchrun, nothing in a single process."""

    strategy: Literal["auto", "none", "ddp", "fsdp"] = "auto"
    timeout_s: int = Field(1800, ge=1)


class EvalConfig(_Section):
    """Success on held-out seeds, one sampled episode each, every ``every`` steps (0: first and last only)."""

    tasks: list[TaskSource] = Field(default_factory=list)
    every: int = Field(0, ge=0)
    sampling: SamplingParams = Field(default_factory=_training_sampling)
    seed: int = 12345
    batch_size: int = Field(64, ge=1)
    """Episodes played at once per process, each with a live environment (a browser for web tasks)."""


class _Run(_Section):
    model: ModelConfig
    output_dir: str
    seed: int = 0
    steps: int = Field(ge=1)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    def problems(self) -> list[str]:
        """Everything that would fail later in the run (hours in, for a task drawn late), found in seconds."""
        found = []
        if not self.model.path.startswith(TINY_PREFIX):
            from pixelpilot.model.spec import resolve_model_path

            try:
                resolve_model_path(self.model.path)
            except PixelpilotError as error:
                found.append(f"model.path: {error}")
        folder = Path(self.output_dir).resolve()
        existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            found.append(f"output_dir {self.output_dir} cannot be written ({existing} is not a writable folder)")
        found += [f"eval: {problem}" for source in self.eval.tasks for problem in source.problems()]
        found += [
            f"logging.report_to names {backend}, which is not installed: pip install 'pixelpilot[track]'"
            for backend in self.logging.report_to
            if backend != "jsonl" and importlib.util.find_spec(backend) is None
        ]
        if self.optim.vision_tower_lr is not None and (self.model.freeze_vision_tower or self.model.lora is not None):
            found.append("optim.vision_tower_lr trains the vision tower: set model.freeze_vision_tower: false, no lora")
        if self.model.lora is not None:
            if importlib.util.find_spec("peft") is None:
                found.append("model.lora needs the peft package: pip install 'pixelpilot[lora]'")
            if self.distributed.strategy == "fsdp":
                found.append("model.lora trains under DDP or in one process, not FSDP: set distributed.strategy: ddp")
        return found

    def check(self) -> None:
        """Raise one ``ConfigError`` listing every problem, before anything slow (the model) loads."""
        found = self.problems()
        if found:
            raise ConfigError("the config cannot run:\n" + "\n".join(f"  - {problem}" for problem in found))


DemoClicks = Literal["centre", "token"]
"""Where an oracle demonstration clicks its target: the centre of its box, or of the model's image token there."""


class DemoSource(_Section):
    """Demonstrations: a task family solved by its oracle, or saved trajectories (directories or globs)."""

    oracle: TaskSource | None = None
    trajectories: list[str] = Field(default_factory=list)
    success_only: bool = True
    weight: float = Field(1.0, ge=0.0)
    name: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> DemoSource:
        if (self.oracle is None) == (not self.trajectories):
            raise ValueError("a demo source is either an oracle task source or a list of trajectories")
        return self

    @property
    def family(self) -> str:
        return self.name or (self.oracle.family if self.oracle is not None else "trajectories")

    def problems(self) -> list[str]:
        if self.oracle is not None:
            return self.oracle.problems()
        return [] if self.trajectory_dirs() else [f"no saved trajectory matches {self.trajectories}"]

    def trajectory_dirs(self) -> list[Path]:
        found: list[Path] = []
        for pattern in self.trajectories:
            matches = [Path(match) for match in sorted(glob.glob(os.path.expanduser(pattern)))]
            found.extend(match for match in matches if (match / "trajectory.json").exists())
        return found


class SFTConfig(_Run):
    """Cold-start SFT: cross-entropy on the demonstrations' answer tokens only."""

    def problems(self) -> list[str]:
        return [*super().problems(), *(problem for source in self.demos for problem in source.problems())]

    demos: list[DemoSource] = Field(min_length=1)
    demo_clicks: DemoClicks = "centre"
    """Where web oracles' demonstrations click: their target's centre, or the centre of the model's image token
    that holds it (where the target shows there). A small model places a click to about one image token
    and writes a coordinate's lower digits from habit; a token's centre it can name exactly (docs/nano.md)."""
    batch_size: int = Field(16, ge=1, description="sequences per optimizer step, over all processes")
    sequence_mode: SequenceMode = "auto"
    aggregation: Aggregation = "token-mean"
    """``seq-sqrt-norm`` is the report's square-root-normalised per-token loss."""
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig(lr=1e-5))


class ReadingConfig(_Run):
    """A reading stage: the vision tower learns which characters each image token shows (pixelpilot.rl.reading).

    ``eval.tasks`` name held-out pages: after every ``eval.every`` steps (and the last) the share of their
    text tokens whose characters are all read right is logged per task, as ``read/<task>``.
    """

    def problems(self) -> list[str]:
        found = [*super().problems(), *(problem for source in self.pages for problem in source.problems())]
        found += [
            f"{section} names {source.family}, which is not an environment: reading needs pages"
            for section, sources in (("pages", self.pages), ("eval.tasks", self.eval.tasks))
            for source in sources
            if source.env_id is None
        ]
        if self.model.freeze_vision_tower:
            found.append("model.freeze_vision_tower: a reading stage trains the vision tower; set it false")
        if self.model.lora is not None:
            found.append("model.lora: a reading stage trains the vision tower's own weights; remove lora")
        return found

    pages: list[TaskSource] = Field(min_length=1, description="environments whose first screen, one per seed, is read")
    batch_size: int = Field(16, ge=1, description="pages per optimizer step, over all processes")
    anchor: float = Field(1.0, ge=0.0)
    """Weight of the features' distance from those of the tower as loaded (mean squared difference relative to
    their mean square, per level: projector output and each DeepStack level). It keeps a trained language
    model's inputs close to what it learnt on; 0 lets the tower change freely (a model trained from here on)."""
    empty_weight: float = Field(0.2, ge=0.0, description="weight of a token that shows no text, next to one that does")
    min_cover: float = Field(0.3, gt=0.0, le=1.0)
    """A token shows a word when their overlap covers this share of the word's box (or of the token, if smaller)."""
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig(lr=5e-4))


class EnvsConfig(_Section):
    """Where rollout environments run: in the trainer's process, one step after another (``local``) or each
    on a thread of its own, every step of a turn at once (``threads``: for steps that wait on a browser, an
    X server or a phone, not on Python); or in Ray actors, every step at once (``pip install 'pixelpilot[ray]'``).

    With several trainer processes, start Ray first (``ray start --head``) and give its ``ray_address``
    so that every rank joins the same cluster.
    """

    backend: Literal["local", "threads", "ray"] = "local"
    """``local``, ``threads`` or ``ray``, as above; ``rollout.mode: async`` gains only with the last two."""
    envs_per_actor: int = Field(1, ge=1)
    num_cpus: float = Field(1.0, gt=0.0)
    """CPUs each actor reserves: a browser needs about one."""
    resources: dict[str, float] = Field(default_factory=dict)
    """Custom Ray resources each actor needs: ``{envs: 1}`` places environments only on the nodes started
    with that resource (``ray start --resources '{"envs": 8}'``), keeping them off the trainer's node."""
    ray_address: str | None = None
    call_timeout_s: float = Field(300.0, gt=0.0)
    """A step unanswered this long counts as its worker dying."""
    max_idle: int | None = Field(None, ge=0)
    """``local`` and ``threads``: environments kept between rollouts at most (least recently used close first); None
    keeps every one. A mix of many browser tasks needs a cap, or each task keeps a group of browsers."""


class RolloutConfig(_Section):
    group_size: int = Field(8, ge=1)
    queries_per_step: int = Field(4, ge=1)
    """Queries drawn per step over all processes; each is played ``group_size`` times."""
    sampling: SamplingParams = Field(default_factory=_training_sampling)
    engine: Literal["hf", "vllm"] = "hf"
    engine_kwargs: dict[str, Any] = Field(default_factory=dict)
    envs: EnvsConfig = Field(default_factory=EnvsConfig)
    sequence_mode: SequenceMode = "auto"
    per_query_seed: bool = False
    """Sample each query's group in its own generate call, seeded by the query's place in the global batch:
    the episodes then do not depend on how the batch is split over processes (smaller generate batches).
    In ``async`` mode the query seeds seed the calls of the episodes that are ready together instead."""
    mode: RolloutMode = "sync"
    """``sync``: each turn is one generate over every live episode, then waits for all their environment
    steps. ``async``: each episode advances on its own and every generate takes the episodes that are ready,
    so a slow environment (its resets and steps) delays only its own episodes. It pays with ``envs.backend``
    ``threads`` or ``ray``, when waits vary (a long tail of page loads: sync waits for the slowest every
    turn) and are not small beside a generate call (``bench/trainer.py``'s driver rows); with ``local``
    every step is done when sent and both modes batch alike. A call is
    seeded by who is in it, so with concurrent environments which episodes share a call, and so the tokens,
    follow the order outcomes arrive in."""
    off_policy_steps: int = Field(0, ge=0, le=1)
    """1: play the next step's rollout while this step trains (one step off-policy), on a separate copy of
    the weights (another model in memory with the ``hf`` engine) synced before each rollout. Every turn is
    tagged with the step of its weights (metric ``policy_lag``); π_old is recomputed and TIS (``loss.tis_cap``)
    corrects for the lag. The rollout after a checkpoint is never played ahead, so a resumed run is the run
    that was not stopped."""


def _task_reward() -> HybridRewardConfig:
    return HybridRewardConfig(components=[ComponentSpec(kind="task")])


class RLConfig(_Run):
    """Tool-integrated multi-turn RL: rollouts, hybrid reward, query filtering, group advantages, SAPO."""

    tasks: list[TaskSource] = Field(min_length=1)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    reward: HybridRewardConfig = Field(default_factory=_task_reward)
    judge: str | None = None
    """Model spec (``load_model``) serving the reward's judge components."""
    filter: FilterConfig | None = Field(default_factory=FilterConfig)
    """Query filtering on binary success; null keeps every query."""
    advantage: AdvantageConfig = Field(default_factory=AdvantageConfig)
    loss: PolicyLossConfig = Field(default_factory=PolicyLossConfig)
    old_logprobs: Literal["auto", "rollout", "recompute"] = "auto"
    """``rollout`` reuses the sampler's log-probs as π_old; ``recompute`` scores the batch with the trainer
    first, and TIS corrects for the sampler's mismatch; ``auto`` recomputes when the sampler is another
    engine or computes in another precision (bf16), the only cases where the two differ."""
    minibatches: int = Field(1, ge=1)
    """Optimizer steps per rollout batch; with more than one, the later ones are off-policy."""

    def problems(self) -> list[str]:
        found = [*super().problems(), *(problem for source in self.tasks for problem in source.problems())]
        if self.judge is not None:
            from pixelpilot.model.spec import parse_spec

            try:
                parse_spec(self.judge)
            except PixelpilotError as error:
                found.append(f"judge: {error}")
        return found

    @model_validator(mode="after")
    def _engine_logprobs(self) -> RLConfig:
        if self.rollout.engine != "hf" and self.old_logprobs == "rollout":
            raise ValueError("when another engine samples, π_old is recomputed: set old_logprobs to auto or recompute")
        if self.rollout.sampling.temperature == 0.0:
            raise ValueError("RL needs sampled rollouts: set rollout.sampling.temperature > 0")
        if self.rollout.off_policy_steps:
            if self.old_logprobs == "rollout" or self.loss.tis_cap is None:
                raise ValueError("an off-policy rollout needs old_logprobs auto or recompute and loss.tis_cap set")
            if self.filter is not None and self.filter.refill_rounds:
                raise ValueError("refills agree over ranks while training does: set rollout.off_policy_steps: 0")
        return self


class EvalRunConfig(_Section):
    """``pixelpilot eval``: a model's held-out success on tasks x seeds (flags, a YAML file, overrides)."""

    model: str
    """Model spec: ``nano``, ``random``, ``hf:DIR``, ``run:OUTPUT_DIR``, ``openai:URL#NAME``, ``vllm:NAME``."""
    out: str
    """Folder for ``results.jsonl``, the episodes, ``index.html`` and the plot (an evaluation there resumes)."""
    envs: list[str] = Field(default_factory=list)
    """Environment ids."""
    suites: list[str] = Field(default_factory=list)
    """Every environment of these suites (``miniwob``, ``desktop``, ``android``)."""
    seed_start: int = 10000
    """The first seed; held-out seeds are 10,000 and above (training configs stay below)."""
    num_seeds: int = Field(100, ge=1)
    """Seeds ``seed_start`` .. ``seed_start + num_seeds - 1`` of every environment."""
    workers: int = Field(4, ge=1)
    """Episodes in flight at once, each in its own environment (results do not depend on it)."""
    max_steps: int = Field(15, ge=1)
    temperature: float = Field(0.0, ge=0.0)
    """0 decodes greedily."""

    @model_validator(mode="after")
    def _something_to_play(self) -> EvalRunConfig:
        if not self.envs and not self.suites:
            raise ValueError("name at least one environment (envs / --env) or suite (suites / --suite)")
        return self

    @property
    def seeds(self) -> range:
        return range(self.seed_start, self.seed_start + self.num_seeds)


Config = TypeVar("Config", bound=BaseModel)


def apply_override(data: dict[str, Any], override: str) -> None:
    """Set ``dotted.key=value`` in a config mapping; list items are numbered (``demos.0.oracle.num_seeds=2``).

    The value is read as YAML (``3``, ``1e-4``, ``[]``, ``{a: 1}``, ``null``), so it takes the type it would
    have in the file; a key that the config does not know still fails validation.
    """
    path, sep, raw = override.partition("=")
    if not sep or not path:
        raise ValueError(f"an override is KEY=VALUE (e.g. steps=10), not {override!r}")
    keys = path.split(".")
    node: Any = data
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ValueError(f"override {path!r}: {key!r} is not an item of a list of {len(node)}")
            index: Any = int(key)
        elif isinstance(node, dict):
            index = key
            if not last:
                node.setdefault(key, {})
        else:
            raise ValueError(f"override {path!r}: {'.'.join(keys[:depth])!r} is not a section")
        if last:
            node[index] = yaml.safe_load(raw)
        else:
            node = node[index]


def load_config(
    path: str | Path | None,
    kind: type[Config],
    overrides: Sequence[str] = (),
    values: dict[str, Any] | None = None,
) -> Config:
    """Read a YAML file (if any) into a config, set ``values`` (a command's flags) over it, then the
    ``KEY=VALUE`` overrides; errors name the offending key."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) if path is not None else {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a YAML mapping")
    data.update(values or {})
    for override in overrides:
        apply_override(data, override)
    return kind.model_validate(data)
