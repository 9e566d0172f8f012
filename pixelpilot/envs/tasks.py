"""What a web task is: BrowserGym's setup / validate / teardown / cheat, with AndroidWorld's seeded parameters.

A task knows its page and its success check and nothing about screenshots or actions; the
environment runs it. ``setup`` draws the episode's parameters from the seed, so the same seed
gives the same instance, and ``validate`` is code, never a model, so rewards are exact.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from pixelpilot.envs.web import WebEnv


class TaskStatus(NamedTuple):
    """The outcome of one ``validate``: the reward now, whether the task is over, and why."""

    reward: float
    done: bool
    message: str = ""


class WebTask(BaseModel, ABC):
    """A task on a web page: subclasses implement ``setup`` and ``validate``.

    ``viewport`` (CSS px) and ``device_scale_factor`` fix the screenshot size, hence the
    observation space; ``allowed_origins`` (None: the task's own origins) is the network allow-list;
    ``fresh_context`` gives every episode a new browser context (no cookies or storage carried over),
    which a task whose pages keep no state outside the document can turn off to reset faster.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    viewport: tuple[int, int] = (1280, 800)
    device_scale_factor: float = Field(default=1.0, gt=0)
    allowed_origins: tuple[str, ...] | None = None
    fresh_context: bool = True

    @abstractmethod
    def setup(self, page: Page, seed: int) -> str:
        """Open the task on a fresh page and start an episode drawn from seed; return the instruction."""

    @abstractmethod
    def validate(self, page: Page) -> TaskStatus:
        """Read the page after a step: reward, whether the episode is over, and a short message."""

    def teardown(self, page: Page) -> None:
        """Release what setup acquired outside the page (the page itself is discarded by the env)."""

    def oracle(self, env: WebEnv) -> Iterator[str]:
        """Tool-call texts that solve the episode the env was just reset to (BrowserGym's ``cheat``)."""
        raise NotImplementedError(f"task {self.name!r} has no oracle")

    def default_origins(self) -> tuple[str, ...]:
        """The origins the task's own pages come from; the allow-list when none is given."""
        return ()

    def origins(self) -> tuple[str, ...]:
        return self.allowed_origins if self.allowed_origins is not None else self.default_origins()

    def episode_info(self, page: Page) -> dict[str, Any]:
        """Task facts to add to ``info`` after each validate (e.g. a suite's raw reward)."""
        return {}


class URLTask(WebTask):
    """A user's own page as a task: open url, show the instruction, succeed when ``check(page)`` is truthy.

    ``check`` runs after every step (e.g. ``lambda page: page.evaluate("window.submitted === true")``);
    truthy means reward 1 and the episode ends. Without one the task is open-ended ("find the price of
    ..."): only the model ends it, with ``terminate`` or ``answer`` (kept in ``trajectory.answer``).
    """

    name: str = ""
    url: str
    instruction: str
    check: Callable[[Any], Any] | None = None
    """Called with the Playwright Page after each step; None: the model decides when the task is done."""

    @field_validator("url")
    @classmethod
    def _absolute(cls, url: str) -> str:
        from pixelpilot.envs.browser import origin_of

        if origin_of(url).endswith(":") and not url.startswith(("about:", "data:")):
            raise ValueError(f"url must be absolute (http://, https:// or file://), got {url!r}")
        return url

    @model_validator(mode="before")
    @classmethod
    def _name_from_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("name"):
            return {**data, "name": data.get("url", "")}
        return data

    def setup(self, page: Page, seed: int) -> str:
        page.goto(self.url)
        return self.instruction

    def validate(self, page: Page) -> TaskStatus:
        if self.check is not None and self.check(page):
            return TaskStatus(1.0, True, "check passed")
        return TaskStatus(0.0, False)

    def default_origins(self) -> tuple[str, ...]:
        from pixelpilot.envs.browser import origin_of

        return (origin_of(self.url),)
