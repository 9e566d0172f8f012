"""Group-relative advantages on toy groups, computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from pixelpilot.rl.advantages import AdvantageConfig, group_advantages, token_advantages

REWARDS = [1.0, 0.0, 2.0, 0.0, 1.0, 2.0, 5.0]
GROUPS = ["a", "a", "b", "a", "a", "b", "c"]


def test_group_z_score():
    advantages = group_advantages(REWARDS, GROUPS)
    # group a: [1, 0, 0, 1], mean 0.5, Bessel std sqrt(1/3); group b: all equal; group c: alone
    expected = 0.5 / (math.sqrt(1 / 3) + 1e-6)
    assert advantages.tolist() == pytest.approx([expected, -expected, 0.0, -expected, expected, 0.0, 0.0])
    assert advantages.dtype == torch.float32


def test_dr_grpo_skips_the_std_and_population_std_option():
    centred = group_advantages(REWARDS, GROUPS, AdvantageConfig(normalize_std=False))
    assert centred.tolist() == pytest.approx([0.5, -0.5, 0.0, -0.5, 0.5, 0.0, 0.0])
    population = group_advantages([1.0, 0.0], ["q", "q"], AdvantageConfig(unbiased_std=False))
    assert population.tolist() == pytest.approx([0.5 / (0.5 + 1e-6), -0.5 / (0.5 + 1e-6)])


def test_group_ids_of_any_hashable_and_tensor_rewards():
    advantages = group_advantages(torch.tensor([3.0, 1.0, 10.0, 10.0]), [(0, "x"), (0, "x"), 7, 7])
    assert advantages.tolist() == pytest.approx([1 / (math.sqrt(2) + 1e-6), -1 / (math.sqrt(2) + 1e-6), 0.0, 0.0])


def test_token_advantages_cover_only_generated_tokens():
    mask = torch.tensor([[0, 1, 1, 0], [1, 1, 0, 0]])
    spread = token_advantages(torch.tensor([0.5, -2.0]), mask)
    assert spread.tolist() == [[0.0, 0.5, 0.5, 0.0], [-2.0, -2.0, 0.0, 0.0]]


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="group ids"):
        group_advantages([1.0, 2.0], ["a"])
    with pytest.raises(ValueError, match="finite"):
        group_advantages([1.0, float("nan")], ["a", "a"])
    with pytest.raises(ValueError):
        token_advantages(torch.zeros(3), torch.ones(2, 4))
