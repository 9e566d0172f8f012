"""SAPO, GRPO clipping, k3 KL, TIS and the aggregations against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from pixelpilot.rl.losses import (
    PolicyLossConfig,
    aggregate,
    grpo_objective,
    kl_k3,
    normaliser,
    policy_loss,
    sapo_objective,
    sft_loss,
    tis_weights,
)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def close(actual: torch.Tensor, expected: list) -> None:
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=actual.dtype))


def leaf(values: list[list[float]]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def test_sapo_on_policy_is_the_plain_policy_gradient():
    old = torch.tensor([[-1.0, -2.0, -0.5], [-0.3, -1.2, -0.7]], dtype=torch.float64)
    advantages = torch.tensor([2.0, -1.0], dtype=torch.float64)
    mask = torch.ones(2, 3)

    logp = leaf(old.tolist())
    loss, metrics = policy_loss(logp, old, advantages, mask, PolicyLossConfig(algorithm="sapo"))
    loss.backward()

    # f(1) = σ(0)·4/τ = 2/τ: sequence 1 (A = 2, τ_pos = 1) gives 4, sequence 2 (A = −1, τ_neg = 1.05) −2/1.05.
    assert loss.item() == pytest.approx(-(4.0 + (-2.0 / 1.05)) / 2)
    # The gradient of REINFORCE's −mean_s mean_t logp·A: −A_s / (2 sequences · 3 tokens).
    reference = leaf(old.tolist())
    plain = -((reference * advantages[:, None]).mean(dim=1)).mean()
    plain.backward()
    assert torch.allclose(logp.grad, reference.grad)
    assert torch.allclose(logp.grad[0], torch.full((3,), -2.0 / 6, dtype=torch.float64))
    assert metrics["sapo_gate"] == pytest.approx(1.0)
    assert metrics["ratio_mean"] == pytest.approx(1.0)


def test_sapo_uses_tau_neg_for_negative_advantages():
    ratio = torch.tensor([[1.5, 0.5]], dtype=torch.float64)
    negative = sapo_objective(ratio, torch.tensor([[-1.0, -1.0]], dtype=torch.float64), 1.0, 1.05)
    positive = sapo_objective(ratio, torch.tensor([[1.0, 1.0]], dtype=torch.float64), 1.0, 1.05)
    tau = 1.05
    assert negative[0, 0].item() == pytest.approx(-sigmoid(tau * 0.5) * 4 / tau)
    assert negative[0, 1].item() == pytest.approx(-sigmoid(tau * -0.5) * 4 / tau)
    assert positive[0, 0].item() == pytest.approx(sigmoid(0.5) * 4)
    # the same ratio with τ_pos would give another value: τ_neg really is used
    assert negative[0, 0].item() != pytest.approx(-sigmoid(0.5) * 4)


def test_sapo_loss_off_policy_matches_hand_value_and_gradient():
    old = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    logp = leaf([[math.log(1.5), math.log(0.5)]])
    loss, _ = policy_loss(logp, old, torch.tensor([-1.0]), torch.ones(1, 2))
    loss.backward()
    tau = 1.05
    values = [-sigmoid(tau * (r - 1)) * 4 / tau for r in (1.5, 0.5)]
    assert loss.item() == pytest.approx(-sum(values) / 2)
    # d/dlogp of −f(r)·A/2 = −A/2 · 4σ(x)(1−σ(x)) · r, x = τ(r − 1)
    grads = [0.5 * 4 * sigmoid(tau * (r - 1)) * (1 - sigmoid(tau * (r - 1))) * r for r in (1.5, 0.5)]
    assert logp.grad[0].tolist() == pytest.approx(grads)


@pytest.mark.parametrize("algorithm", ["sapo", "grpo"])
def test_gradient_is_exactly_zero_on_masked_tokens(algorithm):
    logp = leaf([[-0.5, float("-inf"), -1.0, float("nan")], [-2.0, -0.1, float("-inf"), -3.0]])
    old = torch.tensor([[-0.4, float("-inf"), -1.3, 0.0], [-1.0, -0.2, float("nan"), -3.5]], dtype=torch.float64)
    ref = torch.tensor([[-0.6, 0.0, -1.5, float("inf")], [-2.5, -0.3, 0.0, -2.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 0, 1, 0], [1, 1, 0, 1]])
    config = PolicyLossConfig(algorithm=algorithm, kl_coef=0.1)
    loss, metrics = policy_loss(logp, old, torch.tensor([1.0, -0.5]), mask, config, ref_logprobs=ref)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(math.isfinite(value) for value in metrics.values())
    assert torch.equal(logp.grad[mask == 0], torch.zeros(3, dtype=torch.float64))
    assert (logp.grad[mask == 1] != 0).all()

    # whatever sits at masked positions, the loss is the same
    changed = logp.detach().clone()
    changed[mask == 0] = 7.0
    again, _ = policy_loss(changed, old, torch.tensor([1.0, -0.5]), mask, config, ref_logprobs=ref)
    assert again.item() == pytest.approx(loss.item())


def test_grpo_clipping_matches_hand_values():
    ratio = torch.tensor([[0.5, 1.0, 1.5], [0.5, 1.0, 1.5]], dtype=torch.float64)
    advantages = torch.tensor([[1.0] * 3, [-1.0] * 3], dtype=torch.float64)
    objective, clipped = grpo_objective(ratio, advantages, 0.2, 0.2)
    close(objective, [[0.5, 1.0, 1.2], [-0.8, -1.0, -1.5]])
    assert clipped.tolist() == [[False, False, True], [True, False, False]]

    dual, dual_clipped = grpo_objective(torch.tensor([[5.0]]), torch.tensor([[-1.0]]), 0.2, 0.2, dual_clip=3.0)
    assert dual.item() == pytest.approx(-3.0)
    assert dual_clipped.item()


def test_grpo_loss_gradient_vanishes_where_clipped():
    old = torch.zeros(2, 3, dtype=torch.float64)
    logp = leaf([[math.log(0.5), 0.0, math.log(1.5)]] * 2)
    config = PolicyLossConfig(algorithm="grpo", clip_low=0.2, clip_high=0.2, aggregation="token-mean")
    loss, metrics = policy_loss(logp, old, torch.tensor([1.0, -1.0]), torch.ones(2, 3), config)
    loss.backward()
    assert loss.item() == pytest.approx(-(0.5 + 1.0 + 1.2 - 0.8 - 1.0 - 1.5) / 6)
    # unclipped tokens: −A·r/6; clipped ones: 0
    close(logp.grad, [[-0.5 / 6, -1 / 6, 0.0], [0.0, 1 / 6, 1.5 / 6]])
    assert metrics["clip_frac"] == pytest.approx(2 / 6)


def test_kl_k3_hand_value_and_penalty():
    logp = torch.tensor([[math.log(0.5), math.log(0.3)]], dtype=torch.float64)
    ref = torch.tensor([[math.log(0.25), math.log(0.3)]], dtype=torch.float64)
    kl = kl_k3(logp, ref)
    assert kl[0, 0].item() == pytest.approx(0.5 - math.log(0.5) - 1)
    assert kl[0, 1].item() == 0.0

    old = logp.clone()
    advantages = torch.tensor([1.0])
    mask = torch.ones(1, 2)
    base, _ = policy_loss(logp, old, advantages, mask, PolicyLossConfig(aggregation="token-mean"))
    with_kl, metrics = policy_loss(
        logp, old, advantages, mask, PolicyLossConfig(aggregation="token-mean", kl_coef=0.5), ref_logprobs=ref
    )
    expected_kl = (0.5 - math.log(0.5) - 1) / 2
    assert metrics["kl"] == pytest.approx(expected_kl)
    assert with_kl.item() - base.item() == pytest.approx(0.5 * expected_kl)
    with pytest.raises(ValueError, match="ref_logprobs"):
        policy_loss(logp, old, advantages, mask, PolicyLossConfig(kl_coef=0.1))


def test_tis_weights_are_capped_and_scale_the_gradient():
    old = torch.tensor([[math.log(0.6), math.log(0.2)]], dtype=torch.float64)
    rollout = torch.tensor([[math.log(0.2), math.log(0.4)]], dtype=torch.float64)
    weights = tis_weights(old, rollout, cap=2.0)
    close(weights, [[2.0, 0.5]])  # 3.0 capped at 2, 0.5 kept

    logp = leaf(old.tolist())
    config = PolicyLossConfig(aggregation="token-mean", tis_cap=2.0)
    loss, metrics = policy_loss(logp, old, torch.tensor([1.0]), torch.ones(1, 2), config, rollout_logprobs=rollout)
    loss.backward()
    # on-policy SAPO: −w·A per token, mean over 2 tokens
    close(logp.grad, [[-1.0, -0.25]])
    assert loss.item() == pytest.approx(-(2.0 * 2.0 + 0.5 * 2.0) / 2)
    assert metrics["tis_weight"] == pytest.approx(1.25)
    assert metrics["tis_capped_frac"] == pytest.approx(0.5)

    untouched, _ = policy_loss(
        logp,
        old,
        torch.tensor([1.0]),
        torch.ones(1, 2),
        config.model_copy(update={"tis_cap": None}),
        rollout_logprobs=rollout,
    )
    assert untouched.item() == pytest.approx(-2.0)


def test_sequence_level_and_masked_importance_weights():
    # Row 0: token ratios 3 and 0.5 (product 1.5); row 1: ratios 4 and 1 (product 4); last token of row 1 masked.
    old = torch.log(torch.tensor([[0.6, 0.2], [0.8, 0.5]], dtype=torch.float64))
    rollout = torch.log(torch.tensor([[0.2, 0.4], [0.2, 0.25]], dtype=torch.float64))
    mask = torch.tensor([[1, 1], [1, 0]])
    close(tis_weights(old, rollout, 2.0, mode="mask"), [[0.0, 0.5], [0.0, 2.0]])  # above the cap: dropped
    sequence = tis_weights(old, rollout, 2.0, loss_mask=mask, level="sequence")
    close(sequence, [[1.5, 1.5], [2.0, 2.0]])  # row 1: ratio 4 over its one trained token, capped
    close(tis_weights(old, rollout, 2.0, loss_mask=mask, level="sequence", mode="mask"), [[1.5, 1.5], [0.0, 0.0]])
    config = PolicyLossConfig(aggregation="token-mean", tis_cap=2.0, tis_level="sequence", tis_mode="mask")
    _, metrics = policy_loss(old.clone(), old, torch.tensor([1.0, 1.0]), mask, config, rollout_logprobs=rollout)
    assert metrics["tis_masked_frac"] == pytest.approx(1 / 3)  # row 1's one trained token of three
    assert metrics["tis_weight"] == pytest.approx((1.5 + 1.5 + 0.0) / 3)


def test_aggregations():
    values = torch.tensor([[1.0, 2.0, 3.0, 9.0], [4.0, 9.0, 9.0, 9.0], [9.0, 9.0, 9.0, 9.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    assert aggregate(values, mask, "token-mean").item() == pytest.approx(10 / 4)
    assert aggregate(values, mask, "seq-mean-token-mean").item() == pytest.approx((2 + 4) / 2)
    assert aggregate(values, mask, "seq-mean-token-sum").item() == pytest.approx((6 + 4) / 2)
    root3 = math.sqrt(3)
    assert aggregate(values, mask, "seq-sqrt-norm").item() == pytest.approx((6 / root3 + 4) / (root3 + 1))
    assert aggregate(values, mask, "token-mean", denominator=8).item() == pytest.approx(10 / 8)
    assert aggregate(values, torch.zeros_like(mask), "seq-mean-token-mean").item() == 0.0


@pytest.mark.parametrize("mode", ["seq-mean-token-mean", "seq-mean-token-sum", "seq-sqrt-norm", "token-mean"])
def test_an_episode_weighs_the_same_as_one_growing_row_or_one_row_per_turn(mode: str) -> None:
    """Episode A has turns of 3 and 1 tokens, episode B one turn of 2: split per turn, A still counts once."""
    per_turn = torch.tensor([[1.0, 2.0, 3.0], [5.0, 0.0, 0.0], [7.0, 8.0, 0.0]])
    per_turn_mask = torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0]])
    units = torch.tensor([4.0, 4.0, 2.0])  # each row's episode token count
    growing = torch.tensor([[1.0, 2.0, 3.0, 5.0], [7.0, 8.0, 0.0, 0.0]])
    growing_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    expected = aggregate(growing, growing_mask, mode).item()
    assert aggregate(per_turn, per_turn_mask, mode, unit_tokens=units).item() == pytest.approx(expected)
    whole = normaliser(growing_mask.sum(dim=-1).double(), mode).item()
    assert normaliser(per_turn_mask.sum(dim=-1).double(), mode, units.double()).item() == pytest.approx(whole)
    if mode == "seq-mean-token-mean":  # (11/4 + 15/2) / 2 episodes, where per-turn rows alone would give 3 rows
        assert expected == pytest.approx((11 / 4 + 15 / 2) / 2)
        assert aggregate(per_turn, per_turn_mask, mode).item() != pytest.approx(expected)


def test_sft_loss_square_root_normalisation():
    # a constant per-token loss c gives c whatever the lengths
    logp = leaf([[-2.0, -2.0, -2.0, -2.0], [-2.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]])
    loss = sft_loss(logp, mask, "seq-sqrt-norm")
    assert loss.item() == pytest.approx(2.0)
    loss.backward()
    # each token of a sequence of n tokens weighs 1/(sqrt(n)·Σ sqrt) = 1/(2·3) and 1/(1·3)
    close(logp.grad, [[-1 / 6] * 4, [-1 / 3, 0.0, 0.0, 0.0]])


def test_bad_inputs_and_config_are_refused():
    with pytest.raises(ValidationError):
        PolicyLossConfig(tau_pos=0.0)
    with pytest.raises(ValidationError):
        PolicyLossConfig(dual_clip=0.5)
    with pytest.raises(ValueError, match="shape"):
        policy_loss(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2), torch.ones(2, 3))
    with pytest.raises(ValueError, match="advantages"):
        policy_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3), torch.ones(2, 3))
