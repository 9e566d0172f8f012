"""Do a checkpoint's image tokens tell two button labels apart? A linear probe per screenshot budget.

Pages of MiniWoB's size (480x630, a yellow instruction bar) hold one grey button at a random place labelled
"ONE" or "TWO" in Liberation Sans (Arial's metrics) at MiniWoB's 3x scale. The checkpoint's vision tower
and projector encode each page at a screenshot budget; the 3x3 merged tokens around the button's centre
(what the language model receives, and the DeepStack features) feed a logistic regression trained on 400
pages and scored on 200 others. Chance is 50%; a probe near it says the label is not there in a form one
linear read-out finds, so the language model must learn the reading from its few thousand demonstrations.

    python scripts/label_probe.py                                   # the shipped nano, budgets 100 140 200 400
    python scripts/label_probe.py --model runs/nano/sft4/checkpoints/step-000600/model --budgets 100

The budget is ``max_pixels`` in units of 32x32 (one merged token); nano is trained at 100 (88 tokens).
"""

from __future__ import annotations

import argparse
import random
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from rich.console import Console
from rich.table import Table
from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

from pixelpilot.model.spec import nano_checkpoint, resolve_model_path

FONT = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"
PAGE = (480, 630)
BUTTON = 192  # MiniWoB's 64-px buttons at 3x
TRAIN, TEST = 400, 200


def page(rng: random.Random, font: ImageFont.FreeTypeFont) -> tuple[Image.Image, tuple[float, float], bool]:
    """A page, the button's centre (fractions of the page), and whether it reads ONE."""
    image = Image.new("RGB", PAGE, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, PAGE[0], 150], fill=(255, 255, 0))
    x, y = rng.randint(0, PAGE[0] - BUTTON), rng.randint(150, PAGE[1] - BUTTON)
    one = rng.random() < 0.5
    word = "ONE" if one else "TWO"
    draw.rounded_rectangle([x, y, x + BUTTON, y + BUTTON], radius=9, fill=(239, 239, 239), outline=(118, 118, 118))
    draw.text((x + BUTTON / 2 - draw.textlength(word, font=font) / 2, y + 76), word, fill="black", font=font)
    return image, ((x + BUTTON / 2) / PAGE[0], (y + BUTTON / 2) / PAGE[1]), one


def features(
    model: Qwen3VLForConditionalGeneration, processor: Any, image: Image.Image, centre: tuple[float, float]
) -> list[np.ndarray]:
    """The 3x3 merged tokens around centre: the projector's output, then each DeepStack level's."""
    inputs = processor.image_processor(images=[image], return_tensors="pt")
    _, height, width = inputs["image_grid_thw"][0].tolist()
    rows, columns = height // 2, width // 2
    with torch.no_grad():
        output = model.model.visual(inputs["pixel_values"], grid_thw=inputs["image_grid_thw"])
    row = min(max(int(centre[1] * rows), 1), rows - 2)
    column = min(max(int(centre[0] * columns), 1), columns - 2)
    index = [r * columns + c for r in (row - 1, row, row + 1) for c in (column - 1, column, column + 1)]
    levels = [output.pooler_output, *output.deepstack_features]
    return [level[index].reshape(-1).numpy() for level in levels]


def probe(rows: np.ndarray, labels: np.ndarray) -> float:
    """Held-out accuracy of an L2-regularised logistic regression (standardised on the training pages)."""
    x = torch.tensor(rows, dtype=torch.float32)
    x = (x - x[:TRAIN].mean(0)) / (x[:TRAIN].std(0) + 1e-6)
    y = torch.tensor(labels, dtype=torch.float32)
    torch.manual_seed(0)
    linear = torch.nn.Linear(x.shape[1], 1)
    optimizer = torch.optim.Adam(linear.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(500):
        optimizer.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(linear(x[:TRAIN]).squeeze(1), y[:TRAIN]).backward()
        optimizer.step()
    with torch.no_grad():
        return ((linear(x[TRAIN:]).squeeze(1) > 0).float() == y[TRAIN:]).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="nano", help="a model folder or nano (the shipped checkpoint)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 140, 200, 400])
    args = parser.parse_args()
    path = str(nano_checkpoint()) if args.model == "nano" else resolve_model_path(args.model)
    processor = AutoProcessor.from_pretrained(path)
    model = Qwen3VLForConditionalGeneration.from_pretrained(path, dtype=torch.float32).eval()
    font = ImageFont.truetype(FONT, 40)
    rng = random.Random(0)
    pages = [page(rng, font) for _ in range(TRAIN + TEST)]
    labels = np.array([one for _, _, one in pages])
    table = Table("budget", "merged tokens", "projector output", "DeepStack 1", "DeepStack 2")
    for budget in args.budgets:
        processor.image_processor.size = {"shortest_edge": 4096, "longest_edge": budget * 1024}
        rows = [features(model, processor, image, centre) for image, centre, _ in pages]
        shape = processor.image_processor(images=[pages[0][0]], return_tensors="pt")["image_grid_thw"][0]
        accuracies = [probe(np.stack([row[level] for row in rows]), labels) for level in range(len(rows[0]))]
        table.add_row(str(budget), str(int(shape.prod()) // 4), *(f"{accuracy:.0%}" for accuracy in accuracies))
    Console().print(table)


if __name__ == "__main__":
    main()
