"""The observation and action spaces every screen environment shares: a screenshot, and text of any script.

Kept apart from the environments so that one that never touches a browser (desktop, Android
over adb) does not import Playwright for them, and so that all of them, vector copies included,
describe their observations the same way.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, SupportsIndex

import numpy as np
from gymnasium import spaces
from gymnasium.spaces.space import Space
from gymnasium.vector.utils import read_from_shared_memory

PRINTABLE_UNICODE: tuple[tuple[int, int], ...] = (
    (0x09, 0x0A),
    (0x20, 0x7E),
    (0xA0, 0xD7FF),
    (0xE000, 0xFFFD),
    (0x10000, 0x10FFFF),
)
"""Tab, newline and every printable code point: what an instruction or a model's reply may hold."""

INSTRUCTION_MAX_LENGTH = 2048
ACTION_MAX_LENGTH = 16384


class CodepointSet(AbstractSet[str]):
    """Characters as inclusive code-point ranges, so that membership and indexing are arithmetic."""

    def __init__(self, ranges: Sequence[tuple[int, int]]) -> None:
        self.ranges = tuple(sorted((int(lo), int(hi)) for lo, hi in ranges))
        self._starts = [lo for lo, _ in self.ranges]
        self._offsets = [0]
        for lo, hi in self.ranges:
            self._offsets.append(self._offsets[-1] + hi - lo + 1)

    def index(self, char: str) -> int | None:
        """Position of char in code-point order, or None when it is not in the set."""
        point = ord(char)
        i = bisect.bisect_right(self._starts, point) - 1
        if i < 0 or point > self.ranges[i][1]:
            return None
        return self._offsets[i] + point - self.ranges[i][0]

    def char(self, index: int) -> str:
        if not 0 <= index < len(self):
            raise IndexError(index)
        i = bisect.bisect_right(self._offsets, index) - 1
        return chr(self.ranges[i][0] + index - self._offsets[i])

    def __contains__(self, char: object) -> bool:
        return isinstance(char, str) and len(char) == 1 and self.index(char) is not None

    def __len__(self) -> int:
        return self._offsets[-1]

    def __iter__(self) -> Iterator[str]:
        for lo, hi in self.ranges:
            yield from map(chr, range(lo, hi + 1))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CodepointSet):
            return self.ranges == other.ranges
        return AbstractSet.__eq__(self, other)

    def __hash__(self) -> int:
        return hash(self.ranges)


class _CodepointList(Sequence[str]):
    """``Text.character_list`` without building a tuple of a million strings."""

    def __init__(self, codepoints: CodepointSet) -> None:
        self._codepoints = codepoints

    def __getitem__(self, index: SupportsIndex) -> str:  # type: ignore[override]
        return self._codepoints.char(int(index))

    def __len__(self) -> int:
        return len(self._codepoints)


class UnicodeText(spaces.Text):
    """A ``Text`` space over whole Unicode ranges (every printable character by default).

    gymnasium's Text builds a per-character table when created: about a second and megabytes of
    pickle for the Basic Multilingual Plane alone, paid again by every vector-env copy. This one
    keeps code-point ranges, so real instructions (any script, emoji) fit and sharing is cheap,
    while flattening and shared memory still work through the Text interface.
    """

    def __init__(
        self,
        max_length: int,
        *,
        min_length: int = 0,
        ranges: Sequence[tuple[int, int]] = PRINTABLE_UNICODE,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if not 0 <= min_length <= max_length:
            raise ValueError(f"need 0 <= min_length <= max_length, got {min_length}, {max_length}")
        self.min_length = int(min_length)
        self.max_length = int(max_length)
        self._codepoints = CodepointSet(ranges)
        Space.__init__(self, dtype=str, seed=seed)

    @property
    def character_set(self) -> CodepointSet:  # type: ignore[override]
        return self._codepoints

    @property
    def character_list(self) -> Sequence[str]:  # type: ignore[override]
        return _CodepointList(self._codepoints)

    @property
    def characters(self) -> str:
        return "".join(self._codepoints)

    def character_index(self, char: str) -> np.int32:
        index = self._codepoints.index(char)
        if index is None:
            raise KeyError(char)
        return np.int32(index)

    def contains(self, x: Any) -> bool:
        return (
            isinstance(x, str)
            and self.min_length <= len(x) <= self.max_length
            and all(self._codepoints.index(c) is not None for c in x)
        )

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        length = int(self.np_random.integers(self.min_length, self.max_length + 1))
        indices = self.np_random.integers(0, len(self._codepoints), size=length)
        return "".join(self._codepoints.char(int(i)) for i in indices)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, UnicodeText):
            return (self.min_length, self.max_length, self._codepoints) == (
                other.min_length,
                other.max_length,
                other._codepoints,
            )
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length}, {len(self._codepoints)} characters)"


class SharedTexts(Sequence[str]):
    """The strings of a batch of UnicodeText slots in shared memory, decoded each time they are read.

    gymnasium's AsyncVectorEnv reads its shared observation buffer once, at creation, relying on
    numpy views to see later writes; Text decodes to plain strings, which would stay frozen at
    that first read. This view decodes on access, and a deepcopy (what AsyncVectorEnv hands out
    by default) is a plain tuple of the current strings.
    """

    def __init__(self, space: UnicodeText, rows: np.ndarray) -> None:
        self._space = space
        self._rows = rows

    def _decode(self, row: np.ndarray) -> str:
        codepoints = self._space.character_set
        return "".join(codepoints.char(int(i)) for i in row[row < len(codepoints)])

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return tuple(self._decode(row) for row in self._rows[index])
        return self._decode(self._rows[index])

    def __len__(self) -> int:
        return len(self._rows)

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return repr(tuple(self))


@read_from_shared_memory.register(UnicodeText)
def _read_unicode_texts(space: UnicodeText, shared_memory: Any, n: int = 1) -> SharedTexts:
    rows = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape((n, space.max_length))
    return SharedTexts(space, rows)


def screen_spaces(height: int, width: int) -> tuple[spaces.Dict, UnicodeText]:
    """(observation_space, action_space) of a screen: a screenshot and the instruction in, a model's reply out.

    One definition, so that every screen environment, and every vector copy of one, agrees on them.
    """
    observation_space = spaces.Dict(
        {
            "screenshot": spaces.Box(0, 255, (height, width, 3), np.uint8),
            "instruction": UnicodeText(INSTRUCTION_MAX_LENGTH),
        }
    )
    return observation_space, UnicodeText(ACTION_MAX_LENGTH)
