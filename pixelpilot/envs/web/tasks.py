"""Web tasks: the ``Task`` contract on a Playwright page, with the page's size and network allow-list.

``URLTask`` is a user's own site as a task, checked by a function of the page or left open-ended.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from pixelpilot.envs.core.task import Task, TaskStatus

if TYPE_CHECKING:
    from playwright.sync_api import Page


class WebTask(Task["Page"]):
    """A task on a web page: subclasses implement ``setup`` and ``validate``.

    ``viewport`` (CSS px) and ``device_scale_factor`` fix the screenshot size, hence the
    observation space; ``allowed_origins`` (None: the task's own origins) is the network allow-list;
    ``fresh_context`` gives every episode a new browser context (no cookies or storage carried over),
    which a task whose pages keep no state outside the document can turn off to reset faster.
    """

    viewport: tuple[int, int] = (1280, 800)
    device_scale_factor: float = Field(default=1.0, gt=0)
    allowed_origins: tuple[str, ...] | None = None
    fresh_context: bool = True

    def default_origins(self) -> tuple[str, ...]:
        """The origins the task's own pages come from; the allow-list when none is given."""
        return ()

    def origins(self) -> tuple[str, ...]:
        return self.allowed_origins if self.allowed_origins is not None else self.default_origins()


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
        from pixelpilot.envs.web.browser import origin_of

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

    def validate(self, page: Page, answer: str | None = None) -> TaskStatus:
        if self.check is not None and self.check(page):
            return TaskStatus(1.0, True, "check passed")
        return TaskStatus(0.0, False)

    def default_origins(self) -> tuple[str, ...]:
        from pixelpilot.envs.web.browser import origin_of

        return (origin_of(self.url),)
