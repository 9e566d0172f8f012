"""The vLLM backend: a Qwen3-VL checkpoint sampled in process by ``vllm.LLM`` (GPU).

Every vLLM API used here was checked against the source of vLLM 0.33.0 (commit 4ba787ec9).

vLLM is imported here only, so pixelpilot installs and runs without it. Log-probs are vLLM's
``processed_logprobs``: the log-softmax of the logits after the vision-token ban, penalties,
temperature, top-k and top-p, i.e. of the distribution the token was drawn from. With penalties
and top-k/top-p off this is exactly what the transformers backend records and what the trainer
recomputes (``log_softmax(logits / T)`` without the vision tokens); the RL trainer corrects any
remaining rollout/trainer mismatch with truncated importance sampling.

The vision placeholder tokens are banned as ``bad_words`` (one token each), which vLLM applies as
an exact -inf on their logits before temperature, as the transformers backend does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from pixelpilot.errors import ModelError
from pixelpilot.model.base import ChatModel, Conversation, Generation, SamplingParams, checkpoint_prompt_style

INSTALL_HINT = "vLLM is not installed: pip install pixelpilot[vllm]"
INSECURE_SERIALIZATION = "VLLM_ALLOW_INSECURE_SERIALIZATION"
WEIGHT_CHUNK_BYTES = 1 << 30
"""Bytes of weights per call into the engine: vLLM's multiprocess client sends a call as one
MessagePack extension, which cannot exceed 4 GiB, and a whole checkpoint easily does."""

_FUSED_EXPERTS = re.compile(r"\.mlp\.experts\.(gate_up_proj|down_proj)$")


def checkpoint_layout(state_dict: dict[str, Any], config: Any) -> dict[str, Any]:
    """Weights named and laid out as ``model.state_dict()`` of transformers, in Qwen's checkpoint layout.

    vLLM's ``load_weights`` reads tensors as Qwen's released checkpoints store them. Those are the
    transformers names, but a Qwen3-VL-MoE layer's fused experts differ: the checkpoints hold
    ``(experts, in, out)``, transformers 5 transposes them to ``(experts, out, in)`` on load, and
    vLLM transposes whatever it gets. Sent as transformers holds them they would land transposed;
    this transposes them back and checks the result against the config's sizes.
    """
    text = getattr(config, "text_config", config)
    converted = dict(state_dict)
    for name, tensor in state_dict.items():
        match = _FUSED_EXPERTS.search(name)
        if match is None:
            continue
        experts, hidden, inner = text.num_experts, text.hidden_size, text.moe_intermediate_size
        expected = (experts, hidden, 2 * inner) if match.group(1) == "gate_up_proj" else (experts, inner, hidden)
        converted[name] = tensor.transpose(1, 2)
        if tuple(converted[name].shape) != expected:
            raise ModelError(
                f"{name} has shape {tuple(tensor.shape)}; transformers' (experts, out, in) layout "
                f"of it is {(expected[0], expected[2], expected[1])}"
            )
    return converted


def weight_chunks(weights: dict[str, Any], max_bytes: int = WEIGHT_CHUNK_BYTES) -> Iterator[list[tuple[str, Any]]]:
    """``(name, tensor)`` lists of at most ``max_bytes`` each (a larger tensor goes alone)."""
    chunk: list[tuple[str, Any]] = []
    size = 0
    for name, tensor in weights.items():
        nbytes = tensor.numel() * tensor.element_size()
        if chunk and size + nbytes > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append((name, tensor))
        size += nbytes
    if chunk:
        yield chunk


class VLLMModel(ChatModel):
    """``vllm.LLM`` behind the ChatModel interface; engine options pass straight to ``vllm.LLM``.

    ``weight_sync=True`` readies the engine for ``load_weights`` (RL): vLLM's multiprocess engine
    only accepts a shipped function when ``VLLM_ALLOW_INSECURE_SERIALIZATION=1`` was set before it
    started, which lets it unpickle what this process sends over its local IPC sockets.
    """

    def __init__(
        self,
        model: str,
        *,
        sampling: SamplingParams | None = None,
        max_images_per_prompt: int = 8,
        logprobs_mode: str = "processed_logprobs",
        weight_sync: bool = False,
        **engine_kwargs: Any,
    ):
        try:
            import vllm
        except ImportError as exc:
            raise ModelError(INSTALL_HINT) from exc
        from transformers import AutoConfig, AutoProcessor, GenerationConfig

        from pixelpilot.model.hf import vision_token_ids

        self.name = model
        self.default_sampling = sampling or SamplingParams.for_model(model)
        self._vllm = vllm
        self._errors = _vllm_errors()
        if weight_sync:
            os.environ.setdefault(INSECURE_SERIALIZATION, "1")
        # Images only: no video budget for the engine to profile and reserve.
        engine_kwargs.setdefault("limit_mm_per_prompt", {"image": max_images_per_prompt, "video": 0})
        try:
            # The prompt is rendered by the checkpoint's own processor, exactly as the hf backend does.
            self.processor = AutoProcessor.from_pretrained(model)
            self.config = AutoConfig.from_pretrained(model)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot load checkpoint {model!r}: {exc}") from exc
        try:
            self.prompt_style = checkpoint_prompt_style(GenerationConfig.from_pretrained(model))
        except OSError:  # a checkpoint without a generation config names no prompt style
            self.prompt_style = None
        self.suppressed_token_ids = vision_token_ids(self.config)  # as the trainer reads them
        self._bad_words = self._single_token_words(self.suppressed_token_ids)
        try:
            self.llm = vllm.LLM(model=model, logprobs_mode=logprobs_mode, **engine_kwargs)
        except (OSError, *self._errors) as exc:
            raise ModelError(f"vLLM cannot load {model!r}: {exc}") from exc

    def _single_token_words(self, token_ids: tuple[int, ...]) -> list[str]:
        """The tokens' strings, checked to encode back to exactly that token (vLLM bans strings)."""
        tokenizer = self.processor.tokenizer
        words = tokenizer.convert_ids_to_tokens(list(token_ids))
        for token_id, word in zip(token_ids, words, strict=True):
            if tokenizer.encode(word, add_special_tokens=False) != [token_id]:
                raise ModelError(f"{word!r} does not encode to token {token_id} alone; vLLM could not ban it")
        return words

    def _sampling_params(self, sampling: SamplingParams, seed: int | None) -> Any:
        return self._vllm.SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k,  # 0 disables, in both
            presence_penalty=sampling.presence_penalty,
            max_tokens=sampling.max_new_tokens,
            seed=seed,
            logprobs=0,  # the sampled token's only
            bad_words=self._bad_words,
        )

    def generate(self, conversations: list[Conversation], sampling: SamplingParams | None = None) -> list[Generation]:
        from pixelpilot.model.hf import render_prompt

        if not conversations:
            return []
        sampling = sampling or self.default_sampling
        prompts = []
        for conversation in conversations:
            text, images = render_prompt(self.processor, conversation)
            prompt: dict[str, Any] = {"prompt": text}
            if images:
                prompt["multi_modal_data"] = {"image": images}
            prompts.append(prompt)
        try:
            # Distinct seeds per request: identical prompts in a GRPO group must not share a sample.
            params = [
                self._sampling_params(sampling, None if sampling.seed is None else sampling.seed + i)
                for i in range(len(conversations))
            ]
            outputs = self.llm.generate(prompts, sampling_params=params, use_tqdm=False)
        except self._errors as exc:
            raise ModelError(f"vLLM generation failed: {exc}") from exc
        return [self._generation(output) for output in outputs]

    @staticmethod
    def _generation(output: Any) -> Generation:
        completion = output.outputs[0]
        token_ids = list(completion.token_ids)
        # One dict per sampled token, {token_id: Logprob}; with logprobs=0 it holds the sampled token.
        logprobs = [step[token].logprob for step, token in zip(completion.logprobs or [], token_ids, strict=False)]
        return Generation(
            text=completion.text,
            token_ids=token_ids,
            logprobs=logprobs if len(logprobs) == len(token_ids) else [],
            prompt_token_ids=list(output.prompt_token_ids or []),
            finish_reason="length" if completion.finish_reason == "length" else "stop",
        )

    def load_weights(self, state_dict: dict[str, Any]) -> None:
        """RL weight sync: names are those of ``HFModel.model.state_dict()``, as for the hf backend.

        The weights go to the engine's model in chunks; then the prefix cache and the cached image
        features, both computed by the old weights, are dropped.
        """
        weights = checkpoint_layout(state_dict, self.config)
        try:
            for chunk in weight_chunks(weights):
                self.llm.apply_model(_loader(chunk))
        except Exception as exc:  # vLLM's multiprocess client re-raises a worker's failure as a bare Exception
            hint = ""
            if os.environ.get(INSECURE_SERIALIZATION) != "1":
                hint = f" (a multiprocess engine needs {INSECURE_SERIALIZATION}=1: create it with weight_sync=True)"
            raise ModelError(f"vLLM could not load the new weights: {exc}{hint}") from exc
        if self.llm.reset_prefix_cache() is False:
            raise ModelError("vLLM kept its prefix cache after new weights (requests still running?)")
        # Recent vLLM reuses an image's encoder output across requests; older versions lack the reset.
        reset_encoder_cache = getattr(self.llm.llm_engine, "reset_encoder_cache", None)
        if reset_encoder_cache is not None:
            reset_encoder_cache()

    def close(self) -> None:
        import gc

        engine_core = getattr(self.llm.llm_engine, "engine_core", None)
        if engine_core is not None:
            engine_core.shutdown()
        del self.llm
        gc.collect()


def _loader(chunk: list[tuple[str, Any]]) -> Any:
    """A function of the engine's model that loads ``chunk``: what ``LLM.apply_model`` runs in each worker."""

    def load(model: Any) -> None:
        model.load_weights(weights=chunk)

    return load


def _vllm_errors() -> tuple[type[BaseException], ...]:
    """What vLLM raises for a bad request or a failed engine call (its own errors are no ValueError)."""
    try:
        from vllm.exceptions import VLLMError
    except ImportError:
        return (ValueError, RuntimeError, TypeError)
    return (ValueError, RuntimeError, TypeError, VLLMError)
