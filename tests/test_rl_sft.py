"""Cold-start SFT on the tiny_checkpoint Qwen3-VL: demonstrations, assistant-only masks, the trainer and its loss."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml
from pydantic import ValidationError

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.agent import Agent
from pixelpilot.envs.synthetic import ClickButtonEnv
from pixelpilot.errors import ConfigError, ModelError, OracleError
from pixelpilot.model import load_model
from pixelpilot.model.hf import HFModel
from pixelpilot.model.images import ResizeRule, token_cells
from pixelpilot.model.spec import resolve_model_path
from pixelpilot.rl.config import RLConfig, SFTConfig, load_config
from pixelpilot.rl.demos import oracle_demonstrations, trajectory_demonstrations
from pixelpilot.rl.losses import sft_loss
from pixelpilot.rl.metrics import read_metrics
from pixelpilot.rl.policy import TokenLogprobs, collate
from pixelpilot.rl.rollout import EnvPool, Query
from pixelpilot.rl.sequences import end_token_id, episode_sequences
from pixelpilot.rl.sft import SFTTrainer, run_sft
from pixelpilot.rl.trainer import RLTrainer
from pixelpilot.tools import image_zoom_in_tool

CLICK = "pixelpilot/synthetic-click-button-v0"
ZOOM = "pixelpilot/synthetic-zoom-read-v0"
ROLE = "You are a GUI agent."


@pytest.fixture(scope="module")
def model(tiny_checkpoint: Path) -> Iterator[HFModel]:
    backend = HFModel(str(tiny_checkpoint))
    yield backend
    backend.close()


def write_config(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def sft_config(tiny_checkpoint: Path, out: Path, **overrides: object) -> dict:
    config = {
        "model": {"path": str(tiny_checkpoint)},
        "output_dir": str(out),
        "seed": 0,
        "steps": 12,
        "batch_size": 4,
        "agent": {"max_steps": 1, "role_prompt": ROLE},
        "demos": [{"oracle": {"env_id": CLICK, "num_seeds": 16}}],
        "optim": {"lr": 0.01, "micro_batch_size": 2},
        "checkpoint": {"every": 6},
        "logging": {"progress": False},
    }
    config.update(overrides)
    return config


def test_demonstrations_train_only_the_assistant_tokens(model: HFModel) -> None:
    agent = Agent(model, max_steps=3, tools=[image_zoom_in_tool], role_prompt=ROLE)
    queries = [Query(env_id=CLICK, seed=0), Query(env_id=ZOOM, seed=1, env_kwargs={"size": (256, 256)})]
    with EnvPool() as envs:
        records = oracle_demonstrations(queries, agent.episode, model.processor, envs)
    end = end_token_id(model.tokenizer)
    for record in records:
        (sequence,) = episode_sequences(record, "auto", end)
        answer = [t for t, m in zip(sequence.input_ids, sequence.loss_mask, strict=True) if m]
        context = [t for t, m in zip(sequence.input_ids, sequence.loss_mask, strict=True) if not m]
        texts = [step.text for step in record.trajectory.steps]
        assert model.tokenizer.decode(answer) == "".join(text + "<|im_end|>" for text in texts)
        rendered = model.tokenizer.decode(context)
        assert record.trajectory.instruction in rendered and "<tool_response>" not in texts[0]
        assert rendered.count("<|im_start|>assistant") == len(texts)
        assert not sequence.has_logprobs


def test_an_oracle_that_cannot_go_on_is_skipped_and_the_others_recorded(
    model: HFModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MiniWoB click-test-2 can cover its target with the other button: that seed is skipped, not the stage."""
    solve = ClickButtonEnv.oracle

    def covered_on_seed_1(self: ClickButtonEnv) -> Iterator[str]:
        if self.np_random_seed == 1:
            raise OracleError("the button is covered or off the screen")
        yield from solve(self)

    monkeypatch.setattr(ClickButtonEnv, "oracle", covered_on_seed_1)
    agent = Agent(model, max_steps=2, role_prompt=ROLE)
    with EnvPool() as envs:
        records = oracle_demonstrations(
            [Query(env_id=CLICK, seed=seed) for seed in range(3)], agent.episode, model.processor, envs
        )
    assert [record.query.seed for record in records] == [0, 2] and all(record.success for record in records)


def test_saved_trajectories_replay_into_the_same_demonstrations(model: HFModel, tmp_path: Path) -> None:
    agent = Agent(model, max_steps=3, tools=[image_zoom_in_tool], role_prompt=ROLE)
    queries = [Query(env_id=ZOOM, seed=2, env_kwargs={}), Query(env_id=CLICK, seed=3)]
    with EnvPool() as envs:
        demos = oracle_demonstrations(queries, agent.episode, model.processor, envs)
        for index, demo in enumerate(demos):
            demo.trajectory.save(tmp_path / f"run{index}")
        failed = demos[1].trajectory.model_copy(update={"success": False})
        failed.save(tmp_path / "failed")
        replayed = trajectory_demonstrations(
            [tmp_path / "run0", tmp_path / "run1", tmp_path / "failed"], agent.episode, model.processor, envs
        )
    assert len(replayed) == 2
    for demo, again in zip(demos, replayed, strict=True):
        assert [t.prompt_ids for t in again.turns] == [t.prompt_ids for t in demo.turns]
        assert [t.token_ids for t in again.turns] == [t.token_ids for t in demo.turns]


def test_sft_lowers_the_loss_and_writes_a_loadable_checkpoint(tiny_checkpoint: Path, tmp_path: Path) -> None:
    eval_tasks = {"tasks": [{"env_id": CLICK, "seed_start": 1000, "num_seeds": 4}]}
    config = write_config(tmp_path / "sft.yaml", sft_config(tiny_checkpoint, tmp_path / "out", eval=eval_tasks))
    final = run_sft(config)
    assert final == tmp_path / "out" / "checkpoints" / "step-000012"
    records = read_metrics(tmp_path / "out" / "metrics.jsonl")
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < 0.6 * sum(losses[:3]) / 3
    assert {"eval_success_rate", "eval_episodes"} <= set(records[0]) and records[0]["step"] == 0
    assert "eval_success_rate" in records[-1]
    assert (tmp_path / "out" / "curves.png").stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "out" / "checkpoints").iterdir()) == [
        "step-000006",
        "step-000012",
    ]
    state = json.loads((final / "trainer_state.json").read_text())
    assert state["step"] == 12 and state["kind"] == "sft" and state["data"]["sampler"]["batches"] == 12
    loaded = load_model(f"hf:{final / 'model'}")
    # The path the trainer prints, and the run folder, load the same weights.
    for spec in (f"hf:{final}", f"run:{tmp_path / 'out'}", str(tmp_path / "out")):
        assert resolve_model_path(spec) == str(final / "model")
    trained = torch.load(final / "optimizer.pt", weights_only=False)["optimizer"]["state"]
    assert trained and loaded.model.config.vision_config.depth == 2
    original = HFModel(str(tiny_checkpoint)).model.state_dict()
    changed = [k for k, v in loaded.model.state_dict().items() if not torch.equal(v, original[k])]
    assert len(changed) > len(original) // 2


def test_sqrt_normalised_loss_is_what_the_trainer_optimises(tiny_checkpoint: Path, tmp_path: Path) -> None:
    data = sft_config(tiny_checkpoint, tmp_path / "out", steps=2, aggregation="seq-sqrt-norm", checkpoint={"every": 0})
    data["demos"] = [
        {"oracle": {"env_id": CLICK, "num_seeds": 4}},
        {"oracle": {"env_id": ZOOM, "env_kwargs": {"size": [256, 256]}, "num_seeds": 4}, "weight": 1.0},
    ]
    data["agent"] = {"max_steps": 3, "tools": ["image_zoom_in_tool"], "role_prompt": ROLE}
    config = SFTConfig.model_validate(data)
    trainer = SFTTrainer(config)
    try:
        trainer.train_step(1)  # after one step, token losses are no longer all ln(vocabulary)
        batch = [draw.item for draw in family_batch(trainer)]
        lengths = {s.generated for s in batch}
        assert len(lengths) > 1  # a click answer and a zoom episode: sqrt-norm weighs them differently
        inputs = collate(batch, trainer.processor.image_processor, trainer.hf.pad_token_id, trainer.image_token)
        with torch.no_grad():
            logprobs, _ = TokenLogprobs(trainer.hf.model)(**inputs.model_inputs)
        expected = float(sft_loss(logprobs, inputs.loss_mask, "seq-sqrt-norm"))
        token_mean = float(sft_loss(logprobs, inputs.loss_mask, "token-mean"))
        metrics = trainer.train_step(2)
    finally:
        trainer.close()
    # The two aggregations differ on this batch, and the trainer's loss is the square-root one.
    assert abs(metrics["loss"] - expected) < abs(token_mean - expected) / 20


def family_batch(trainer: SFTTrainer) -> list:
    """The batch the trainer's next step will draw, without moving its sampler."""
    state = trainer.sampler.state_dict()
    batch = trainer.sampler.next_batch()
    trainer.sampler.load_state_dict(state)
    return batch


def test_configs_refuse_typos_and_half_sources(tiny_checkpoint: Path, tmp_path: Path) -> None:
    good = sft_config(tiny_checkpoint, tmp_path / "out")
    assert load_config(write_config(tmp_path / "ok.yaml", good), SFTConfig).steps == 12
    with pytest.raises(ValidationError, match="lerning_rate"):
        load_config(write_config(tmp_path / "typo.yaml", {**good, "optim": {"lerning_rate": 1.0}}), SFTConfig)
    with pytest.raises(ValidationError, match="either env_id or questions"):
        SFTConfig.model_validate({**good, "demos": [{"oracle": {"num_seeds": 3}}]})
    with pytest.raises(ValidationError, match="either an oracle"):
        SFTConfig.model_validate({**good, "demos": [{"trajectories": []}]})


def test_tiny_model_path_builds_the_checkpoint_once(tmp_path: Path) -> None:
    data = sft_config(tmp_path / "unused", tmp_path / "out")
    data["model"] = {"path": f"tiny:{tmp_path / 'built'}"}
    config = SFTConfig.model_validate(data)
    assert config.model.resolve() == str(tmp_path / "built")
    stamp = (tmp_path / "built" / "config.json").stat().st_mtime_ns
    assert config.model.resolve() == str(tmp_path / "built")
    assert (tmp_path / "built" / "config.json").stat().st_mtime_ns == stamp


def test_a_missing_local_model_path_fails_at_once(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Local-looking paths that do not exist are never taken for hub ids (which would retry the hub)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "empty").mkdir(parents=True)
    for missing in ("runs/nope", "runs/does_not_exist/model", str(tmp_path / "gone"), "./gone", "run:runs/empty"):
        with pytest.raises(ModelError, match="no checkpoint"):
            resolve_model_path(missing)
    assert resolve_model_path("Qwen/Qwen3-VL-2B-Instruct") == "Qwen/Qwen3-VL-2B-Instruct"  # a hub id stays one
    config = SFTConfig.model_validate({**sft_config(tiny_checkpoint, tmp_path / "out"), "model": {"path": "runs/nope"}})
    with pytest.raises(ConfigError, match=r"model\.path: no checkpoint at runs/nope"):
        SFTTrainer(config)


def test_frozen_vision_parts_keep_their_weights(tiny_checkpoint: Path, tmp_path: Path) -> None:
    model = {"path": str(tiny_checkpoint), "freeze_vision_tower": True, "freeze_multi_modal_projector": True}
    config = write_config(tmp_path / "sft.yaml", sft_config(tiny_checkpoint, tmp_path / "out", steps=2, model=model))
    final = run_sft(config)
    original = HFModel(str(tiny_checkpoint)).model.state_dict()
    trained = HFModel(str(final / "model")).model.state_dict()
    changed = {k for k, v in trained.items() if not torch.equal(v, original[k])}
    assert changed and not any(".visual." in k for k in changed)
    assert any("language_model" in k for k in changed)


def test_the_vision_tower_trains_at_its_own_rate(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """Adam's first update moves every weight by about its group's rate: the ViT by vision_tower_lr, the rest by lr."""
    optim = {"lr": 0.01, "vision_tower_lr": 0.001, "micro_batch_size": 2, "max_grad_norm": None}
    data = sft_config(tiny_checkpoint, tmp_path / "out", steps=1, optim=optim, checkpoint={"every": 1})
    run_sft(write_config(tmp_path / "sft.yaml", data))
    original = HFModel(str(tiny_checkpoint)).model.state_dict()
    trained = HFModel(str(tmp_path / "out" / "checkpoints" / "step-000001" / "model")).model.state_dict()

    def largest_move(where: str, *, merger: bool) -> float:
        names = [k for k in original if where in k and ("merger" in k) == merger]
        return max((trained[k] - original[k]).abs().max().item() for k in names)

    assert largest_move("visual.", merger=False) == pytest.approx(0.001, rel=0.05)
    assert largest_move("visual.", merger=True) == pytest.approx(0.01, rel=0.05)
    assert largest_move("language_model", merger=False) == pytest.approx(0.01, rel=0.05)

    resumed = {**data, "steps": 2, "optim": {**optim, "vision_tower_lr": None}}
    with pytest.raises(ConfigError, match=r"holds 2 optimizer group\(s\) and the config asks for 1"):
        run_sft(write_config(tmp_path / "resumed.yaml", resumed), allow_config_change=True)
    frozen = {**data, "model": {"path": str(tiny_checkpoint), "freeze_vision_tower": True}}
    with pytest.raises(ConfigError, match="vision_tower_lr trains the vision tower"):
        SFTTrainer(SFTConfig.model_validate(frozen))


def test_overrides_set_nested_keys_and_list_items(tiny_checkpoint: Path, tmp_path: Path) -> None:
    path = write_config(tmp_path / "sft.yaml", sft_config(tiny_checkpoint, tmp_path / "out"))
    overrides = ["steps=3", "optim.lr=1e-4", "demos.0.oracle.num_seeds=2", "checkpoint={every: 0}", "eval.every=5"]
    config = load_config(path, SFTConfig, overrides)
    assert (config.steps, config.optim.lr, config.demos[0].oracle.num_seeds) == (3, 1e-4, 2)
    assert (config.checkpoint.every, config.eval.every, config.batch_size) == (0, 5, 4)
    with pytest.raises(ValidationError, match="stepz"):
        load_config(path, SFTConfig, ["stepz=3"])
    for bad in ("steps", "demos.4.weight=1", "steps.x=1", "=3"):
        with pytest.raises(ValueError, match="override"):
            load_config(path, SFTConfig, [bad])


def test_web_oracles_record_demonstrations_and_a_resumed_run_reads_them_back(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """A web task's oracle reads the page, which exists only once the episode has reset the browser."""
    demos = [{"oracle": {"env_id": "pixelpilot/miniwob-enter-text-v0", "num_seeds": 2}}]
    data = sft_config(tiny_checkpoint, tmp_path / "out", steps=1, demos=demos, agent={"max_steps": 4})
    config = SFTConfig.model_validate(data)
    trainer = SFTTrainer(config)
    try:
        records = trainer.demonstrations(config.demos[0])
    finally:
        trainer.close()
    assert [len(r.turns) for r in records] == [3, 3] and all(r.success for r in records)
    assert '"action": "type"' in records[0].trajectory.steps[1].text
    (cache,) = (tmp_path / "out" / "demos").iterdir()
    again = SFTTrainer(config)  # the same source again: read from the cache, no browser started
    try:
        assert again.envs._idle == {}
        cached = again.demonstrations(config.demos[0])
        assert again.envs._idle == {}
    finally:
        again.close()
    assert [r.turns[-1].token_ids for r in cached] == [r.turns[-1].token_ids for r in records]
    assert cache.exists()
    later = tmp_path / "later"  # a later stage: other weights, the same processor, a copy of the demos
    shutil.copytree(tiny_checkpoint, later / "model")
    shutil.copytree(tmp_path / "out" / "demos", later / "out" / "demos")
    reweighed = [{**demos[0], "weight": 3.0, "name": "enter-text-more"}]  # its share of the mix is no part of the key
    stage = SFTTrainer(
        SFTConfig.model_validate(
            {**data, "demos": reweighed, "model": {"path": str(later / "model")}, "output_dir": str(later / "out")}
        )
    )
    try:
        assert stage.envs._idle == {}  # read back, not recorded again
    finally:
        stage.close()


def test_token_demo_clicks_aim_at_the_centres_of_image_tokens(model: HFModel, tmp_path: Path) -> None:
    """Each click lands on a token centre of the model's screenshot grid and still solves the task."""
    agent = Agent(model, max_steps=4, role_prompt=ROLE)
    queries = [Query(env_id="pixelpilot/miniwob-focus-text-2-v0", seed=seed) for seed in range(4)]
    with EnvPool() as envs:
        centre = oracle_demonstrations(queries, agent.episode, model.processor, envs)
        token = oracle_demonstrations(queries, agent.episode, model.processor, envs, clicks="token")
        (env,) = envs.acquire([queries[0]])
        assert env.unwrapped.oracle_cells is None  # handed back as it was
        height, width = env.observation_space["screenshot"].shape[:2]
        envs.release(queries[0], env)
    columns, rows = token_cells(width, height, ResizeRule.from_image_processor(model.processor.image_processor))
    centres = (
        {round((i + 0.5) * 1000 / columns) for i in range(columns)},
        {round((i + 0.5) * 1000 / rows) for i in range(rows)},
    )
    assert len(token) == len(centre) == 4 and all(record.success for record in token)
    for aimed, plain in zip(token, centre, strict=True):
        (x, y) = aimed.trajectory.steps[0].calls[0].call.arguments["coordinate"]
        assert x in centres[0] and y in centres[1]
        assert [x, y] != plain.trajectory.steps[0].calls[0].call.arguments["coordinate"]


def test_saved_demonstrations_read_back_identical_with_their_images_as_png(model: HFModel, tmp_path: Path) -> None:
    from pixelpilot.rl.demos import load_records, save_records

    agent = Agent(model, max_steps=1, role_prompt=ROLE)
    with EnvPool() as envs:
        records = oracle_demonstrations(
            [Query(env_id=CLICK, seed=s) for s in range(3)], agent.episode, model.processor, envs
        )
    save_records(tmp_path / "demos.pkl", records)
    loaded = load_records(tmp_path / "demos.pkl")
    raw = sum(image.width * image.height * 3 for r in records for t in r.turns for image in t.images)
    assert (tmp_path / "demos.pkl").stat().st_size < raw / 4
    for before, after in zip(records, loaded, strict=True):
        assert [t.token_ids for t in after.turns] == [t.token_ids for t in before.turns]
        for old, new in zip(before.turns[0].images, after.turns[0].images, strict=True):
            assert new.mode == old.mode and new.tobytes() == old.tobytes()
        assert after.trajectory.success == before.trajectory.success


@pytest.mark.parametrize(
    "override",
    ["eval.sampling.temprature=0.5", "optim.lerning_rate=1", "eval.tasks.0.seeds=3"],
)
def test_typos_in_any_section_stop_the_run(tiny_checkpoint: Path, tmp_path: Path, override: str) -> None:
    data = sft_config(tiny_checkpoint, tmp_path / "out", eval={"tasks": [{"env_id": CLICK, "num_seeds": 2}]})
    path = write_config(tmp_path / "sft.yaml", data)
    with pytest.raises(ValidationError, match=override.split("=")[0].split(".")[-1]):
        load_config(path, SFTConfig, [override])


def test_typos_in_rl_sections_and_reward_configs_stop_the_run() -> None:
    from pixelpilot.rl.config import RLConfig

    base = {"model": {"path": "x"}, "output_dir": "x", "steps": 1, "tasks": [{"env_id": CLICK}]}
    for section, typo in [
        ("loss", {"tua_neg": 3}),
        ("advantage", {"normalise_std": False}),
        ("filter", {"max_pass": 0.5}),
        ("rollout", {"sampling": {"temprature": 0.5}}),
        ("reward", {"components": [{"kind": "tool_calls", "config": {"targt": 2}}]}),
    ]:
        with pytest.raises((ValidationError, TypeError)):
            config = RLConfig.model_validate({**base, section: typo})
            from pixelpilot.rl.rewards.hybrid import build_hybrid

            build_hybrid(config.reward)


def test_every_input_is_checked_before_the_model_loads(
    tiny_checkpoint: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A misspelt env id in the last, rarely drawn task fails in seconds, not when it is first drawn."""
    from pixelpilot.cli import main

    good = sft_config(tiny_checkpoint, tmp_path / "out")
    path = write_config(tmp_path / "good.yaml", good)
    assert main(["sft", str(path), "--check"]) == 0 and "valid" in capsys.readouterr().out
    demos = [*good["demos"], {"oracle": {"env_id": "pixelpilot/miniwob-clik-test-v0"}, "weight": 0.01}]
    bad = {
        **good,
        "demos": [*demos, {"trajectories": [str(tmp_path / "none-*")]}],
        "eval": {"tasks": [{"questions": str(tmp_path / "missing.jsonl")}]},
    }
    problems = ("'pixelpilot/miniwob-clik-test-v0' is not registered", "no saved trajectory", "missing.jsonl")
    bad["logging"] = {"report_to": ["jsonl", "wandb"]}  # asked for, not installed: said before the model loads
    problems += ("names wandb, which is not installed: pip install 'pixelpilot[track]'",)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "wandb" else real_find_spec(name))
    bad_path = write_config(tmp_path / "bad.yaml", bad)
    assert main(["sft", str(bad_path), "--check"]) == 2
    out = capsys.readouterr().out
    for problem in problems:
        assert problem in out
    rl = {
        **{k: v for k, v in good.items() if k not in ("demos", "batch_size")},
        "tasks": [{"env_id": CLICK}, {"env_id": "pixelpilot/nope-v0", "weight": 0.01}],
    }
    with pytest.raises(ConfigError, match="pixelpilot/nope-v0"):
        RLTrainer(RLConfig.model_validate(rl))
    assert not (tmp_path / "out").exists()  # nothing started
