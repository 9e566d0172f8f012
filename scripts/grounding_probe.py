"""Can nano's language model learn where things are on its screenshot? One variant per run.

A blank 480x630 page (MiniWoB's size) holds one coloured box of random size at a random place and
three lines of text; the model is taught to answer "Click the box." with the box's centre on the
0-1000 grid, ``[x, y]``, then 60 unseen pages are answered greedily. The variants are the two
choices docs/nano.md weighs: how the ViT's position table starts (the config's random draw, scaled to
``--position-std``, or ``sincos_grid``) and whether the projector (merger and deepstack mergers)
trains with the language model; the vision tower itself stays frozen in all of them.

    python scripts/grounding_probe.py --positions random            # nano's previous start
    python scripts/grounding_probe.py --positions sincos --train-projector

About 0.6 s per step of 16 pictures on 2 cores; 400 steps by default.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

from pixelpilot.agent.prompt import gui_system_texts
from pixelpilot.model.tiny import NANO, build_tiny_checkpoint, sincos_grid
from pixelpilot.rl.trainer import freeze_vision

PAGE = (480, 630)
COLOURS = ((40, 80, 220), (220, 50, 50), (40, 160, 60), (230, 160, 30))


def page(rng: random.Random) -> tuple[Image.Image, tuple[int, int], tuple[float, float, float, float]]:
    """A page, the box centre on the grid, and the box on the grid (a click inside it hits)."""
    width, height = rng.randint(60, 140), rng.randint(30, 60)
    x, y = rng.randint(0, PAGE[0] - width), rng.randint(0, PAGE[1] - height)
    image = Image.new("RGB", PAGE, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        draw.text((rng.randint(0, 400), rng.randint(0, 600)), "lorem ipsum", fill=(0, 0, 0))
    draw.rectangle((x, y, x + width, y + height), fill=rng.choice(COLOURS))
    sx, sy = 1000 / PAGE[0], 1000 / PAGE[1]
    centre = (round((x + width / 2) * sx), round((y + height / 2) * sy))
    return image, centre, (x * sx, y * sy, (x + width) * sx, (y + height) * sy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", choices=("random", "sincos"), default="sincos")
    parser.add_argument("--position-std", type=float, default=0.5, help="spread of the random table")
    parser.add_argument("--train-projector", action="store_true")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--lr", type=float, default=1.5e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    corpus = gui_system_texts(NANO.prompt_style or "pixelpilot")  # as `pixelpilot tiny-checkpoint --size nano`
    base = build_tiny_checkpoint(Path(tempfile.mkdtemp()) / "nano", size="nano", corpus=corpus)
    processor = AutoProcessor.from_pretrained(base)
    model = Qwen3VLForConditionalGeneration.from_pretrained(base, dtype=torch.float32)
    table = model.model.visual.pos_embed.weight
    with torch.no_grad():
        if args.positions == "sincos":
            table.copy_(sincos_grid(*table.shape))
        else:
            table.normal_(std=args.position_std)
    freeze_vision(model, tower=True, projector=not args.train_projector)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 30) * 0.5 * (1 + math.cos(math.pi * s / args.steps))
    )
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Click the box."}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)

    prompt_length = len(processor(text=[prompt], images=[page(random.Random(0))[0]])["input_ids"][0])  # one page size
    rng, start = random.Random(0), time.monotonic()
    for step in range(1, args.steps + 1):
        pages = [page(rng) for _ in range(16)]
        inputs = processor(
            text=[f"{prompt}[{x}, {y}]<|im_end|>" for _, (x, y), _ in pages],
            images=[image for image, _, _ in pages],
            return_tensors="pt",
            padding=True,
        )
        labels = inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)
        labels[:, :prompt_length] = -100
        loss = model(**inputs, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % 50 == 0:
            print(f"step {step}/{args.steps} loss {loss.item():.3f} ({time.monotonic() - start:.0f} s)", flush=True)

    model.eval()
    rng, hits, error, points, tries = random.Random(12345), 0, 0.0, set(), 60
    with torch.no_grad():
        for _ in range(tries):
            image, (cx, cy), (left, top, right, bottom) = page(rng)
            inputs = processor(text=[prompt], images=[image], return_tensors="pt")
            answer = processor.decode(
                model.generate(**inputs, max_new_tokens=12, do_sample=False)[0, inputs["input_ids"].shape[1] :],
                skip_special_tokens=True,
            )
            found = re.search(r"(\d+),\s*(\d+)", answer)
            if found is None:
                error += 1000
                continue
            x, y = int(found[1]), int(found[2])
            points.add((x, y))
            error += abs(x - cx) + abs(y - cy)
            hits += left <= x <= right and top <= y <= bottom
    print(
        f"positions {args.positions}, projector {'trained' if args.train_projector else 'frozen'}, {args.steps} steps: "
        f"{hits}/{tries} clicks inside the box, mean L1 error {error / tries:.0f} grid units, "
        f"{len(points)} distinct points"
    )


if __name__ == "__main__":
    main()
