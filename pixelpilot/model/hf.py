"""The transformers backend: any Qwen3-VL checkpoint (dense or MoE) sampled in process.

It returns exactly the sampled token ids and their log-probs, which the RL trainer trains on.
Log-probs are ``log_softmax(logits / T)`` of the model's logits at the sampled token, as verl
computes them in its trainer: temperature is part of the policy, while presence penalty, top-k
and top-p only shape which token gets drawn. With T = 1 and no top-k/top-p they are the exact
sampling probabilities; a teacher-forced forward pass reproduces them.

The vision placeholder tokens are never sampled: a sampled ``<|image_pad|>`` claims an image that
is not there, so the processor refuses the next prompt and a training forward cannot score the
sequence. Their logits are set to -inf *before* the log-prob recorder, so the policy is the
distribution over the other tokens, the one the tokens are really drawn from, and the trainer
(``pixelpilot.rl.policy.TokenLogprobs``) applies the same mask when it recomputes them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import torch
from jinja2 import TemplateError
from PIL import Image
from transformers import LogitsProcessor, LogitsProcessorList, SuppressTokensLogitsProcessor

from pixelpilot.errors import ModelError
from pixelpilot.model.base import ChatModel, Conversation, Generation, SamplingParams, checkpoint_prompt_style
from pixelpilot.model.images import normalize_conversation

VISION_TOKEN_FIELDS = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")


def vision_token_ids(source: Any) -> tuple[int, ...]:
    """The ids of the image/video placeholders and vision markers, which a model must never sample.

    ``source`` is a checkpoint's config or its Qwen-VL processor, which name these ids with the same
    attributes: the in-process backends read the config, as the trainer does (it holds only the
    model), and the HTTP backend, which has no model, the processor. A text-only checkpoint has none.
    """
    ids = (getattr(source, field, None) for field in VISION_TOKEN_FIELDS)
    return tuple(sorted({int(i) for i in ids if i is not None}))


class PresencePenaltyLogitsProcessor(LogitsProcessor):
    """vLLM/OpenAI presence penalty, which transformers lacks: a flat cut for every token already generated.

    Only generated tokens count (not the prompt), as in vLLM.
    """

    def __init__(self, penalty: float, prompt_length: int):
        self.penalty = penalty
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_length :]
        if generated.shape[1] == 0:
            return scores
        seen = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, generated, True)
        return scores - self.penalty * seen.to(scores.dtype)


class SampledLogprobRecorder(LogitsProcessor):
    """Records ``log_softmax(logits / T)`` of each step's sampled token.

    Placed right after the vision-token suppression, it sees the model's logits with only those
    tokens masked. The token drawn at a step is only known at the next call (as the last input id),
    so it keeps one step of log-probs: memory stays at batch x vocab instead of steps x batch x vocab.
    """

    def __init__(self, temperature: float):
        self.temperature = temperature
        self._pending: torch.Tensor | None = None
        self._steps: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._pending is not None:
            self._steps.append(self._pending.gather(1, input_ids[:, -1:]).squeeze(1))
        self._pending = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        return scores

    def collect(self, last_tokens: torch.LongTensor) -> torch.Tensor:
        """All steps' log-probs, ``(batch, steps)``; ``last_tokens`` are the tokens of the final step."""
        if self._pending is not None:
            last = last_tokens.to(self._pending.device).view(-1, 1)
            self._steps.append(self._pending.gather(1, last).squeeze(1))
            self._pending = None
        return torch.stack(self._steps, dim=1).cpu()


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    """bf16 on accelerators as Qwen ships it; float32 on CPU, where bf16 is slow and log-probs drift."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    resolved = getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype):
        raise ModelError(f"unknown dtype {dtype!r}: use float32, bfloat16, float16 or auto")
    return resolved


def render_prompt(processor: Any, conversation: Conversation) -> tuple[str, list[Image.Image]]:
    """The prompt text (chat template, generation prompt appended) and its images in order.

    In-process backends share it so that transformers and vLLM sample from the same text.
    """
    messages, images = normalize_conversation(conversation)
    try:
        text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except (TemplateError, ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"chat template failed: {exc}") from exc
    placeholders = text.count(processor.image_token)
    if placeholders != len(images):
        raise ModelError(
            f"the chat template rendered {placeholders} image placeholders for {len(images)} images "
            "(Qwen templates drop images outside user turns)"
        )
    return text, images


@contextmanager
def seeded(seed: int | None, device: str) -> Iterator[None]:
    """Seed sampling for one call without moving the caller's global RNG state."""
    if seed is None:
        yield
        return
    devices = []
    if device.startswith("cuda"):
        index = torch.device(device).index
        devices = [torch.cuda.current_device() if index is None else index]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class HFModel(ChatModel):
    """A transformers image-text-to-text checkpoint; the architecture (dense/MoE) comes from its config.

    A LoRA adapter checkpoint is sampled merged into its base.
    """

    def __init__(
        self,
        name_or_path: str,
        *,
        device: str = "cpu",
        dtype: str | torch.dtype | None = None,
        sampling: SamplingParams | None = None,
        batch_size: int | None = None,
        attn_implementation: str | None = None,
    ):
        from transformers import AutoProcessor

        from pixelpilot.model.lora import load_pretrained

        self.name = name_or_path
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.default_sampling = sampling or SamplingParams.for_model(name_or_path)
        self.batch_size = batch_size
        extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
        try:
            self.processor = AutoProcessor.from_pretrained(name_or_path)
            self.model = load_pretrained(name_or_path, dtype=self.dtype, **extra)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot load checkpoint {name_or_path!r}: {exc}") from exc
        self.model.to(self.device).eval()
        if sampling is None and self.model.generation_config.do_sample is False:
            # A checkpoint that ships greedy decoding (pixelpilot-nano) is decoded as it asks.
            limit = self.model.generation_config.max_new_tokens or self.default_sampling.max_new_tokens
            self.default_sampling = SamplingParams(temperature=0.0, top_p=1.0, top_k=0, max_new_tokens=limit)
        self.prompt_style = checkpoint_prompt_style(self.model.generation_config)
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        self.eos_token_ids = self._eos_token_ids()
        # From the config, as the trainer reads them (it holds the model only); the processor agrees.
        self.suppressed_token_ids = vision_token_ids(self.model.config)
        self.pad_token_id = self.tokenizer.pad_token_id
        if self.pad_token_id is None:
            self.pad_token_id = self.eos_token_ids[0]
        self._lock = threading.Lock()
        self.autocast: torch.dtype | None = None
        """Sample under ``torch.autocast`` to this dtype: a trainer computing in bf16 over fp32 weights sets it,
        so that the sampler's log-probs come from the same precision as the trainer's (an on-policy ratio of 1)."""

    def _eos_token_ids(self) -> list[int]:
        """The checkpoint's stop tokens (Qwen: <|im_end|> and <|endoftext|>)."""
        configured = self.model.generation_config.eos_token_id
        ids = configured if isinstance(configured, list) else [configured]
        ids = [i for i in ids if i is not None]
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        if not ids:
            raise ModelError(f"checkpoint {self.name!r} defines no end-of-sequence token")
        return ids

    def render(self, conversation: Conversation) -> tuple[str, list[Image.Image]]:
        """What the model is fed for a conversation: the prompt text and its images."""
        return render_prompt(self.processor, conversation)

    def generate(self, conversations: list[Conversation], sampling: SamplingParams | None = None) -> list[Generation]:
        sampling = sampling or self.default_sampling
        size = self.batch_size or max(1, len(conversations))
        results: list[Generation] = []
        with self._lock:
            for start in range(0, len(conversations), size):
                results.extend(self._generate_batch(conversations[start : start + size], sampling))
        return results

    def _generate_batch(self, conversations: list[Conversation], sampling: SamplingParams) -> list[Generation]:
        texts, images = [], []
        for conversation in conversations:
            text, conversation_images = self.render(conversation)
            texts.append(text)
            images.extend(conversation_images)
        inputs = self.processor(text=texts, images=images or None, padding=True, return_tensors="pt")
        inputs = inputs.to(self.device)
        prompt_length = inputs["input_ids"].shape[1]

        greedy = sampling.temperature == 0.0
        temperature = 1.0 if greedy else sampling.temperature
        recorder = SampledLogprobRecorder(temperature)
        # The mask goes before the recorder: the recorded log-prob is that of the masked distribution,
        # which is what the token is drawn from and what the trainer recomputes.
        processors = LogitsProcessorList([*self._suppression(), recorder])
        if sampling.presence_penalty:
            processors.append(PresencePenaltyLogitsProcessor(sampling.presence_penalty, prompt_length))
        # Sampling fields set explicitly: generate() fills unset ones from the checkpoint's own defaults
        # (Qwen ships top_k=20, top_p=0.8), which would silently change the distribution. Greedy sets
        # none, so the inherited ones are ignored without a warning.
        warpers = {} if greedy else {"temperature": temperature, "top_p": sampling.top_p, "top_k": sampling.top_k}
        with seeded(sampling.seed, self.device), torch.inference_mode(), self._precision():
            sequences = self.model.generate(
                **inputs,
                max_new_tokens=sampling.max_new_tokens,
                do_sample=not greedy,
                **warpers,
                repetition_penalty=1.0,
                eos_token_id=self.eos_token_ids,
                pad_token_id=self.pad_token_id,
                logits_processor=processors,
            )
        generated = sequences[:, prompt_length:].cpu()
        logprobs = recorder.collect(generated[:, -1])
        if logprobs.shape[1] != generated.shape[1]:
            raise ModelError(f"recorded {logprobs.shape[1]} log-prob steps for {generated.shape[1]} tokens")

        attention = inputs["attention_mask"].bool().cpu()
        prompt_ids = inputs["input_ids"].cpu()
        return [
            self._generation(generated[row].tolist(), logprobs[row].tolist(), prompt_ids[row][attention[row]].tolist())
            for row in range(len(conversations))
        ]

    def _precision(self) -> AbstractContextManager[Any]:
        if self.autocast is None:
            return nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=self.autocast)

    def _suppression(self) -> list[LogitsProcessor]:
        if not self.suppressed_token_ids:
            return []
        return [SuppressTokensLogitsProcessor(self.suppressed_token_ids, device=self.device)]

    def _generation(self, ids: list[int], logprobs: list[float], prompt_ids: list[int]) -> Generation:
        """Cut a batch row after its first stop token: what follows is padding, not samples."""
        stop = next((i for i, token in enumerate(ids) if token in self.eos_token_ids), None)
        if stop is not None:
            ids, logprobs = ids[: stop + 1], logprobs[: stop + 1]
        return Generation(
            text=self.tokenizer.decode(ids, skip_special_tokens=True),
            token_ids=ids,
            logprobs=logprobs,
            prompt_token_ids=prompt_ids,
            finish_reason="stop" if stop is not None else "length",
        )

    def load_weights(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Copy trained weights in (RL weight sync); names are those of ``self.model.state_dict()``."""
        _missing, unexpected = self.model.load_state_dict(state_dict, strict=False)
        if unexpected:
            raise ModelError(f"unknown weights for {self.name!r}: {unexpected[:5]}")

    def close(self) -> None:
        if self.device.startswith("cuda"):
            self.model.to("cpu")
            torch.cuda.empty_cache()
