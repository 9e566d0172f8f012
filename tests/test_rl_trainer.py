"""The RL trainer on the tiny_checkpoint Qwen3-VL: SAPO/GRPO updates, filtering, π_old, KL, metrics, checkpoints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml
from support import rl_config

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.rl.checkpoint import latest_checkpoint, list_checkpoints
from pixelpilot.rl.config import RLConfig, SFTConfig, load_config
from pixelpilot.rl.metrics import MetricsLogger, plot_curves, read_metrics
from pixelpilot.rl.policy import TokenLogprobs, collate, scorable
from pixelpilot.rl.sequences import TrainingSequence, mark_episodes, per_turn_sequences
from pixelpilot.rl.trainer import RLTrainer, loss_denominator, micro_batches, run_train

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "configs"


@pytest.fixture
def trainer_factory(tiny_checkpoint: Path, tmp_path: Path) -> Iterator:
    made: list[RLTrainer] = []

    def make(**overrides: object) -> RLTrainer:
        made.append(
            RLTrainer(RLConfig.model_validate(rl_config(tiny_checkpoint, tmp_path / f"run{len(made)}", **overrides)))
        )
        return made[-1]

    yield make
    for trainer in made:
        trainer.close()


def sampled_sequences(trainer: RLTrainer, advantages: list[float]) -> list[TrainingSequence]:
    """Real rollouts of the trainer's own engine, with the advantages a reward would have given them."""
    episodes = trainer.rollouts(1)
    sequences = [
        s
        for i, e in enumerate(episodes)
        for s in per_turn_sequences(e, i)
        if scorable(s, trainer.placeholders) and s.generated
    ]
    for sequence, advantage in zip(sequences, advantages * len(sequences), strict=False):
        sequence.advantage = advantage
    return sequences


def sequence_logprobs(trainer: RLTrainer, sequences: list[TrainingSequence]) -> torch.Tensor:
    batch = collate(sequences, trainer.processor.image_processor, trainer.hf.pad_token_id, trainer.image_token)
    with torch.no_grad():
        logprobs, _ = TokenLogprobs(trainer.hf.model)(**batch.model_inputs)
    return logprobs.sum(dim=1)


@pytest.mark.parametrize("algorithm", ["sapo", "grpo"])
def test_update_raises_positive_and_lowers_negative_advantage_sequences(trainer_factory, algorithm: str) -> None:
    trainer = trainer_factory(loss={"algorithm": algorithm})
    sequences = sampled_sequences(trainer, [1.0, -1.0])
    before = sequence_logprobs(trainer, sequences)
    metrics = trainer.learn(sequences)
    after = sequence_logprobs(trainer, sequences)
    change = after - before
    positive = torch.tensor([s.advantage > 0 for s in sequences])
    assert change[positive].mean() > 0 > change[~positive].mean()
    # π_old is the sampler's own log-probs: a fresh batch is exactly on-policy.
    assert metrics["ratio_mean"] == pytest.approx(1.0, abs=1e-4)
    assert metrics["tokens_trained"] == sum(s.generated for s in sequences)
    assert ("sapo_gate" in metrics) == (algorithm == "sapo") and ("clip_frac" in metrics) == (algorithm == "grpo")


def test_later_minibatches_are_off_policy_and_recomputed_logprobs_match(trainer_factory) -> None:
    trainer = trainer_factory(old_logprobs="recompute", minibatches=2, optim={"lr": 0.01, "micro_batch_size": 2})
    sequences = sampled_sequences(trainer, [1.0, -0.5])
    recomputed = trainer.score([sequences])[0]
    for row, sequence in enumerate(sequences):
        mask = torch.tensor(sequence.loss_mask, dtype=torch.bool)
        assert torch.allclose(recomputed[row, : len(mask)][mask], torch.tensor(sequence.logprobs)[mask], atol=1e-4)
    seen: list[dict[str, float]] = []
    update = trainer.update
    trainer.update = lambda parts, loss_fn: seen.append(update(parts, loss_fn)) or seen[-1]
    metrics = trainer.learn(sequences)
    # The first minibatch exactly on-policy, the second after one step; peaks are the peak of both.
    assert seen[0]["ratio_max"] == pytest.approx(1.0, abs=1e-5) and seen[1]["ratio_max"] > 1.0 + 1e-4
    assert metrics["ratio_max"] == max(m["ratio_max"] for m in seen)
    assert metrics["grad_norm"] > 0


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_fresh_batch_is_on_policy_in_every_precision(trainer_factory, tiny_checkpoint: Path, dtype: str) -> None:
    """bf16 autocast over fp32 weights: the sampler runs under the same autocast, π_old is recomputed by the
    trainer (a cached incremental decode and a full forward round differently in bf16) and TIS covers the rest."""
    trainer = trainer_factory(model={"path": str(tiny_checkpoint), "dtype": dtype})
    bf16 = dtype == "bfloat16"
    assert trainer.hf.autocast == (torch.bfloat16 if bf16 else None)
    assert trainer.recompute_old == bf16 and trainer.tis == bf16
    metrics = trainer.learn(sampled_sequences(trainer, [1.0, -1.0]))
    assert metrics["ratio_mean"] == pytest.approx(1.0, abs=1e-3)
    assert metrics["ratio_max"] == pytest.approx(1.0, abs=1e-3)
    assert ("tis_weight" in metrics) == bf16
    if bf16:
        assert metrics["tis_weight"] == pytest.approx(1.0, abs=1e-2)


def test_sequences_without_sampler_logprobs_are_recomputed_not_taken_as_zero(trainer_factory) -> None:
    """An engine that returns no log-probs (vLLM can): a zero would read as probability 1 and skew the ratio."""
    trainer = trainer_factory()
    sequences = sampled_sequences(trainer, [1.0, -1.0])
    for sequence in sequences:
        sequence.logprobs = [0.0] * len(sequence.logprobs)
        sequence.has_logprobs = False
    metrics = trainer.learn(sequences)
    assert metrics["sequences_without_logprobs"] == len(sequences)
    assert metrics["ratio_mean"] == pytest.approx(1.0, abs=1e-4)


def test_the_seq_mean_unit_is_the_episode() -> None:
    def row(mask: list[int], group: str, episode: int) -> TrainingSequence:
        return TrainingSequence(
            input_ids=[1, 2, 3, 4], loss_mask=mask, logprobs=[0.0] * 4, group=group, episode=episode
        )

    split = [row([0, 1, 1, 0], "a", 0), row([0, 0, 1, 1], "a", 0), row([0, 1, 1, 1], "b", 1)]  # a: 2 turns
    mark_episodes(split)
    assert [s.unit_tokens for s in split] == [4, 4, 3]
    assert loss_denominator(split, "seq-mean-token-mean") == pytest.approx(2.0)  # two episodes, three rows
    assert loss_denominator(split, "token-mean") == pytest.approx(7.0)


def test_token_budget_batching_trains_the_step_fixed_batches_train(trainer_factory, tiny_checkpoint: Path) -> None:
    fixed = trainer_factory(optim={"lr": 0.01, "micro_batch_size": 2})
    packed = trainer_factory(
        model={"path": str(tiny_checkpoint)}, optim={"lr": 0.01, "micro_batch_size": 2, "micro_batch_tokens": 1500}
    )
    sequences = sampled_sequences(fixed, [1.0, -1.0])
    passes = micro_batches(sequences, 2, 1500)
    lengths = [[len(s.input_ids) for s in part] for part in passes]
    assert sorted(s for part in lengths for s in part) == sorted(len(s.input_ids) for s in sequences)
    assert all(len(part) == 1 or part[0] * len(part) <= 1500 for part in lengths), lengths
    first, second = fixed.learn(sequences), packed.learn(sequences)
    assert second["loss"] == pytest.approx(first["loss"], rel=1e-5)
    assert second["grad_norm"] == pytest.approx(first["grad_norm"], rel=1e-4)


def test_filtered_groups_are_refilled_up_to_the_batch(trainer_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """DAPO's dynamic sampling: rounds are played until ``queries_per_step`` groups pass the filter."""
    import pixelpilot.rl.trainer as trainer_module
    from pixelpilot.rl.filtering import FilterResult

    def first_only(groups, config):  # the filter passes one group of each round (a random policy passes none)
        names = list(groups)
        return FilterResult(kept=names[:1], dropped=names[1:], pass_rates=dict.fromkeys(names, 0.5))

    trainer = trainer_factory(filter={"refill_rounds": 3})
    monkeypatch.setattr(trainer_module, "filter_queries", first_only)
    metrics = trainer.train_step(1)
    assert metrics["rollout_rounds"] == 2 and metrics["kept_queries"] == 2  # 1 + 1 reach queries_per_step = 2
    assert metrics["queries"] == 4 and metrics["episodes"] == 4 * 3
    monkeypatch.setattr(trainer_module, "filter_queries", lambda groups, config: first_only({}, config))
    nothing = trainer_factory(filter={"refill_rounds": 2}).train_step(1)  # nothing passes: every round is played
    assert nothing["rollout_rounds"] == 3 and nothing["kept_queries"] == 0 and nothing["skipped_update"] == 1.0


def test_the_kl_reference_loads_as_the_policy_does(trainer_factory, tiny_checkpoint: Path) -> None:
    model = {"path": str(tiny_checkpoint), "attn_implementation": "eager"}
    trainer = trainer_factory(model=model, loss={"kl_coef": 0.1})
    assert trainer.reference.model.config._attn_implementation == "eager"
    assert trainer.hf.model.config._attn_implementation == "eager"


def test_kl_to_the_reference_grows_as_the_policy_moves(trainer_factory) -> None:
    trainer = trainer_factory(loss={"kl_coef": 0.1}, optim={"lr": 0.01, "weight_decay": 0.5, "micro_batch_size": 4})
    sequences = sampled_sequences(trainer, [1.0, -1.0])
    first = trainer.learn(sequences)
    second = trainer.learn(sequences)
    assert first["kl"] == pytest.approx(0.0, abs=1e-6)
    assert second["kl"] > 1e-6


def test_a_run_filters_unlearnable_queries_and_records_everything(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = tmp_path / "rl.yaml"
    config.write_text(yaml.safe_dump(rl_config(tiny_checkpoint, out)), encoding="utf-8")
    final = run_train(config)
    records = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2]
    for record in records:
        # The random policy never solves the task: every group has pass rate 0 and is dropped.
        assert record["episodes"] == 6 and record["queries"] == 2
        assert record["success_rate"] == 0 and record["kept_queries"] == 0 and record["skipped_update"] == 1
        assert record["rollout_tokens"] > record["generated_tokens"] > 0 and record["tokens_per_s"] > 0
        assert "reward/task" in record
    assert final == latest_checkpoint(out) and [s for s, _ in list_checkpoints(out)] == [2]
    state = json.loads((final / "trainer_state.json").read_text())
    assert state["kind"] == "rl" and state["data"]["sampler"]["batches"] == 2
    assert (out / "curves.png").exists()


def test_rollouts_are_saved_to_watch(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """Every rollouts_every steps, the first groups' episodes: reports, and an index with rewards and advantages."""
    out = tmp_path / "run"
    data = rl_config(tiny_checkpoint, out, filter=None, steps=2)
    data["logging"] = {**data.get("logging", {}), "rollouts_every": 2, "rollouts_groups": 1}
    config = tmp_path / "rl.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    run_train(config)
    assert sorted(p.name for p in (out / "rollouts").iterdir()) == ["step-000002"]
    step = out / "rollouts" / "step-000002"
    episodes = sorted(step.glob("group-*/episode-*"))
    assert [p.parent.name for p in episodes] == ["group-00"] * data["rollout"]["group_size"]
    assert all((p / "report.html").exists() and (p / "trajectory.json").exists() for p in episodes)
    index = (step / "index.html").read_text(encoding="utf-8")
    assert index.count('href="group-00/episode-') == len(episodes) and "task +0.00" in index
    assert "filtered out" not in index  # unfiltered: every episode has an advantage


def test_unfiltered_run_trains_on_every_group(tiny_checkpoint: Path, tmp_path: Path) -> None:
    data = rl_config(tiny_checkpoint, tmp_path / "run", filter=None, steps=1)
    data["reward"] = {"components": [{"kind": "task"}, {"kind": "format", "weight": 0.5}]}
    trainer = RLTrainer(RLConfig.model_validate(data))
    try:
        metrics = trainer.train_step(1)
    finally:
        trainer.close()
    assert metrics["kept_queries"] == 2 and metrics["kept_episodes"] == 6
    assert metrics["sequences"] + metrics["unscorable_sequences"] == 6
    assert metrics["reward/format"] == pytest.approx(-1.0) and metrics["reward_mean"] == pytest.approx(-0.5)


def test_latest_checkpoint_ignores_an_interrupted_save(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    (root / "step-000003").mkdir(parents=True)
    (root / "step-000010").mkdir()
    (root / ".tmp-step-000011").mkdir()
    assert latest_checkpoint(tmp_path) == root / "step-000010"
    assert [step for step, _ in list_checkpoints(tmp_path)] == [3, 10]


def test_loss_denominators_match_the_aggregations() -> None:
    sequences = [
        TrainingSequence(input_ids=[1] * 6, loss_mask=[0, 0, 1, 1, 1, 1], logprobs=[0.0] * 6),
        TrainingSequence(input_ids=[1] * 3, loss_mask=[0, 0, 1], logprobs=[0.0] * 3),
        TrainingSequence(input_ids=[1] * 2, loss_mask=[0, 0], logprobs=[0.0] * 2),
    ]
    assert loss_denominator(sequences, "token-mean") == 5
    assert loss_denominator(sequences, "seq-mean-token-mean") == 2
    assert loss_denominator(sequences, "seq-sqrt-norm") == pytest.approx(3.0)


def test_metrics_log_truncates_on_resume_and_plots(tmp_path: Path) -> None:
    logger = MetricsLogger(tmp_path)
    for step in range(1, 6):
        logger.log(step, {"loss": 1.0 / step, "reward_mean": step / 10, "bad": float("nan")})
    logger.truncate_after(3)
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3] and records[0]["bad"] is None
    assert plot_curves(tmp_path / "metrics.jsonl").stat().st_size > 0
    silent = MetricsLogger(tmp_path / "other", enabled=False)
    silent.log(1, {"loss": 1.0})
    assert not (tmp_path / "other").exists()


def test_gradient_checkpointing_trains_the_same_step(trainer_factory) -> None:
    plain = trainer_factory()
    checkpointed = trainer_factory(model={"path": str(plain.base_path), "gradient_checkpointing": True})
    sequences = sampled_sequences(plain, [1.0, -1.0])
    assert checkpointed.hf.model.is_activation_checkpointing
    first, second = plain.learn(sequences), checkpointed.learn(sequences)
    assert second["loss"] == pytest.approx(first["loss"], rel=1e-5)
    assert second["grad_norm"] == pytest.approx(first["grad_norm"], rel=1e-4)


def test_bfloat16_autocast_trains_the_step_float32_trains(trainer_factory) -> None:
    """The GPU's mixed precision (bf16 autocast over fp32 weights) run through CPU autocast."""
    plain = trainer_factory()
    mixed = trainer_factory(model={"path": str(plain.base_path), "dtype": "bfloat16"})
    assert mixed.autocast_dtype == torch.bfloat16 and plain.autocast_dtype is None
    sequences = sampled_sequences(plain, [1.0, -1.0])
    before = sequence_logprobs(mixed, sequences)
    first, second = plain.learn(sequences), mixed.learn(sequences)
    # bf16 keeps 8 bits of mantissa: the same update to within its rounding, weights still in fp32.
    assert second["loss"] == pytest.approx(first["loss"], rel=0.05, abs=1e-3)
    assert second["grad_norm"] == pytest.approx(first["grad_norm"], rel=0.1)
    assert all(p.dtype == torch.float32 for p in mixed.hf.model.parameters())
    change = sequence_logprobs(mixed, sequences) - before
    positive = torch.tensor([s.advantage > 0 for s in sequences])
    assert change[positive].mean() > 0 > change[~positive].mean()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_are_valid(path: Path) -> None:
    config = load_config(path, SFTConfig if path.name.startswith("sft") else RLConfig)
    assert config.steps >= 1
