"""Policy-gradient losses on per-token log-probs: SAPO, GRPO's clipped objective, KL, TIS and SFT.

Every tensor is ``(batch, tokens)``; ``loss_mask`` is 1 only on tokens the model generated, so
prompt, observation and padding tokens never reach the gradient. Masked positions are replaced by
zeros *before* any arithmetic, not multiplied by zero after it: padding may hold ``-inf``
log-probs, and ``0 * inf`` would turn the masked gradient into NaN instead of exactly 0.

SAPO (Qwen, arXiv 2511.20347) swaps PPO's hard clip for a soft gate: the surrogate
``f(r) = σ(τ·(r−1))·4/τ`` has slope exactly 1 at ``r = 1`` (so on-policy it is the plain policy
gradient) and fades smoothly as the ratio drifts, with a steeper fade for negative advantages
(``τ_neg > τ_pos``) because pushing down already unlikely tokens is what destabilises training.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

Aggregation = Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-sqrt-norm"]
"""How per-token values become one loss.

- ``token-mean``: mean over every unmasked token of the batch (long sequences weigh more).
- ``seq-mean-token-mean``: mean over sequences of each sequence's token mean (SAPO's choice).
- ``seq-mean-token-sum``: mean over sequences of each sequence's token sum.
- ``seq-sqrt-norm``: each token divided by the square root of its sequence's token count, summed,
  over the sum of those square roots: a sequence weighs ``sqrt(n)``, between token-mean (``n``) and
  sequence-mean (``1``), the report's square-root reweighting for SFT. A constant per-token loss
  ``c`` gives ``c``.

The "sequence" of the ``seq-`` modes is the *episode*: a multi-turn episode trained as one sequence
per turn (``per_turn``) weighs what it weighs as one growing sequence, not once per turn, as the
report's trajectory-level advantage implies. Rows carry their episode's token count (``unit_tokens``);
a row holding a whole episode is its own unit.
"""

MAX_LOG_RATIO = 20.0
"""Log-ratios are clamped to ±20 before ``exp``: a stale or corrupted log-prob must not overflow."""


class PolicyLossConfig(BaseModel):
    """The policy objective and its regularisers; defaults are SAPO's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["sapo", "grpo"] = "sapo"
    tau_pos: float = Field(1.0, gt=0.0, description="SAPO temperature for positive advantages")
    tau_neg: float = Field(1.05, gt=0.0, description="SAPO temperature for zero and negative advantages")
    clip_low: float = Field(0.2, ge=0.0, lt=1.0, description="GRPO: ratio floor 1 - clip_low")
    clip_high: float = Field(0.2, ge=0.0, description="GRPO: ratio ceiling 1 + clip_high (0.28 is DAPO's clip-higher)")
    dual_clip: float | None = Field(None, gt=1.0, description="GRPO: bound the loss of negative advantages at c·|A|")
    kl_coef: float = Field(0.0, ge=0.0, description="β of the k3 KL to the reference policy; 0 disables it")
    tis_cap: float | None = Field(
        2.0, gt=0.0, description="cap C of the truncated importance weight; None ignores rollout log-probs"
    )
    tis_level: Literal["token", "sequence"] = "token"
    """``sequence``: one weight per sequence, the product of its tokens' ratios (unbiased for the whole
    sequence, higher variance); ``token``: each token its own ratio."""
    tis_mode: Literal["truncate", "mask"] = "truncate"
    """``truncate`` caps a weight at ``tis_cap``; ``mask`` drops what exceeds it (weight 0), as verl's rejection."""
    aggregation: Aggregation = "seq-mean-token-mean"


def _check_shapes(reference: torch.Tensor, **tensors: torch.Tensor | None) -> None:
    if reference.dim() != 2:
        raise ValueError(f"log-probs must be (batch, tokens), got shape {tuple(reference.shape)}")
    for name, tensor in tensors.items():
        if tensor is not None and tensor.shape != reference.shape:
            raise ValueError(f"{name} has shape {tuple(tensor.shape)}, expected {tuple(reference.shape)}")


def _masked(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zeros at masked positions, through ``where`` so that their gradient is exactly 0, never NaN."""
    return torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device))


def aggregate(
    values: torch.Tensor,
    loss_mask: torch.Tensor,
    mode: Aggregation,
    denominator: float | None = None,
    unit_tokens: torch.Tensor | None = None,
) -> torch.Tensor:
    """Reduce per-token values to a scalar; rows without unmasked tokens are left out.

    ``unit_tokens`` (one per row) is the trained-token count of the episode the row belongs to (its
    own count by default): the ``seq-`` modes average over episodes. ``denominator`` replaces the
    batch's own normaliser: with gradient accumulation, pass the whole step's (``normaliser`` over
    every row of the step) so that micro-batches add up to the loss of the full batch.
    """
    mask = loss_mask.bool()
    values = _masked(values, mask)
    counts = mask.sum(dim=-1).to(values.dtype)
    units = counts if unit_tokens is None else unit_tokens.to(values.dtype)
    present = counts > 0
    if mode in ("token-mean", "seq-mean-token-sum"):
        total = values.sum()
    elif mode == "seq-mean-token-mean":
        total = (values.sum(dim=-1) / units.clamp(min=1))[present].sum()
    elif mode == "seq-sqrt-norm":
        total = (values.sum(dim=-1) / units.sqrt().clamp(min=1))[present].sum()
    else:
        raise ValueError(f"unknown aggregation {mode!r}")
    if denominator is not None:
        return total / denominator
    return total / normaliser(counts, mode, unit_tokens).clamp(min=1)


def normaliser(counts: torch.Tensor, mode: Aggregation, unit_tokens: torch.Tensor | None = None) -> torch.Tensor:
    """``aggregate``'s denominator for rows with these numbers of trained tokens (and their episodes').

    Each row adds its share of its episode (``count / unit``), so an episode's rows add up to one episode.
    Gradient accumulation sums it over every micro-batch (and rank) of a step first, so the trainer
    calls it on the whole step's counts and passes the result to ``aggregate`` as ``denominator``.
    """
    units = counts if unit_tokens is None else unit_tokens.to(counts.dtype)
    share = torch.where(counts > 0, counts / units.clamp(min=1), torch.zeros_like(counts))
    if mode == "token-mean":
        return counts.sum()
    if mode == "seq-sqrt-norm":
        return (share * units.sqrt()).sum()
    if mode in ("seq-mean-token-mean", "seq-mean-token-sum"):
        return share.sum()
    raise ValueError(f"unknown aggregation {mode!r}")


def sapo_objective(
    ratio: torch.Tensor, advantages: torch.Tensor, tau_pos: float = 1.0, tau_neg: float = 1.05
) -> torch.Tensor:
    """Per-token ``σ(τ·(r−1))·4/τ · A``, τ chosen by the sign of A (to be maximised)."""
    tau = torch.where(advantages > 0, torch.full_like(ratio, tau_pos), torch.full_like(ratio, tau_neg))
    return torch.sigmoid(tau * (ratio - 1.0)) * 4.0 / tau * advantages


def grpo_objective(
    ratio: torch.Tensor,
    advantages: torch.Tensor,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    dual_clip: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO/GRPO's pessimistic clipped surrogate (to be maximised) and where clipping bit.

    With ``dual_clip = c`` the objective of a negative advantage is bounded below by ``c·A``, so a
    huge ratio on a bad token cannot produce an unbounded loss (Ye et al., 2020).
    """
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip_low, 1.0 + clip_high) * advantages
    objective = torch.minimum(unclipped, clipped)
    was_clipped = clipped < unclipped
    if dual_clip is not None:
        floor = dual_clip * advantages
        dual = (advantages < 0) & (objective < floor)
        objective = torch.where(dual, floor, objective)
        was_clipped = was_clipped | dual
    return objective, was_clipped


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(π_θ ‖ π_ref) per token: ``exp(d) − d − 1`` with ``d = ref − logp``.

    Unbiased and always ≥ 0, unlike ``logp − ref``, so its token mean is a usable penalty.
    """
    delta = (ref_logprobs - logprobs).clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)
    return torch.exp(delta) - delta - 1.0


def tis_weights(
    old_logprobs: torch.Tensor,
    rollout_logprobs: torch.Tensor,
    cap: float,
    *,
    loss_mask: torch.Tensor | None = None,
    level: Literal["token", "sequence"] = "token",
    mode: Literal["truncate", "mask"] = "truncate",
) -> torch.Tensor:
    """Importance weights ``π_old / π_rollout``, truncated at ``C`` (or masked to 0 above it), without gradient.

    The engine that sampled (vLLM, bf16) and the trainer compute slightly different probabilities for
    the same tokens; reweighting by their ratio keeps the gradient unbiased, and the cap keeps its
    variance bounded. At ``sequence`` level every token of a row gets the product of the row's ratios
    (its masked tokens' log-ratios summed).
    """
    log_ratio = old_logprobs - rollout_logprobs
    if level == "sequence":
        mask = torch.ones_like(log_ratio, dtype=torch.bool) if loss_mask is None else loss_mask.bool()
        log_ratio = _masked(log_ratio, mask).sum(dim=-1, keepdim=True).expand_as(log_ratio)
    ratio = torch.exp(log_ratio.clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO))
    if mode == "mask":
        return torch.where(ratio > cap, torch.zeros_like(ratio), ratio).detach()
    return ratio.clamp(max=cap).detach()


def _token_advantages(advantages: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if advantages.dim() == 1:
        if advantages.shape[0] != like.shape[0]:
            raise ValueError(f"{advantages.shape[0]} advantages for a batch of {like.shape[0]} sequences")
        return advantages.to(like.dtype)[:, None].expand_as(like)
    if advantages.shape != like.shape:
        raise ValueError(f"advantages have shape {tuple(advantages.shape)}, expected {tuple(like.shape)}")
    return advantages.to(like.dtype)


def _token_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    return float(_masked(values.detach().float(), mask).sum() / mask.sum().clamp(min=1))


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    loss_mask: torch.Tensor,
    config: PolicyLossConfig | None = None,
    *,
    ref_logprobs: torch.Tensor | None = None,
    rollout_logprobs: torch.Tensor | None = None,
    denominator: float | None = None,
    unit_tokens: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss to minimise (−objective + β·KL) and its metrics.

    ``advantages`` is per sequence ``(batch,)`` (broadcast to its tokens) or per token. The
    ``rollout_logprobs`` of another sampling engine turn on TIS when ``config.tis_cap`` is set;
    ``ref_logprobs`` are needed, and only used, when ``config.kl_coef > 0``; ``unit_tokens`` as in ``aggregate``.
    """
    config = config or PolicyLossConfig()
    _check_shapes(
        logprobs,
        old_logprobs=old_logprobs,
        loss_mask=loss_mask,
        ref_logprobs=ref_logprobs,
        rollout_logprobs=rollout_logprobs,
    )
    if config.kl_coef > 0 and ref_logprobs is None:
        raise ValueError("kl_coef > 0 needs ref_logprobs")
    mask = loss_mask.bool()
    logp = _masked(logprobs, mask)
    old = _masked(old_logprobs.detach().to(logprobs.dtype), mask)
    adv = _masked(_token_advantages(advantages.detach(), logprobs), mask)

    ratio = torch.exp((logp - old).clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO))
    metrics: dict[str, float] = {}
    if config.algorithm == "sapo":
        objective = sapo_objective(ratio, adv, config.tau_pos, config.tau_neg)
        tau = torch.where(adv > 0, config.tau_pos, config.tau_neg)
        gate = torch.sigmoid(tau * (ratio - 1.0))
        # d f / d r = 4·σ(x)·(1−σ(x)): 1 on-policy, smaller as the ratio drifts; its mean shows how
        # much of the gradient the soft gate let through.
        metrics["sapo_gate"] = _token_mean(4.0 * gate * (1.0 - gate), mask)
    else:
        objective, was_clipped = grpo_objective(ratio, adv, config.clip_low, config.clip_high, config.dual_clip)
        metrics["clip_frac"] = _token_mean(was_clipped.float(), mask)

    if rollout_logprobs is not None and config.tis_cap is not None:
        rollout = _masked(rollout_logprobs.detach().to(logprobs.dtype), mask)
        weights = tis_weights(
            old, rollout, config.tis_cap, loss_mask=mask, level=config.tis_level, mode=config.tis_mode
        )
        objective = objective * weights
        metrics["tis_weight"] = _token_mean(weights, mask)
        limited = weights == 0 if config.tis_mode == "mask" else weights >= config.tis_cap
        metrics["tis_masked_frac" if config.tis_mode == "mask" else "tis_capped_frac"] = _token_mean(
            limited.float(), mask
        )

    per_token = -objective
    if ref_logprobs is not None:
        kl = kl_k3(logp, _masked(ref_logprobs.detach().to(logprobs.dtype), mask))
        metrics["kl"] = _token_mean(kl, mask)
        if config.kl_coef > 0:
            per_token = per_token + config.kl_coef * kl

    loss = aggregate(per_token, mask, config.aggregation, denominator, unit_tokens)
    metrics["policy_loss"] = float(aggregate(-objective.detach(), mask, config.aggregation, denominator, unit_tokens))
    metrics["ratio_mean"] = _token_mean(ratio, mask)
    metrics["ratio_max"] = float(ratio.detach()[mask].max()) if mask.any() else 1.0
    metrics["tokens"] = float(mask.sum())
    return loss, metrics


def sft_loss(
    logprobs: torch.Tensor,
    loss_mask: torch.Tensor,
    aggregation: Aggregation = "token-mean",
    denominator: float | None = None,
    unit_tokens: torch.Tensor | None = None,
) -> torch.Tensor:
    """Negative log-likelihood of the demonstrated tokens; ``seq-sqrt-norm`` is the report's reweighting."""
    _check_shapes(logprobs, loss_mask=loss_mask)
    mask = loss_mask.bool()
    return aggregate(-_masked(logprobs, mask), mask, aggregation, denominator, unit_tokens)
