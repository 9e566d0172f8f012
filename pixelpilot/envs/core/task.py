"""What a task is, on any screen: BrowserGym's setup / validate / teardown / cheat, with AndroidWorld's seeds.

A task knows its target (a web page, a desktop, a phone) and its success check, and nothing
about screenshots or actions; the environment runs it. ``setup`` draws the episode's parameters
from the seed, so the same seed gives the same instance; ``validate`` is code, never a model, so
rewards are exact, and it is handed the model's answer when the step gave one, so a task that
asks a question checks the answer the same way on every kind of screen.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, Generic, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict

Target = TypeVar("Target")
"""What a task reads and sets up: a Playwright Page, a Desktop, an AndroidDevice."""


class TaskStatus(NamedTuple):
    """The outcome of one ``validate``: the reward now, whether the task is over, and why."""

    reward: float
    done: bool
    message: str = ""


class Task(BaseModel, ABC, Generic[Target]):
    """A task on one kind of screen: subclasses implement ``setup`` and ``validate`` (and ``oracle``)."""

    model_config = ConfigDict(frozen=True)

    name: str

    @abstractmethod
    def setup(self, target: Target, seed: int) -> str:
        """Bring target to the episode's start, drawn from seed; return the instruction."""

    @abstractmethod
    def validate(self, target: Target, answer: str | None = None) -> TaskStatus:
        """Read target after a step (answer: the text of the step's ``answer`` action, if it was one)."""

    def teardown(self, target: Target) -> None:
        """Release what setup acquired beyond what the environment discards itself."""

    def oracle(self, env: Any) -> Iterator[str]:
        """Tool-call texts that solve the episode env was just reset to (BrowserGym's ``cheat``)."""
        raise NotImplementedError(f"task {self.name!r} has no oracle")

    def episode_info(self, target: Target) -> dict[str, Any]:
        """Task facts to add to ``info`` after each validate (e.g. a suite's raw reward)."""
        return {}
