"""Any OpenAI-compatible chat server (vLLM, SGLang, ``transformers serve``...) over HTTP.

What comes back depends on the server, so token ids are taken from the most exact source that
answers, in this order:

1. ``token_ids`` per choice (vLLM's ``return_token_ids``): exactly the sampled ids;
2. log-prob entries written ``token_id:N`` (vLLM's ``return_tokens_as_token_ids``): exact;
3. log-prob entries mapped through the model's tokenizer, when it can be loaded locally (the
   ``#model-name`` of the spec is a local checkpoint, or ``tokenizer=`` names one): exact for
   byte-level BPE, whose token bytes identify the token;
4. the returned text re-tokenized with that tokenizer, plus the stop token when the server says
   it stopped: an approximation (``transformers serve`` returns no log-probs, so this is its case);
5. nothing (no log-probs, no local tokenizer): empty ``token_ids``.

``logprobs`` is empty whenever the server returned none or they do not line up with the ids; the
RL trainer then recomputes them itself. Fields that only some servers accept (``top_k``, the
token-id switches) are sent, and dropped for good the first time a server rejects them by name.

With a local processor the vision placeholder tokens get a ``logit_bias`` of -100, OpenAI's
lowest (vLLM clamps to it), so that the server does not sample them either. It is a bias, not the
exact mask of the in-process backends: a server's log-probs keep the tokens' tiny mass.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from pixelpilot.errors import ModelError
from pixelpilot.model.base import ChatModel, Conversation, Generation, SamplingParams
from pixelpilot.model.images import (
    ResizeRule,
    is_image_part,
    resize_for_qwen,
    to_data_url,
    to_pil,
)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
OPTIONAL_FIELDS = ("top_k", "return_tokens_as_token_ids", "return_token_ids", "logit_bias")
SUPPRESSING_BIAS = -100.0
_TOKEN_ID_PREFIX = "token_id:"


def _bytes_to_unicode() -> dict[int, str]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return bytes_to_unicode()


class OpenAIModel(ChatModel):
    """A model behind ``POST {base_url}/chat/completions``; conversations of a batch run concurrently."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        sampling: SamplingParams | None = None,
        timeout: float = 300.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        concurrency: int = 8,
        image_format: str = "png",
        tokenizer: str | Path | None = None,
        resize: ResizeRule | None = None,
        extra_body: dict[str, Any] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.default_sampling = sampling or SamplingParams.for_model(model)
        self.max_retries = max_retries
        self.backoff = backoff
        self.concurrency = max(1, concurrency)
        self.image_format = image_format
        self.extra_body = dict(extra_body or {})
        self.tokenizer, local_rule, self.suppressed_token_ids = self._local_tokenizer(
            tokenizer if tokenizer is not None else model
        )
        self.resize = resize or local_rule or ResizeRule()
        self._vocab: dict[str, int] = self.tokenizer.get_vocab() if self.tokenizer is not None else {}
        self._added: dict[str, int] = self.tokenizer.get_added_vocab() if self.tokenizer is not None else {}
        self._byte_encoder = _bytes_to_unicode() if self.tokenizer is not None else {}
        self._rejected: set[str] = set()
        self._rejected_lock = threading.Lock()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0))
        )

    @classmethod
    def from_spec(cls, target: str, **kwargs: Any) -> OpenAIModel:
        """``http://HOST:PORT/v1#model-name``; without ``#name`` the server's first listed model is used."""
        url, _, name = target.partition("#")
        if not url.startswith(("http://", "https://")):
            raise ModelError(f"openai spec needs an http(s) URL, got {target!r}")
        if not name:
            name = cls._first_served_model(url, kwargs.get("api_key"))
        return cls(url, name, **kwargs)

    @staticmethod
    def _first_served_model(url: str, api_key: str | None) -> str:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            response = httpx.get(f"{url.rstrip('/')}/models", headers=headers, timeout=10.0)
            response.raise_for_status()
            return response.json()["data"][0]["id"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
            raise ModelError(f"cannot list the models of {url} ({exc}); name one as {url}#model-name") from exc

    @staticmethod
    def _local_tokenizer(source: str | Path) -> tuple[Any, ResizeRule | None, tuple[int, ...]]:
        """Tokenizer, resize rule and vision token ids of a local checkpoint directory; never the hub."""
        path = Path(source)
        if not path.is_dir():
            return None, None, ()
        from transformers import AutoProcessor

        from pixelpilot.model.hf import vision_token_ids

        try:
            processor = AutoProcessor.from_pretrained(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot load the processor of {path}: {exc}") from exc
        tokenizer = getattr(processor, "tokenizer", processor)
        image_processor = getattr(processor, "image_processor", None)
        rule = ResizeRule.from_image_processor(image_processor) if image_processor is not None else None
        return tokenizer, rule, vision_token_ids(processor)

    # -- requests ---------------------------------------------------------------------------

    def generate(self, conversations: list[Conversation], sampling: SamplingParams | None = None) -> list[Generation]:
        sampling = sampling or self.default_sampling
        # Distinct seeds per conversation: a group of identical prompts must not return one sample.
        seeds = [None if sampling.seed is None else sampling.seed + i for i in range(len(conversations))]
        samplings = [sampling] * len(conversations)
        if len(conversations) <= 1:
            return list(map(self._complete, conversations, samplings, seeds))
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(conversations))) as pool:
            return list(pool.map(self._complete, conversations, samplings, seeds))

    def _messages(self, conversation: Conversation) -> list[dict[str, Any]]:
        """OpenAI message parts; images resized by Qwen's rule and inlined as data URLs."""
        if not isinstance(conversation, list) or not conversation:
            raise ModelError("a conversation must be a non-empty list of messages")
        messages = []
        for message in conversation:
            if not isinstance(message, dict) or "role" not in message:
                raise ModelError(f"a message must be a dict with a 'role', got {message!r:.100}")
            content = message.get("content", "")
            if isinstance(content, str):
                messages.append({"role": message["role"], "content": content})
                continue
            parts = []
            for part in content:
                if is_image_part(part):
                    image = resize_for_qwen(to_pil(part.get("image")), self.resize)
                    parts.append({"type": "image_url", "image_url": {"url": to_data_url(image, self.image_format)}})
                elif isinstance(part, dict) and isinstance(part.get("text"), str):
                    parts.append({"type": "text", "text": part["text"]})
                else:
                    raise ModelError(f"unsupported content part {part!r:.100}: use text or image parts")
            messages.append({"role": message["role"], "content": parts})
        return messages

    def _body(self, conversation: Conversation, sampling: SamplingParams, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.name,
            "messages": self._messages(conversation),
            "max_tokens": sampling.max_new_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "presence_penalty": sampling.presence_penalty,
            "logprobs": True,
            "stream": False,
            # Sent even when disabled (-1): vLLM otherwise applies the checkpoint's own top_k.
            "top_k": sampling.top_k if sampling.top_k > 0 else -1,
            "return_tokens_as_token_ids": True,
            "return_token_ids": True,
        }
        if seed is not None:
            body["seed"] = seed
        body.update(self.extra_body)
        if self.suppressed_token_ids:
            # Over any bias the caller set: a sampled placeholder makes the next prompt unusable.
            bias = {str(token): value for token, value in (body.get("logit_bias") or {}).items()}
            bias.update({str(token): SUPPRESSING_BIAS for token in self.suppressed_token_ids})
            body["logit_bias"] = bias
        with self._rejected_lock:
            for name in self._rejected:
                body.pop(name, None)
        return body

    def _complete(self, conversation: Conversation, sampling: SamplingParams, seed: int | None) -> Generation:
        body = self._body(conversation, sampling, seed)
        return self._parse(self._post(body))

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries on connection errors, timeouts, 429 and 5xx; one ModelError when it gives up."""
        attempt = 0
        while True:
            try:
                response = self._client.post("/chat/completions", json=body)
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError as exc:
                        raise ModelError(f"{self.base_url} answered with invalid JSON: {exc}") from exc
                rejected = self._rejected_fields(response, body)
                if rejected:
                    with self._rejected_lock:
                        self._rejected.update(rejected)
                    body = {k: v for k, v in body.items() if k not in rejected}
                    continue
                failure = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code not in RETRY_STATUS:
                    raise ModelError(f"{self.base_url} refused the request ({failure})")
            if attempt >= self.max_retries:
                raise ModelError(f"{self.base_url} failed after {attempt + 1} attempts ({failure})")
            time.sleep(min(self.backoff * 2**attempt, 30.0))
            attempt += 1

    @property
    def rejected_fields(self) -> set[str]:
        """Optional request fields this server refused by name; they are no longer sent."""
        with self._rejected_lock:
            return set(self._rejected)

    @staticmethod
    def _rejected_fields(response: httpx.Response, body: dict[str, Any]) -> set[str]:
        """Optional fields a 400/422 names, so the request can go again without them."""
        if response.status_code not in (400, 422):
            return set()
        return {name for name in OPTIONAL_FIELDS if name in body and name in response.text}

    # -- responses --------------------------------------------------------------------------

    def _parse(self, data: dict[str, Any]) -> Generation:
        try:
            choice = data["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ModelError(f"response has no choice/message: {json.dumps(data)[:300]}") from exc
        text = raw_text(message)
        finish_reason = choice.get("finish_reason") or "stop"
        if finish_reason == "tool_calls":
            finish_reason = "stop"
        entries = (choice.get("logprobs") or {}).get("content") or []
        logprobs = [float(entry["logprob"]) for entry in entries if "logprob" in entry]
        token_ids = choice.get("token_ids") or self.ids_from_logprobs(entries)
        if token_ids is None:
            token_ids = self._retokenize(text, finish_reason)
        if len(logprobs) != len(token_ids):
            logprobs = []
        return Generation(
            text=text,
            token_ids=[int(t) for t in token_ids],
            logprobs=logprobs,
            prompt_token_ids=data.get("prompt_token_ids"),
            finish_reason=finish_reason,
        )

    def ids_from_logprobs(self, entries: list[dict[str, Any]]) -> list[int] | None:
        """Token ids of OpenAI log-prob entries, or None when any entry cannot be mapped exactly."""
        if not entries:
            return None
        ids = []
        for entry in entries:
            token = entry.get("token", "")
            if token.startswith(_TOKEN_ID_PREFIX) and token[len(_TOKEN_ID_PREFIX) :].isdigit():
                ids.append(int(token[len(_TOKEN_ID_PREFIX) :]))
                continue
            token_id = self._vocab_id(token, entry.get("bytes"))
            if token_id is None:
                return None
            ids.append(token_id)
        return ids

    def _vocab_id(self, token: str, raw: list[int] | None) -> int | None:
        """A token's text (and UTF-8 bytes) back to its id: added tokens by text, BPE ones by byte-level form."""
        if not self._vocab:
            return None
        if token in self._added:
            return self._added[token]
        data = bytes(raw) if raw is not None else token.encode("utf-8")
        return self._vocab.get("".join(self._byte_encoder[b] for b in data))

    def _retokenize(self, text: str, finish_reason: str) -> list[int]:
        if self.tokenizer is None:
            return []
        ids = list(self.tokenizer.encode(text, add_special_tokens=False))
        if finish_reason == "stop" and self.tokenizer.eos_token_id is not None:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    def close(self) -> None:
        self._client.close()


def raw_text(message: dict[str, Any]) -> str:
    """Undo servers' reasoning/tool-call parsing, so every backend hands the agent the model's own text."""
    text = message.get("content") or ""
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if reasoning:
        text = f"<think>\n{reasoning.strip()}\n</think>\n\n{text}"
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        arguments = function.get("arguments") or "{}"
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        # Arguments go in verbatim: if the model wrote bad JSON, the agent's parser must see it.
        payload = f'{{"name": {json.dumps(function.get("name", ""), ensure_ascii=False)}, "arguments": {arguments}}}'
        text = f"{text}\n<tool_call>\n{payload}\n</tool_call>" if text else f"<tool_call>\n{payload}\n</tool_call>"
    return text
