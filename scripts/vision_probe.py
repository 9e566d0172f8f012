"""Does a Qwen3-VL checkpoint look at its screenshot? Three numbers per language-model layer.

For two screenshots that differ only in where a blue block is, the hidden states at the image tokens
give: their mean norm, their spread within one screenshot (how different the tokens of one image are
from each other) and the difference between the two screenshots. A model that reads its images keeps
the spread and the difference a sizeable share of the norm; one whose vision features collapsed into
a large shared vector has a norm many times its spread (docs/nano.md: 2.6 → 91 for nano's first SFT).
The last line is the same difference at the position that writes the answer.

    python scripts/vision_probe.py runs/nano/base runs/nano/sft/checkpoints/step-001500
"""

from __future__ import annotations

import argparse

import torch
from PIL import Image, ImageDraw

from pixelpilot.model.hf import HFModel
from pixelpilot.model.spec import resolve_model_path


def screenshot(x: int, y: int) -> Image.Image:
    image = Image.new("RGB", (480, 630), (236, 236, 236))
    ImageDraw.Draw(image).rectangle((x, y, x + 120, y + 90), fill=(40, 80, 220))
    return image


@torch.no_grad()
def probe(spec: str) -> None:
    model = HFModel(resolve_model_path(spec))
    processor, network = model.processor, model.model
    messages = [{"role": "user", "content": [{"type": "text", "text": "Click the button."}, {"type": "image"}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    states = []
    for x, y in ((30, 180), (330, 480)):
        inputs = processor(text=[prompt], images=[screenshot(x, y)], return_tensors="pt")
        hidden = network.model(**inputs, use_cache=False, output_hidden_states=True).hidden_states
        image = inputs["input_ids"][0] == network.config.image_token_id
        states.append(([layer[0][image] for layer in hidden], hidden[-1][0, -1]))
    print(spec)
    for index, (first, second) in enumerate(zip(states[0][0], states[1][0], strict=True)):
        norm = first.norm(dim=-1).mean().item()
        spread = (first - first.mean(0)).norm(dim=-1).mean().item()
        apart = (first - second).norm(dim=-1).mean().item()
        print(f"  layer {index}: image-token norm {norm:7.2f}  spread {spread:6.3f}  between screenshots {apart:6.3f}")
    answer = (states[0][1] - states[1][1]).norm().item()
    print(f"  answer position: norm {states[0][1].norm().item():.2f}, between screenshots {answer:.3f}")
    model.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="model folders, checkpoint folders or run:DIR")
    for spec in parser.parse_args().models:
        probe(spec)


if __name__ == "__main__":
    main()
