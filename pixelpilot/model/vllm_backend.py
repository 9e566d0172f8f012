"""The vLLM backend: a Qwen3-VL checkpoint sampled in process by ``vllm.LLM`` (GPU).

vLLM is imported here only, so pixelpilot installs and runs without it. Log-probs are vLLM's
``processed_logprobs`` by default: the log-softmax of the logits after temperature (and after
penalties, top-k and top-p when those are on), i.e. of the distribution the token was drawn from.
With top-k/top-p off this is the transformers backend's ``log_softmax(logits / T)``; the RL
trainer corrects any remaining rollout/trainer mismatch with truncated importance sampling.
"""

from __future__ import annotations

from typing import Any

from pixelpilot.errors import ModelError
from pixelpilot.model.base import ChatModel, Conversation, Generation, SamplingParams

INSTALL_HINT = "vLLM is not installed: pip install pixelpilot[vllm]"


class VLLMModel(ChatModel):
    """``vllm.LLM`` behind the ChatModel interface; engine options pass straight to ``vllm.LLM``."""

    def __init__(
        self,
        model: str,
        *,
        sampling: SamplingParams | None = None,
        max_images_per_prompt: int = 8,
        logprobs_mode: str = "processed_logprobs",
        **engine_kwargs: Any,
    ):
        try:
            import vllm
        except ImportError as exc:
            raise ModelError(INSTALL_HINT) from exc
        from transformers import AutoProcessor

        self.name = model
        self.default_sampling = sampling or SamplingParams.for_model(model)
        self._vllm = vllm
        try:
            # The prompt is rendered by the checkpoint's own processor, exactly as the hf backend does.
            self.processor = AutoProcessor.from_pretrained(model)
            self.llm = vllm.LLM(
                model=model,
                limit_mm_per_prompt={"image": max_images_per_prompt},
                logprobs_mode=logprobs_mode,
                **engine_kwargs,
            )
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"vLLM cannot load {model!r}: {exc}") from exc

    def _sampling_params(self, sampling: SamplingParams, seed: int | None) -> Any:
        return self._vllm.SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k if sampling.top_k > 0 else -1,
            presence_penalty=sampling.presence_penalty,
            max_tokens=sampling.max_new_tokens,
            seed=seed,
            logprobs=0,
        )

    def generate(self, conversations: list[Conversation], sampling: SamplingParams | None = None) -> list[Generation]:
        from pixelpilot.model.hf import render_prompt

        if not conversations:
            return []
        sampling = sampling or self.default_sampling
        prompts, params = [], []
        for i, conversation in enumerate(conversations):
            text, images = render_prompt(self.processor, conversation)
            prompt: dict[str, Any] = {"prompt": text}
            if images:
                prompt["multi_modal_data"] = {"image": images}
            prompts.append(prompt)
            # Distinct seeds per request: identical prompts in a GRPO group must not share a sample.
            params.append(self._sampling_params(sampling, None if sampling.seed is None else sampling.seed + i))
        try:
            outputs = self.llm.generate(prompts, sampling_params=params, use_tqdm=False)
        except (ValueError, RuntimeError) as exc:
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
        """RL weight sync: push trained (HF-named) weights into the engine's model, then drop cached prefixes.

        With vLLM's multiprocess engine this ships a function to the workers, which vLLM allows only
        with ``VLLM_ALLOW_INSECURE_SERIALIZATION=1`` set before the engine starts.
        """
        weights = list(state_dict.items())

        def _load(model: Any) -> None:
            model.load_weights(weights=weights)

        try:
            self.llm.apply_model(_load)
        except (ValueError, RuntimeError, TypeError) as exc:
            raise ModelError(f"vLLM could not load the new weights: {exc}") from exc
        self.llm.reset_prefix_cache()

    def close(self) -> None:
        import gc

        del self.llm
        gc.collect()
