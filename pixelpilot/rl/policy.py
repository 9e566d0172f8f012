"""The policy being trained: batching sequences into model inputs and scoring their tokens.

``TokenLogprobs`` wraps a Qwen3-VL checkpoint as one ``nn.Module`` whose forward returns the
log-prob of every generated token, so that DDP or FSDP can wrap exactly the computation that
training differentiates. The vocabulary projection runs only at the generated positions: prompts
are long (the tool schemas alone are hundreds of tokens) while answers are short.

Log-probs are ``log_softmax(logits / T)`` with the vision placeholder tokens masked out, as the
transformers backend records them while sampling, so that a freshly sampled batch scores a ratio of 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
from PIL import Image
from torch import nn

from pixelpilot.model.hf import vision_token_ids
from pixelpilot.rl.sequences import TrainingSequence


@dataclass
class Batch:
    """Right-padded model inputs and per-token training data, all ``(rows, tokens)`` but the images'."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    mm_token_type_ids: torch.Tensor
    loss_mask: torch.Tensor
    logprobs: torch.Tensor
    advantages: torch.Tensor
    unit_tokens: torch.Tensor
    """Per row: the trained tokens of its episode, the unit of the ``seq-`` aggregations."""
    has_logprobs: torch.Tensor
    """Per row: whether the sampler returned log-probs (else ``logprobs`` holds zeros)."""
    pixel_values: torch.Tensor | None = None
    image_grid_thw: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return Batch(**{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in moved.items()})

    @property
    def model_inputs(self) -> dict[str, Any]:
        return {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "mm_token_type_ids": self.mm_token_type_ids,
            "pixel_values": self.pixel_values,
            "image_grid_thw": self.image_grid_thw,
            "loss_mask": self.loss_mask,
        }


def collate(
    sequences: Sequence[TrainingSequence],
    image_processor: Any,
    pad_token_id: int,
    image_token_id: int,
) -> Batch:
    """Pad sequences to one batch and run the checkpoint's image processor over their images.

    The image count is checked against the placeholders, so a record whose images got out of step
    with its ids fails here, not as garbage gradients.
    """
    if not sequences:
        raise ValueError("cannot collate an empty batch")
    length = max(len(s.input_ids) for s in sequences)
    rows = len(sequences)
    input_ids = torch.full((rows, length), pad_token_id, dtype=torch.long)
    attention = torch.zeros((rows, length), dtype=torch.long)
    loss_mask = torch.zeros((rows, length), dtype=torch.bool)
    logprobs = torch.zeros((rows, length), dtype=torch.float32)
    images: list[Image.Image] = []
    for row, sequence in enumerate(sequences):
        n = len(sequence.input_ids)
        input_ids[row, :n] = torch.tensor(sequence.input_ids)
        attention[row, :n] = 1
        loss_mask[row, :n] = torch.tensor(sequence.loss_mask, dtype=torch.bool)
        logprobs[row, :n] = torch.tensor(sequence.logprobs, dtype=torch.float32)
        images.extend(sequence.images)
    advantages = torch.tensor([s.advantage for s in sequences], dtype=torch.float32)
    units = torch.tensor([float(s.unit_tokens) for s in sequences], dtype=torch.float32)
    known = torch.tensor([s.has_logprobs for s in sequences], dtype=torch.bool)
    mm_types = (input_ids == image_token_id).to(torch.int32)
    batch = Batch(input_ids, attention, mm_types, loss_mask, logprobs, advantages, units, known)
    if images:
        processed = image_processor(images=images, return_tensors="pt")
        batch.pixel_values = processed["pixel_values"]
        batch.image_grid_thw = processed["image_grid_thw"]
        merge = getattr(image_processor, "merge_size", 2) ** 2
        expected = int(batch.image_grid_thw.prod(dim=-1).sum()) // merge
        if int(mm_types.sum()) != expected:
            raise ValueError(f"{int(mm_types.sum())} image tokens in the ids for {expected} image features")
    elif int(mm_types.sum()):
        raise ValueError("the ids hold image tokens but the sequences carry no images")
    return batch


def scorable(sequence: TrainingSequence, placeholder_ids: Sequence[int]) -> bool:
    """False when the model itself sampled an image or video placeholder token.

    The checkpoint's forward pairs every placeholder in the ids with an image feature, so such a
    sequence cannot be scored as it was sampled (there the token was only an embedding). A trained
    model never writes one; a random one sometimes does, and its sequence is left out of training.
    """
    banned = set(placeholder_ids)
    return not any(t in banned for t, m in zip(sequence.input_ids, sequence.loss_mask, strict=True) if m)


class TokenLogprobs(nn.Module):
    """``forward(...) -> (logprobs, entropy)``, both ``(rows, tokens)`` aligned with ``input_ids``.

    Position ``t`` holds ``log p(input_ids[t] | input_ids[:t])`` where ``loss_mask[t]`` is set and 0
    elsewhere; entropy is that of the whole next-token distribution there, without gradient. The
    distribution excludes ``suppressed_ids`` (by default the checkpoint's vision tokens), which the
    backends never sample: it is the one the sampled tokens were drawn from.
    """

    def __init__(self, model: nn.Module, temperature: float = 1.0, suppressed_ids: Sequence[int] | None = None) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError("temperature must be > 0 (greedy decoding has no log-probs to train)")
        self.model = model
        self.temperature = temperature
        self.suppressed_ids = tuple(vision_token_ids(model.config) if suppressed_ids is None else suppressed_ids)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        mm_token_type_ids: torch.Tensor,
        loss_mask: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        image_grid_thw: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        extra = {"pixel_values": pixel_values, "image_grid_thw": image_grid_thw} if pixel_values is not None else {}
        hidden = self.model.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            mm_token_type_ids=mm_token_type_ids,
            use_cache=False,
            **extra,
        ).last_hidden_state
        targets = loss_mask[:, 1:].bool()
        logits = self.model.get_output_embeddings()(hidden[:, :-1][targets]).float() / self.temperature
        if self.suppressed_ids:
            suppressed = torch.tensor(self.suppressed_ids, device=logits.device)
            logits = logits.index_fill_(1, suppressed, float("-inf"))
        log_probs = torch.log_softmax(logits, dim=-1)
        chosen = log_probs.gather(1, input_ids[:, 1:][targets].unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            # clamp: a masked token adds 0 * -inf = nan otherwise.
            entropy = -(log_probs.exp() * log_probs.clamp(min=torch.finfo(log_probs.dtype).min)).sum(dim=-1)
        zeros = torch.zeros(input_ids.shape[0], 1, dtype=chosen.dtype, device=chosen.device)
        scored = torch.zeros_like(targets, dtype=chosen.dtype).masked_scatter(targets, chosen)
        spread = torch.zeros_like(targets, dtype=chosen.dtype).masked_scatter(targets, entropy)
        return torch.cat([zeros, scored], dim=1), torch.cat([zeros, spread], dim=1)


class WithoutAdapters(nn.Module):
    """A LoRA policy scored with its adapters switched off: the base model, a LoRA run's KL reference.

    It shares the policy's weights (no second copy); ``adapted`` is the PeftModel holding the adapters.
    """

    def __init__(self, policy: TokenLogprobs, adapted: Any) -> None:
        super().__init__()
        self.policy = policy
        self._adapted = (adapted,)  # a tuple: not registered as a second owner of the same weights

    def forward(self, **inputs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        with self._adapted[0].disable_adapter():
            return self.policy(**inputs)
