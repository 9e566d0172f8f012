"""Query filtering thresholds and the seeded, resumable mixed-task sampler."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from pydantic import ValidationError

from pixelpilot.rl.filtering import (
    FilterConfig,
    MixedTaskConfig,
    MixedTaskSampler,
    allot,
    filter_queries,
    keep_query,
    pass_rate,
)


def outcomes(successes: int, total: int) -> list[bool]:
    return [True] * successes + [False] * (total - successes)


def test_pass_rate_thresholds():
    assert keep_query(outcomes(9, 10))  # exactly 0.9 is kept
    assert not keep_query(outcomes(10, 10))
    assert not keep_query(outcomes(0, 10))
    assert not keep_query(outcomes(15, 16))  # 0.9375: too easy
    assert keep_query(outcomes(14, 16))
    assert keep_query(outcomes(1, 16))
    assert keep_query([1, 0, 0])  # 0/1 integers are binary outcomes too
    assert not keep_query(outcomes(1, 4), FilterConfig(min_pass_rate=0.25))


def test_shaped_rewards_are_refused():
    with pytest.raises(ValueError, match="binary"):
        pass_rate([1.0, 0.5, 0.0])
    with pytest.raises(ValueError, match="binary"):
        keep_query([True, 2])
    with pytest.raises(ValueError):
        pass_rate([])


def test_filter_queries_keeps_order_and_reports_rates():
    groups = {"q1": outcomes(16, 16), "q2": outcomes(8, 16), "q3": outcomes(0, 16), "q4": outcomes(9, 10)}
    result = filter_queries(groups)
    assert result.kept == ["q2", "q4"]
    assert result.dropped == ["q1", "q3"]
    assert result.pass_rates == {"q1": 1.0, "q2": 0.5, "q3": 0.0, "q4": 0.9}


FAMILIES = {
    "web": [f"web-{i}" for i in range(7)],
    "desktop": [f"desk-{i}" for i in range(3)],
    "grounding": [f"ground-{i}" for i in range(5)],
}


def sampler(seed: int = 0, batch_size: int = 8) -> MixedTaskSampler[str]:
    config = MixedTaskConfig(ratios={"web": 2, "desktop": 1, "grounding": 1}, batch_size=batch_size, seed=seed)
    return MixedTaskSampler(FAMILIES, config)


def test_batches_follow_the_ratios():
    draws = sampler()
    for _ in range(5):
        batch = draws.next_batch()
        assert Counter(d.family for d in batch) == {"web": 4, "desktop": 2, "grounding": 2}
        assert all(FAMILIES[d.family][d.index] == d.item for d in batch)


def test_fractional_shares_are_exact_over_many_batches():
    counts, credit = allot({"a": 0.7, "b": 0.3}, 4, {})
    assert counts == {"a": 3, "b": 1}
    total = Counter(counts)
    for _ in range(9):
        counts, credit = allot({"a": 0.7, "b": 0.3}, 4, credit)
        assert sum(counts.values()) == 4
        total.update(counts)
    assert total == {"a": 28, "b": 12}
    assert sum(credit.values()) == pytest.approx(0.0, abs=1e-9)


def test_each_family_is_read_once_per_epoch():
    draws = sampler()
    desktop = [d for _ in range(6) for d in draws.next_batch() if d.family == "desktop"]
    assert len(desktop) == 12
    for epoch in range(4):
        assert sorted(d.index for d in desktop if d.epoch == epoch) == [0, 1, 2]


def test_resuming_from_a_state_dict_draws_the_same_batches():
    original = sampler(seed=3)
    for _ in range(3):
        original.next_batch()
    state = json.loads(json.dumps(original.state_dict()))
    expected = [original.next_batch() for _ in range(5)]

    resumed = sampler(seed=3)
    resumed.load_state_dict(state)
    assert [resumed.next_batch() for _ in range(5)] == expected


def test_seed_decides_the_order():
    first = [sampler(seed=1).next_batch() for _ in range(2)]
    assert first == [sampler(seed=1).next_batch() for _ in range(2)]
    assert [d.item for d in sampler(seed=1).next_batch()] != [d.item for d in sampler(seed=2).next_batch()]


def test_bad_configs_and_states_are_refused():
    with pytest.raises(ValidationError):
        MixedTaskConfig(ratios={"web": -1.0}, batch_size=4)
    with pytest.raises(ValidationError):
        MixedTaskConfig(ratios={"web": 1.0}, batch_size=0)
    with pytest.raises(ValueError, match="without queries"):
        MixedTaskSampler(FAMILIES, MixedTaskConfig(ratios={"android": 1.0}, batch_size=4))
    with pytest.raises(ValueError, match="no queries"):
        MixedTaskSampler({"web": []}, MixedTaskConfig(ratios={"web": 1.0}, batch_size=4))
    state = sampler().state_dict()
    smaller = MixedTaskSampler(
        {**FAMILIES, "web": FAMILIES["web"][:3]},
        MixedTaskConfig(ratios={"web": 2, "desktop": 1, "grounding": 1}, batch_size=8),
    )
    with pytest.raises(ValueError, match="sampler state"):
        smaller.load_state_dict(state)
