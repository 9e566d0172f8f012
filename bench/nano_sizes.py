"""The measurements behind pixelpilot-nano's shape (docs/nano.md): how large MiniWoB text is at each pixel
budget, and what a training step costs at each model size, on this machine.

    python bench/nano_sizes.py            # ~2 minutes on 2 cores

Table 1: for each screenshot budget, the size the processor resizes a MiniWoB screenshot to and the
size in pixels of a button label's font there, against the ViT's 16-pixel patches (a glyph is about
0.55 em wide).
Table 2: for each candidate size, weights, prompt tokens and seconds per forward+backward of 8 real
demonstration sequences (click-button, as SFT trains them).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import torch
from rich.console import Console
from rich.table import Table
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.agent import Agent
from pixelpilot.agent.prompt import gui_system_texts
from pixelpilot.model.hf import HFModel
from pixelpilot.model.random_click import RandomClickModel
from pixelpilot.model.tiny import NANO, build_tiny_checkpoint
from pixelpilot.rl.demos import oracle_texts, record_texts
from pixelpilot.rl.policy import TokenLogprobs, collate
from pixelpilot.rl.rollout import Query
from pixelpilot.rl.sequences import episode_sequences

TASK = "pixelpilot/miniwob-click-button-v0"
BUDGETS = (64, 100, 140, 200)
"""``max_pixels`` in units of one merged token's 32x32 pixels; nano uses 100."""
SIZES = {
    "hidden 192, 3 layers, ViT 128x3": replace(
        NANO, hidden=192, intermediate=576, layers=3, head_dim=48, mrope_section=(8, 8, 8), vision_hidden=128,
        vision_intermediate=384, vision_depth=3, vision_heads=2, deepstack=(0, 2),
    ),
    "nano: hidden 256, 4 layers, ViT 192x4": NANO,
    "hidden 384, 6 layers, ViT 256x6": replace(
        NANO, hidden=384, intermediate=1152, layers=6, heads=6, vision_hidden=256, vision_intermediate=768,
        vision_depth=6, vision_heads=4, deepstack=(1, 3, 5),
    ),
}  # fmt: skip


def text_sizes(console: Console) -> None:
    env = gym.make(TASK)
    try:
        observation, _ = env.reset(seed=10000)
        page = env.unwrapped.page
        font_px = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#area button')).fontSize)")
        height, width = observation["screenshot"].shape[:2]
        scale = width / page.evaluate("document.querySelector('#wrap').getBoundingClientRect().width")
    finally:
        env.close()
    table = Table(title=f"a {width}x{height} MiniWoB screenshot (button font {font_px:g} CSS px, x{scale:g})")
    for column in (
        "max_pixels / 32²",
        "resized to",
        "merged tokens",
        "patches",
        "label font px",
        "glyph / patch width",
    ):
        table.add_column(column, justify="right")
    for budget in BUDGETS:
        h, w = smart_resize(height, width, factor=32, min_pixels=32 * 32 * 4, max_pixels=32 * 32 * budget)
        font = font_px * scale * w / width
        table.add_row(
            str(budget), f"{w}x{h}", str(w // 32 * (h // 32)), str(w // 16 * (h // 16)), f"{font:.1f}",
            f"{0.55 * font / 16:.2f}",
        )  # fmt: skip
    console.print(table)


def step_costs(console: Console, repeats: int) -> None:
    table = Table(title="one forward+backward of 8 click-button demonstrations (fp32, CPU)")
    for column in ("size", "weights", "tokens per sequence", "seconds per step", "sequences/s"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for name, sizes in SIZES.items():
            path = Path(tmp) / name.split(":")[0].replace(" ", "_").replace(",", "")
            build_tiny_checkpoint(path, size=sizes, corpus=gui_system_texts("pixelpilot"))
            model = HFModel(str(path))
            agent = Agent(RandomClickModel(), max_steps=2, prompt_style="pixelpilot")  # nano's prompt
            env = gym.make(TASK)
            try:
                sequences = []
                for seed in range(8):
                    record = record_texts(
                        Query(env_id=TASK, seed=seed), env, agent.episode, model.processor, oracle_texts(env), "bench"
                    )
                    sequences += episode_sequences(record, "auto", model.tokenizer.convert_tokens_to_ids("<|im_end|>"))
            finally:
                env.close()
            policy = TokenLogprobs(model.model, 1.0)
            batch = collate(
                sequences, model.processor.image_processor, model.pad_token_id, model.model.config.image_token_id
            )
            timings = []
            for _ in range(repeats):
                started = time.perf_counter()
                logprobs, _ = policy(**batch.model_inputs)
                (logprobs * batch.loss_mask).sum().backward()
                timings.append(time.perf_counter() - started)
                model.model.zero_grad(set_to_none=True)
            seconds = sorted(timings)[len(timings) // 2]
            weights = sum(p.numel() for p in model.model.parameters())
            tokens = sum(len(s.input_ids) for s in sequences) / len(sequences)
            table.add_row(name, f"{weights / 1e6:.1f} M", f"{tokens:.0f}", f"{seconds:.2f}", f"{8 / seconds:.1f}")
            model.close()
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    console = Console(width=140)
    text_sizes(console)
    step_costs(console, args.repeats)


if __name__ == "__main__":
    main()
