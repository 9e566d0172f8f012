"""What happened in one episode, step by step: for reading, for reports, and for RL and SFT data.

Screenshots stay PIL images in memory and become PNG files beside ``trajectory.json`` on
``save``; ``load`` reads both back, so a saved run can be re-rendered or trained on later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from pixelpilot.envs.core.toolcall import ToolCall
from pixelpilot.model.base import Generation

EndReason = Literal[
    "terminate",  # the model called terminate
    "answer",  # the model gave its answer
    "env_terminated",  # the environment ended the task (solved, or failed for good)
    "env_truncated",  # the environment's own time limit
    "max_steps",
    "max_repeats",  # the same failing action again and again
    "max_failures",  # too many failed turns in all
    "model_error",  # the backend could not answer
    "stopped",  # the approval hook (a person) stopped the run
]

TRAJECTORY_FILE = "trajectory.json"


class Landing(BaseModel):
    """Where a pointer action landed, on the 0–1000 grid of the screenshot the model saw.

    A drag or swipe also has its start (``from_x``, ``from_y``); a drag starts where the previous
    pointer action left the cursor, when the episode knows that.
    """

    model_config = ConfigDict(frozen=True)

    action: str
    x: int
    y: int
    from_x: int | None = None
    from_y: int | None = None


class CallRecord(BaseModel):
    """One ``<tool_call>`` block of a model turn and what came of it."""

    call: ToolCall | None = None
    """None when the block could not be read; ``raw`` then holds its text."""
    raw: str | None = None
    text: str = ""
    error: str | None = None
    images: int = 0
    reward: float = 0.0
    landing: Landing | None = None
    denied: str | None = None
    """Why the approval hook refused the action (it never reached the environment)."""

    @property
    def ok(self) -> bool:
        return self.error is None


class Step(BaseModel):
    """One model turn: what the model saw and wrote, the calls it made, and their outcome."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: int
    text: str
    """The response as the model wrote it (invalid code points replaced)."""
    thought: str | None = None
    content: str = ""
    """Free text outside the thought and the calls."""
    calls: list[CallRecord] = []
    error: str | None = None
    """A problem with the turn as a whole, such as holding no tool call."""
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    failed: bool = False
    done: bool = False
    timings: dict[str, float] = {}
    generation: Generation | None = None
    """Token ids and log-probs of the response, for RL."""
    screenshot: Image.Image | None = Field(default=None, exclude=True)
    """The latest screenshot in the prompt the model answered."""
    screenshot_file: str | None = None

    @property
    def landings(self) -> list[Landing]:
        return [c.landing for c in self.calls if c.landing is not None]

    @property
    def errors(self) -> list[str]:
        return ([self.error] if self.error else []) + [c.error for c in self.calls if c.error]


class Trajectory(BaseModel):
    """One episode of an agent in an environment."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    instruction: str = ""
    env_id: str | None = None
    model: str | None = None
    seed: int | None = None
    steps: list[Step] = []
    reward: float = 0.0
    success: bool = False
    end_reason: EndReason | None = None
    answer: str | None = None
    error: str | None = None
    """Why the run stopped early when nothing the model did explains it (a backend failure)."""
    final_screenshot: Image.Image | None = Field(default=None, exclude=True)
    final_screenshot_file: str | None = None

    def save(self, directory: str | Path) -> Path:
        """Write ``trajectory.json`` and one PNG per distinct screenshot; returns the directory."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written: dict[int, str] = {}

        def png(image: Image.Image | None, name: str) -> str | None:
            if image is None:
                return None
            if id(image) not in written:
                image.save(out / name)
                written[id(image)] = name
            return written[id(image)]

        for step in self.steps:
            step.screenshot_file = png(step.screenshot, f"step_{step.index:03d}.png")
        self.final_screenshot_file = png(self.final_screenshot, "final.png")
        (out / TRAJECTORY_FILE).write_text(self.model_dump_json(indent=1), encoding="utf-8")
        return out

    @classmethod
    def load(cls, directory: str | Path) -> Trajectory:
        """Read a trajectory written by ``save``, screenshots included."""
        root = Path(directory)
        trajectory = cls.model_validate_json((root / TRAJECTORY_FILE).read_text(encoding="utf-8"))
        images: dict[str, Image.Image] = {}

        def png(name: str | None) -> Image.Image | None:
            if name is None:
                return None
            if name not in images:
                with Image.open(root / name) as image:
                    images[name] = image.convert("RGB")
            return images[name]

        for step in trajectory.steps:
            step.screenshot = png(step.screenshot_file)
        trajectory.final_screenshot = png(trajectory.final_screenshot_file)
        return trajectory

    def to_html(self, path: str | Path) -> Path:
        """Write a self-contained HTML report (screenshots inlined, actions marked); returns its path."""
        from pixelpilot.agent.report import write_report

        return write_report(self, path)
