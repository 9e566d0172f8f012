"""Which queries are worth training on, and which tasks a batch draws them from.

A query that the group solves almost always (pass rate above 90%) or never gives (almost) no
group-relative signal: every advantage is ~0, and the compute is spent for nothing. The pass rate
is judged on binary success, never on a shaped reward, where a partial score would hide that a
query is never actually solved.

The mixed-task sampler draws each batch from several task families at set ratios. It hands out
batch slots by smooth weighted round-robin, carrying each family's credit from batch to batch, so
every batch has the right size and, over many batches, every family gets exactly its share. Its
whole state is a few numbers, so a resumed run draws the very batches the interrupted one would have.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

T = TypeVar("T")
_EPSILON = 1e-12


class FilterConfig(BaseModel):
    """Keep a query when ``min_pass_rate < pass rate <= max_pass_rate``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_pass_rate: float = Field(0.9, ge=0.0, le=1.0)
    min_pass_rate: float = Field(0.0, ge=0.0, le=1.0)
    refill_rounds: int = Field(0, ge=0)
    """DAPO's dynamic sampling: while fewer than ``queries_per_step`` groups are kept, draw and play another
    batch, at most this many times; kept groups beyond ``queries_per_step`` are dropped. 0: no refill."""


def pass_rate(successes: Sequence[bool]) -> float:
    """The share of successes; refuses shaped rewards (anything but booleans or 0/1)."""
    if not successes:
        raise ValueError("a group needs at least one outcome")
    for value in successes:
        if isinstance(value, bool) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
            continue
        raise ValueError(f"pass rates are judged on binary success, got {value!r}")
    return sum(bool(value) for value in successes) / len(successes)


def keep_query(successes: Sequence[bool], config: FilterConfig | None = None) -> bool:
    """Whether a query's group still has something to teach."""
    config = config or FilterConfig()
    rate = pass_rate(successes)
    return config.min_pass_rate + _EPSILON < rate <= config.max_pass_rate + _EPSILON


class FilterResult(BaseModel):
    """The queries kept, and the pass rate of every query."""

    kept: list[Hashable]
    dropped: list[Hashable]
    pass_rates: dict[Hashable, float]


def filter_queries(groups: Mapping[Hashable, Sequence[bool]], config: FilterConfig | None = None) -> FilterResult:
    """Split queries by their group's pass rate, keeping their order."""
    config = config or FilterConfig()
    rates = {query: pass_rate(outcomes) for query, outcomes in groups.items()}
    kept = [query for query, outcomes in groups.items() if keep_query(outcomes, config)]
    kept_set = set(kept)
    dropped = [query for query in groups if query not in kept_set]
    return FilterResult(kept=kept, dropped=dropped, pass_rates=rates)


class MixedTaskConfig(BaseModel):
    """Families and their shares of each batch (normalised; they need not sum to 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ratios: dict[str, float]
    batch_size: int = Field(ge=1)
    seed: int = 0

    @field_validator("ratios")
    @classmethod
    def _positive(cls, ratios: dict[str, float]) -> dict[str, float]:
        if not ratios or any(r < 0 for r in ratios.values()) or sum(ratios.values()) <= 0:
            raise ValueError("ratios must be non-negative and not all zero")
        return ratios


class TaskDraw(BaseModel):
    """One query of a batch: its family, its index in that family, and the query itself."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    family: str
    index: int
    epoch: int
    item: Any


def allot(
    shares: Mapping[str, float], total: int, credit: Mapping[str, float]
) -> tuple[dict[str, int], dict[str, float]]:
    """Give ``total`` slots to families by smooth weighted round-robin; returns counts and the new credits.

    Each slot, every family earns its share and the richest family takes the slot and pays 1
    (ties go to the family listed first). Credits sum to zero and stay bounded, so each
    family's running count keeps within a slot or so of its exact share, batch after batch.
    """
    credit = {family: credit.get(family, 0.0) for family in shares}
    counts = dict.fromkeys(shares, 0)
    for _ in range(total):
        for family, share in shares.items():
            credit[family] += share
        chosen = max(shares, key=lambda family: credit[family])
        credit[chosen] -= 1.0
        counts[chosen] += 1
    return counts, credit


class MixedTaskSampler(Generic[T]):
    """Batches drawn from several task families at set ratios; seeded, and resumable exactly.

    Each family is read in a random order, a new one every epoch, derived from the seed, the
    family's name and the epoch, so the state is only where each family's reading stands.
    """

    def __init__(self, families: Mapping[str, Sequence[T]], config: MixedTaskConfig) -> None:
        unknown = set(config.ratios) - set(families)
        if unknown:
            raise ValueError(f"ratios name families without queries: {sorted(unknown)}")
        empty = [name for name, share in config.ratios.items() if share > 0 and not families[name]]
        if empty:
            raise ValueError(f"families with a share but no queries: {empty}")
        total = sum(config.ratios.values())
        self.families = {name: families[name] for name in config.ratios}
        self.shares = {name: share / total for name, share in config.ratios.items()}
        self.config = config
        self.batches = 0
        self.credit = dict.fromkeys(self.shares, 0.0)
        self.position = {name: (0, 0) for name in self.shares}
        """Per family: (epoch, index into that epoch's order)."""

    def _order(self, family: str, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.config.seed, zlib.crc32(family.encode()), epoch])
        return rng.permutation(len(self.families[family]))

    def _take(self, family: str, count: int) -> list[TaskDraw]:
        epoch, index = self.position[family]
        drawn = []
        order = self._order(family, epoch)
        for _ in range(count):
            if index == len(order):
                epoch, index = epoch + 1, 0
                order = self._order(family, epoch)
            position = int(order[index])
            drawn.append(TaskDraw(family=family, index=position, epoch=epoch, item=self.families[family][position]))
            index += 1
        self.position[family] = (epoch, index)
        return drawn

    def next_batch(self) -> list[TaskDraw]:
        """The next batch, families interleaved in a seeded order."""
        counts, self.credit = allot(self.shares, self.config.batch_size, self.credit)
        batch = [draw for family, count in counts.items() for draw in self._take(family, count)]
        shuffle = np.random.default_rng([self.config.seed, self.batches]).permutation(len(batch))
        self.batches += 1
        return [batch[i] for i in shuffle]

    def __iter__(self) -> Iterator[list[TaskDraw]]:
        while True:
            yield self.next_batch()

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly here (JSON-serialisable)."""
        return {
            "batches": self.batches,
            "credit": dict(self.credit),
            "position": {family: list(position) for family, position in self.position.items()},
            "sizes": {family: len(items) for family, items in self.families.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a ``state_dict``; refuses one taken over other families or family sizes."""
        sizes = {family: len(items) for family, items in self.families.items()}
        if dict(state.get("sizes", {})) != sizes:
            raise ValueError(f"sampler state is for families {state.get('sizes')}, not {sizes}")
        self.batches = int(state["batches"])
        self.credit = {family: float(state["credit"][family]) for family in self.shares}
        self.position = {
            family: (int(state["position"][family][0]), int(state["position"][family][1])) for family in self.shares
        }
