"""Small screen tasks drawn with PIL, for training runs and tests that must finish in CPU minutes.

They are real gymnasium environments speaking the same ``computer_use`` actions as the web and
desktop ones, with a code-checked success and an oracle, but they need no browser: an episode is a
few milliseconds, so an RL test can spend its time on the model.

- ``pixelpilot/synthetic-click-button-v0``: coloured buttons on a grid, "Click the blue button.";
  one click ends the episode. With ``shuffle=False`` (the default) every colour keeps its slot, so
  the layout can be learnt from the instruction; ``shuffle=True`` redraws it from the seed, so the
  model has to look.
- ``pixelpilot/synthetic-zoom-read-v0``: a word printed too small to read in a large picture; the
  model answers with ``computer_use`` ``answer``. The oracle zooms in with ``image_zoom_in_tool``
  first: the "thinking with images" pattern.
- ``ImageQuestionEnv``: any picture with a question and a reference answer (a user's own data).

An oracle yields the tool-call texts of the agent's tools, one turn at a time, reading only what
the environment shows; the GUI calls among them go to ``step``, the zoom calls to the zoom tool.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, Field

from pixelpilot.envs.core.actions import GRID, ComputerAction, parse_action, to_pixels
from pixelpilot.envs.core.registry import Suite
from pixelpilot.envs.core.spaces import screen_spaces
from pixelpilot.envs.core.toolcall import ToolCall
from pixelpilot.errors import PixelpilotError

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (230, 200, 30),
    "purple": (150, 60, 190),
    "orange": (245, 140, 20),
    "black": (20, 20, 20),
    "white": (255, 255, 255),
}
WORDS = ("cat", "sun", "map", "key", "box", "pen", "cup", "hat", "fish", "tree", "star", "door")
_BACKGROUND = (236, 236, 236)


def _call_text(action: ComputerAction) -> str:
    return action.to_tool_call().to_text()


def _answer_matches(given: str | None, reference: str) -> bool:
    """Case, surrounding space and a final full stop do not count."""
    normalise = lambda text: " ".join(text.strip().rstrip(".").casefold().split())  # noqa: E731
    return given is not None and normalise(given) == normalise(reference)


class _ScreenEnv(gym.Env[dict[str, Any], str]):
    """What every synthetic env shares: the observation space, action parsing and the episode's end."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}
    gui_tool = "computer_use"

    def __init__(self, size: tuple[int, int], render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.size = (int(size[0]), int(size[1]))
        width, height = self.size
        self.render_mode = render_mode
        self.observation_space, self.action_space = screen_spaces(height, width)
        self.instruction = ""
        self._image: Image.Image | None = None
        self._over = False

    def _observation(self) -> dict[str, Any]:
        if self._image is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        return {"screenshot": np.asarray(self._image, dtype=np.uint8).copy(), "instruction": self.instruction}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._image is None:
            return None
        return np.asarray(self._image, dtype=np.uint8).copy()

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        observation = self._observation()
        if self._over:
            return observation, 0.0, False, False, {"action_error": "the episode is over; call reset()"}
        try:
            parsed = parse_action(action, tool=self.gui_tool)
            if not isinstance(parsed, ComputerAction):
                raise PixelpilotError(f"this environment takes {self.gui_tool} actions, not {parsed.tool}")
        except PixelpilotError as error:
            return observation, 0.0, False, False, {"action_error": str(error)}
        verdict = self._judge(parsed)
        info: dict[str, Any] = {"action": parsed.model_dump(mode="json", exclude_none=True)}
        if verdict is None:
            return observation, 0.0, False, False, info
        self._over = True
        info.update(success=verdict, answer=parsed.text if parsed.action == "answer" else None)
        return observation, float(verdict), True, False, info

    def _judge(self, action: ComputerAction) -> bool | None:
        """Success or failure when the action ends the episode, None when it does not."""
        raise NotImplementedError


class ClickButtonEnv(_ScreenEnv):
    """Coloured buttons on a grid; the first click ends the episode, a success inside the named button."""

    def __init__(
        self,
        buttons: int = 4,
        shuffle: bool = False,
        size: tuple[int, int] = (128, 128),
        render_mode: str | None = None,
    ) -> None:
        if not 2 <= buttons <= len(COLOURS):
            raise ValueError(f"buttons must be between 2 and {len(COLOURS)}, got {buttons}")
        super().__init__(size, render_mode)
        self.buttons = buttons
        self.shuffle = shuffle
        self.cols = math.ceil(math.sqrt(buttons))
        self.rows = math.ceil(buttons / self.cols)
        self.layout: list[str] = list(COLOURS)[:buttons]
        """Colour name per slot, row by row."""
        self.target = self.layout[0]

    def slot_box(self, slot: int) -> tuple[int, int, int, int]:
        """A slot's button in grid units (0-1000): 60% of its cell, centred."""
        row, col = divmod(slot, self.cols)
        cell_w, cell_h = GRID / self.cols, GRID / self.rows
        cx, cy = (col + 0.5) * cell_w, (row + 0.5) * cell_h
        half_w, half_h = 0.3 * cell_w, 0.3 * cell_h
        return round(cx - half_w), round(cy - half_h), round(cx + half_w), round(cy + half_h)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        names = list(COLOURS)[: self.buttons]
        self.layout = [names[i] for i in self.np_random.permutation(self.buttons)] if self.shuffle else names
        self.target = str(self.np_random.choice(names))
        shade = int(self.np_random.integers(-12, 13))
        self._image = self._draw(tuple(c + shade for c in _BACKGROUND))
        self.instruction = f"Click the {self.target} button."
        self._over = False
        return self._observation(), {"target": self.target}

    def _draw(self, background: tuple[int, ...]) -> Image.Image:
        width, height = self.size
        image = Image.new("RGB", self.size, background)
        draw = ImageDraw.Draw(image)
        for slot, name in enumerate(self.layout):
            x1, y1, x2, y2 = self.slot_box(slot)
            box = (*to_pixels((x1, y1), width, height), *to_pixels((x2, y2), width, height))
            draw.rectangle(box, fill=COLOURS[name], outline=(60, 60, 60))
        return image

    def _judge(self, action: ComputerAction) -> bool | None:
        if action.action == "left_click":
            x1, y1, x2, y2 = self.slot_box(self.layout.index(self.target))
            x, y = action.coordinate or (-1, -1)
            return x1 <= x <= x2 and y1 <= y <= y2
        if action.is_final:
            return False
        return None

    def oracle(self) -> Iterator[str]:
        """Click the centre of the named button."""
        x1, y1, x2, y2 = self.slot_box(self.layout.index(self.target))
        yield _call_text(ComputerAction(action="left_click", coordinate=((x1 + x2) // 2, (y1 + y2) // 2)))


class ImageQuestion(BaseModel):
    """A picture, a question about it and the reference answer; ``region`` (0-1000) is where to look."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    image: Image.Image
    question: str
    answer: str
    region: tuple[int, int, int, int] | None = Field(default=None, description="[x1, y1, x2, y2] on the grid")


class ImageQuestionEnv(_ScreenEnv):
    """One picture and its question; the ``answer`` action ends the episode, a success when it matches."""

    def __init__(self, question: ImageQuestion, render_mode: str | None = None) -> None:
        super().__init__(question.image.size, render_mode)
        self.question = question

    def _draw_question(self) -> ImageQuestion:
        return self.question

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        self.question = self._draw_question()
        self._image = self.question.image.convert("RGB")
        self.instruction = self.question.question
        self._over = False
        return self._observation(), {"reference": self.question.answer}

    @property
    def reference(self) -> str:
        return self.question.answer

    def _judge(self, action: ComputerAction) -> bool | None:
        if action.action == "answer":
            return _answer_matches(action.text, self.question.answer)
        return False if action.action == "terminate" else None

    def oracle(self) -> Iterator[str]:
        """Zoom in on the region (when the question names one), then answer."""
        if self.question.region is not None:
            arguments = {"bbox_2d": list(self.question.region), "label": "the text", "img_idx": 0}
            yield ToolCall(name="image_zoom_in_tool", arguments=arguments).to_text()
        yield _call_text(ComputerAction(action="answer", text=self.question.answer))


class ZoomReadEnv(ImageQuestionEnv):
    """A short word printed small in a corner of a large, mostly empty picture."""

    def __init__(self, size: tuple[int, int] = (512, 512), render_mode: str | None = None) -> None:
        blank = ImageQuestion(image=Image.new("RGB", size, _BACKGROUND), question="", answer="")
        super().__init__(blank, render_mode)

    def _draw_question(self) -> ImageQuestion:
        width, height = self.size
        word = str(self.np_random.choice(WORDS))
        image = Image.new("RGB", self.size, _BACKGROUND)
        draw = ImageDraw.Draw(image)
        box_w, box_h = max(24, width // 12), max(14, height // 28)
        x = int(self.np_random.integers(4, width - box_w - 4))
        y = int(self.np_random.integers(4, height - box_h - 4))
        draw.rectangle((x, y, x + box_w, y + box_h), fill=(255, 255, 255), outline=(90, 90, 90))
        draw.text((x + 3, y + 2), word, fill=(0, 0, 0))
        pad = 2
        region = (
            max(0, (x - pad) * GRID // width),
            max(0, (y - pad) * GRID // height),
            min(GRID, -(-(x + box_w + pad) * GRID // width)),
            min(GRID, -(-(y + box_h + pad) * GRID // height)),
        )
        question = "What word is written in the small white box? Answer with the word only."
        return ImageQuestion(image=image, question=question, answer=word, region=region)


ENVS: dict[str, type[_ScreenEnv]] = {"click-button": ClickButtonEnv, "zoom-read": ZoomReadEnv}
"""Task name -> its environment class."""


def make_synthetic_env(task: str, **kwargs: Any) -> _ScreenEnv:
    """gymnasium entry point of ``pixelpilot/synthetic-<task>-v0``; kwargs go to the task's env."""
    return ENVS[task](**kwargs)


SYNTHETIC = Suite(
    name="synthetic",
    id_format="pixelpilot/synthetic-{task}-v0",
    entry_point="pixelpilot.envs.synthetic:make_synthetic_env",
    tasks=lambda: tuple(ENVS),
    has_oracle=lambda task: True,
)
env_id = SYNTHETIC.env_id
