"""The conversation an agent shows the model, in Qwen3-VL's hermes tool-call format.

``History`` keeps every turn with its images at full resolution and renders the chat messages
for the next model turn. Screenshots pile up fast (a 1280x800 screen is ~1,000 vision tokens),
so only the last ``history_images`` screenshots stay images: every image older than the oldest
kept screenshot becomes a short text placeholder, while the turns' text stays.

**Image indices** (``img_idx`` of ``image_zoom_in_tool``): images are numbered 0, 1, 2, ... in
the order they appear in the rendered messages, counting only images still shown as images
(placeholders do not count). That is what the model sees when it picks an index, so a tool call
is resolved against ``History.visible_images()`` of the prompt the model answered; the list
holds the full-resolution originals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

from pixelpilot.model.base import Conversation
from pixelpilot.tools.registry import ToolRegistry

ROLE_PROMPT = (
    "You are a GUI agent. You are given a task and a screenshot of the screen. Work out what to do, "
    "then act on the screen by calling the tools below, one step at a time. After each action you "
    "receive a new screenshot. When the task is done, call terminate with status success (or answer, "
    "if the task asks a question); if it cannot be done, call terminate with status failure."
)

TOOLS_PREAMBLE = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
)
TOOLS_POSTAMBLE = (
    "\n\nFor each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
TOOL_RESPONSE_OPEN = "<tool_response>\n"
TOOL_RESPONSE_CLOSE = "\n</tool_response>"
SCREENSHOT_PLACEHOLDER = "[screenshot omitted]"
IMAGE_PLACEHOLDER = "[image omitted]"

ImageKind = Literal["screenshot", "image"]

_VISION_TOKENS = re.compile(r"<\|(?:vision_start|vision_end|vision_pad|image_pad|video_pad)\|>")
"""Qwen's image placeholders. A processor expands each one in the prompt into an image's patches, so
one that appears in text (a model's sampled output, a web page's instruction) would claim an image
that is not there and the backend would refuse the whole prompt."""


def scrub_text(text: str) -> str:
    """Text as it may appear in a prompt: without Qwen's vision placeholder tokens."""
    return _VISION_TOKENS.sub("", text)


def system_text(tools: ToolRegistry, role: str = ROLE_PROMPT) -> str:
    """The system turn exactly as Qwen3-VL's chat template writes it when given tools."""
    return f"{role}\n\n{TOOLS_PREAMBLE}{tools.tools_block()}{TOOLS_POSTAMBLE}"


def gui_system_texts(role: str = ROLE_PROMPT) -> tuple[str, ...]:
    """The system turns of an agent with only its GUI tool, one per tool: what a checkpoint reads most."""
    from pixelpilot.tools.gui import ComputerUseTool, MobileUseTool

    return tuple(system_text(ToolRegistry([tool(None)]), role) for tool in (ComputerUseTool, MobileUseTool))


@dataclass(frozen=True)
class ImagePart:
    """An image in a turn; ``kind`` says whether it counts against the screenshot budget."""

    image: Image.Image
    kind: ImageKind = "screenshot"


Part = str | ImagePart


@dataclass(frozen=True)
class ToolResponse:
    """What one tool call returned, as the model will read it."""

    text: str
    images: tuple[ImagePart, ...] = ()


@dataclass
class Turn:
    role: Literal["system", "user", "assistant"]
    parts: list[Part] = field(default_factory=list)


class History:
    """The turns of one episode, rendered for the model under an image budget."""

    def __init__(self, system: str, history_images: int = 3) -> None:
        if history_images < 1:
            raise ValueError("history_images must be >= 1: the model has to see the current screen")
        self.history_images = history_images
        self.turns: list[Turn] = [Turn("system", [system])]

    def add_user(self, text: str, images: tuple[ImagePart, ...] = ()) -> None:
        """The task turn: instruction first, then the screenshot, as in Qwen's GUI-agent cookbooks."""
        self.turns.append(Turn("user", [text + ("\n" if images else ""), *images]))

    def add_assistant(self, text: str) -> None:
        self.turns.append(Turn("assistant", [text]))

    def add_tool_responses(self, responses: list[ToolResponse]) -> None:
        """All results of one model turn, as one user turn of ``<tool_response>`` blocks."""
        parts: list[Part] = []
        for i, response in enumerate(responses):
            separator = "\n" if response.text and response.images else ""
            parts.append(("\n" if i else "") + TOOL_RESPONSE_OPEN + response.text + separator)
            parts.extend(response.images)
            parts.append(TOOL_RESPONSE_CLOSE)
        self.turns.append(Turn("user", parts))

    def _images(self) -> list[ImagePart]:
        return [p for t in self.turns for p in t.parts if isinstance(p, ImagePart)]

    def _first_shown(self) -> int:
        """Index (among all images) of the oldest image still shown as an image."""
        kinds = [p.kind for p in self._images()]
        screenshots = [i for i, kind in enumerate(kinds) if kind == "screenshot"]
        if len(screenshots) <= self.history_images:
            return 0
        return screenshots[-self.history_images]

    def visible_images(self) -> list[Image.Image]:
        """The full-resolution images the model sees, in ``img_idx`` order."""
        return [p.image for p in self._images()[self._first_shown() :]]

    def latest_screenshot(self) -> Image.Image | None:
        shots = [p.image for p in self._images() if p.kind == "screenshot"]
        return shots[-1] if shots else None

    def messages(self) -> Conversation:
        """Chat messages in the Hugging Face shape; adjacent text parts are merged."""
        first_shown = self._first_shown()
        seen = 0
        out: Conversation = []
        for turn in self.turns:
            content: list[dict] = []
            for part in turn.parts:
                if isinstance(part, ImagePart):
                    shown = seen >= first_shown
                    seen += 1
                    if shown:
                        content.append({"type": "image", "image": part.image})
                        continue
                    part = SCREENSHOT_PLACEHOLDER if part.kind == "screenshot" else IMAGE_PLACEHOLDER
                part = scrub_text(part)
                if content and content[-1]["type"] == "text":
                    content[-1] = {"type": "text", "text": content[-1]["text"] + part}
                elif part:
                    content.append({"type": "text", "text": part})
            out.append({"role": turn.role, "content": content})
        return out
