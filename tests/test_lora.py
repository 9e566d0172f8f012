"""LoRA through peft, on the tiny Qwen3-VL: SFT and RL train the adapters and nothing else, checkpoints hold
the adapter, a run resumes from it as if never stopped, and a merged checkpoint scores as the adapter model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from support import rl_config

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.cli import main
from pixelpilot.model import load_model
from pixelpilot.model.hf import HFModel
from pixelpilot.model.lora import ADAPTER_CONFIG, adapter_base, merged_state
from pixelpilot.rl.checkpoint import MODEL_DIR, step_dir
from pixelpilot.rl.config import RLConfig, SFTConfig
from pixelpilot.rl.metrics import read_metrics
from pixelpilot.rl.policy import TokenLogprobs, collate
from pixelpilot.rl.sequences import episode_sequences
from pixelpilot.rl.sft import SFTTrainer
from pixelpilot.rl.trainer import RLTrainer

pytest.importorskip("peft")

CLICK = "pixelpilot/synthetic-click-button-v0"
LORA = {"r": 4, "alpha": 8.0, "vision_merger": True}


def sft_config(tiny_checkpoint: Path, out: Path, steps: int) -> dict:
    return {
        "model": {"path": str(tiny_checkpoint), "lora": LORA},
        "output_dir": str(out),
        "seed": 5,
        "steps": steps,
        "batch_size": 3,
        "agent": {"max_steps": 1, "role_prompt": "You are a GUI agent."},
        "demos": [{"oracle": {"env_id": CLICK, "env_kwargs": {"shuffle": True}, "num_seeds": 5}}],
        "optim": {"lr": 0.02, "micro_batch_size": 3},
        "checkpoint": {"every": 2, "keep": 5},
        "logging": {"progress": False, "plot": False},
    }


def base_weights(tiny_checkpoint: Path) -> dict[str, torch.Tensor]:
    return load_file(tiny_checkpoint / "model.safetensors")


def test_lora_sft_trains_only_adapters_saves_them_and_resumes_exactly(tiny_checkpoint: Path, tmp_path: Path) -> None:
    straight = SFTTrainer(SFTConfig.model_validate(sft_config(tiny_checkpoint, tmp_path / "straight", 4)))
    last = straight.run()
    base = base_weights(tiny_checkpoint)
    trained = dict(straight.hf.model.named_parameters())
    adapters = {name for name, parameter in trained.items() if parameter.requires_grad}
    assert adapters and all("lora_" in name for name in adapters)
    assert any("visual.merger" in name for name in adapters)  # vision_merger: the merger is adapted too
    for name, parameter in trained.items():
        if "lora_" not in name:  # every base weight is as loaded
            assert torch.equal(parameter.detach(), base[name.replace(".base_layer.", ".")]), name
    assert any(float(trained[name].detach().abs().max()) > 0 for name in adapters if "lora_B" in name)  # from 0

    files = {path.name for path in (last / MODEL_DIR).iterdir()}
    assert ADAPTER_CONFIG in files and "adapter_model.safetensors" in files and "model.safetensors" not in files
    assert adapter_base(last / MODEL_DIR) == str(tiny_checkpoint.resolve())

    resumed_out = tmp_path / "resumed"
    SFTTrainer(SFTConfig.model_validate(sft_config(tiny_checkpoint, resumed_out, 2))).run()
    SFTTrainer(SFTConfig.model_validate(sft_config(tiny_checkpoint, resumed_out, 4))).run()  # resumes at step 2
    expected = [record["loss"] for record in read_metrics(tmp_path / "straight" / "metrics.jsonl")]
    resumed = [record["loss"] for record in read_metrics(resumed_out / "metrics.jsonl")]
    assert resumed == pytest.approx(expected, rel=1e-6)
    ours = load_file(step_dir(resumed_out, 4) / MODEL_DIR / "adapter_model.safetensors")
    theirs = load_file(last / MODEL_DIR / "adapter_model.safetensors")
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_a_merged_checkpoint_scores_as_the_adapter_model(tiny_checkpoint: Path, tmp_path: Path) -> None:
    trainer = SFTTrainer(SFTConfig.model_validate(sft_config(tiny_checkpoint, tmp_path / "run", 2)))
    last = trainer.run()
    merged = tmp_path / "merged"
    assert main(["merge", str(last), str(merged)]) == 0
    assert (merged / "config.json").exists() and not (merged / ADAPTER_CONFIG).exists()

    sequences = next(iter(trainer.sampler.families.values()))[:3]
    batch = collate(sequences, trainer.processor.image_processor, trainer.hf.pad_token_id, trainer.image_token)
    with torch.no_grad():
        adapted, _ = trainer.policy(**batch.model_inputs)
        plain, _ = TokenLogprobs(HFModel(str(merged)).model)(**batch.model_inputs)
        loaded, _ = TokenLogprobs(load_model(f"hf:{last}").model)(**batch.model_inputs)  # the printed path
        base, _ = TokenLogprobs(HFModel(str(tiny_checkpoint)).model)(**batch.model_inputs)
    mask = batch.loss_mask
    # What a separate engine (vLLM) is synced with: the merged weights, under the plain model's names.
    synced = merged_state(trainer.adapter)
    reference = HFModel(str(merged)).model.state_dict()
    assert synced.keys() == reference.keys()
    assert all(torch.allclose(synced[name], reference[name], atol=1e-6) for name in synced)
    with torch.no_grad():
        still, _ = trainer.policy(**batch.model_inputs)
    assert torch.equal(still, adapted)  # the sync left the trained module exactly as it was
    assert torch.allclose(plain[mask], adapted[mask], atol=1e-4)
    assert torch.allclose(loaded[mask], adapted[mask], atol=1e-4)
    assert not torch.allclose(base[mask], adapted[mask], atol=1e-3)  # the adapters changed the policy

    out = tmp_path / "episode"
    run = ["run", "--env", CLICK, "--model", f"run:{tmp_path / 'run'}", "--max-steps", "1", "--out", str(out)]
    assert main(run) == 0  # a LoRA run's newest checkpoint, as `run:` names it
    assert (out / "report.html").exists()


def test_lora_rl_uses_the_base_as_reference_and_trains_only_adapters(tiny_checkpoint: Path, tmp_path: Path) -> None:
    config = rl_config(
        tiny_checkpoint,
        tmp_path / "rl",
        model={"path": str(tiny_checkpoint), "lora": LORA},
        filter=None,
        loss={"kl_coef": 0.5},
        checkpoint={"every": 1, "keep": 3},
        logging={"progress": False, "plot": False},
    )
    trainer = RLTrainer(RLConfig.model_validate(config))
    trainer.run()
    records = read_metrics(tmp_path / "rl" / "metrics.jsonl")
    assert records[0]["kl"] == pytest.approx(0.0, abs=1e-7)  # adapters start at zero: the policy is its base
    base = base_weights(tiny_checkpoint)
    for name, parameter in trainer.hf.model.named_parameters():
        if "lora_" not in name:
            assert torch.equal(parameter.detach(), base[name.replace(".base_layer.", ".")]), name
    assert (step_dir(tmp_path / "rl", 2) / MODEL_DIR / ADAPTER_CONFIG).exists()

    # The reference is the base model itself: the policy's own weights with the adapters off, no copy.
    trainer = RLTrainer(RLConfig.model_validate({**config, "output_dir": str(tmp_path / "other")}))
    assert trainer.reference.policy is trainer.policy
    with torch.no_grad():
        for name, parameter in trainer.hf.model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)
    episodes = trainer.rollouts(1)
    trainer.close()
    sequences = [s for i, e in enumerate(episodes) for s in episode_sequences(e, "auto", trainer.end_token, i)]
    parts = [sequences[:4]]
    reference, policy = trainer.score(parts, trainer.reference)[0], trainer.score(parts)[0]
    batch = collate(parts[0], trainer.processor.image_processor, trainer.hf.pad_token_id, trainer.image_token)
    with torch.no_grad():
        plain, _ = TokenLogprobs(HFModel(str(tiny_checkpoint)).model)(**batch.model_inputs)
    assert torch.allclose(reference, plain, atol=1e-5)
    assert not torch.allclose(policy, plain, atol=1e-3)

    path = tmp_path / "rl.yaml"
    path.write_text(yaml.safe_dump({**config, "steps": 3}), encoding="utf-8")
    assert main(["train", str(path)]) == 0  # resumes from the adapter at step 2
    assert [record["step"] for record in read_metrics(tmp_path / "rl" / "metrics.jsonl")] == [1, 2, 3]
