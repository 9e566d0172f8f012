"""The conversation an agent shows the model, in Qwen3-VL's hermes tool-call format.

**The system turn** comes in two prompt styles (``PromptStyle``). ``qwen`` is Qwen's own text, byte
for byte: for ``computer_use`` the Qwen3-VL computer-use cookbook's ("You are a helpful assistant.",
then the tools as Qwen-Agent's ``NousFnCallPrompt`` lists them), for ``mobile_use`` the Qwen3-VL
mobile-agent cookbook's (no role line, the tools, then its response format). ``pixelpilot`` is the
paraphrase pixelpilot-nano was trained on. tests/fixtures/qwen_official holds the official texts.

**Two history layouts.** ``chat`` keeps every turn with its images at full resolution and renders
the whole multi-turn chat for the next model turn. Screenshots pile up fast (a 1280x800 screen is
~1,000 vision tokens), so only the last ``history_images`` screenshots stay images: every image
older than the oldest kept screenshot becomes a short text placeholder, while the turns' text stays.
``cookbook`` is the Qwen3-VL mobile-agent cookbook's single user turn: the query, the task progress
(one line per earlier model turn) and the current screenshot; earlier screenshots and tool responses
are not shown.

**Image indices** (``img_idx`` of ``image_zoom_in_tool``): images are numbered 0, 1, 2, ... in
the order they appear in the rendered messages, counting only images still shown as images
(placeholders do not count). That is what the model sees when it picks an index, so a tool call
is resolved against ``History.visible_images()`` of the prompt the model answered; the list
holds the full-resolution originals.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal, get_args

from PIL import Image

from pixelpilot.agent.parser import ParsedResponse
from pixelpilot.model.base import Conversation
from pixelpilot.tools.base import PromptStyle
from pixelpilot.tools.registry import ToolRegistry

HistoryLayout = Literal["chat", "cookbook"]
HISTORY_LAYOUTS: tuple[HistoryLayout, ...] = get_args(HistoryLayout)

QWEN_ROLE = "You are a helpful assistant."
"""The system message of Qwen3-VL's computer-use cookbook, to which ``NousFnCallPrompt`` appends the tools."""

PIXELPILOT_ROLE = (
    "You are a GUI agent. You are given a task and a screenshot of the screen. Work out what to do, "
    "then act on the screen by calling the tools below, one step at a time. After each action you "
    "receive a new screenshot. When the task is done, call terminate with status success (or answer, "
    "if the task asks a question); if it cannot be done, call terminate with status failure."
)

MOBILE_RESPONSE_FORMAT = (
    "\n\n# Response format\n\n"
    "Response format for every step:\n"
    "1) Thought: one concise sentence explaining the next move (no multi-step reasoning).\n"
    "2) Action: a short imperative describing what to do in the UI.\n"
    "3) A single <tool_call>...</tool_call> block containing only the JSON: "
    '{"name": <function-name>, "arguments": <args-json-object>}.\n\n'
    "Rules:\n"
    "- Output exactly in the order: Thought, Action, <tool_call>.\n"
    "- Be brief: one sentence for Thought, one for Action.\n"
    "- Do not output anything else outside those three parts.\n"
    "- If finishing, use action=terminate in the tool call."
)
"""What Qwen3-VL's mobile-agent cookbook writes after the tool-call instructions."""

COOKBOOK_QUERY = (
    "The user query: {query}.\n"
    "Task progress (You have done the following operation on the current device): {progress}.\n"
)
"""The cookbook layout's user turn, as the mobile-agent cookbook formats it (the query's own full stop included)."""

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


def system_text(tools: ToolRegistry, role: str | None = None, style: PromptStyle = "qwen") -> str:
    """The system turn exactly as Qwen3-VL's chat template (and Qwen-Agent's ``NousFnCallPrompt``) writes it
    when given tools: the role line, a blank line, the tools and the call format, then the style's closing.

    ``role`` replaces the style's role line. Qwen's mobile agent has none: its system turn starts with the
    blank line that ``NousFnCallPrompt`` puts after an empty system message, and it closes with its
    response format.
    """
    mobile = "mobile_use" in tools
    if role is None:
        role = PIXELPILOT_ROLE if style == "pixelpilot" else "" if mobile else QWEN_ROLE
    closing = MOBILE_RESPONSE_FORMAT if style == "qwen" and mobile else ""
    return f"{role}\n\n{TOOLS_PREAMBLE}{tools.tools_block(style)}{TOOLS_POSTAMBLE}{closing}"


def gui_system_texts(style: PromptStyle = "qwen") -> tuple[str, ...]:
    """The system turns of an agent with only its GUI tool, one per tool: what a checkpoint reads most."""
    from pixelpilot.tools.gui import ComputerUseTool, MobileUseTool

    return tuple(system_text(ToolRegistry([tool(None)]), style=style) for tool in (ComputerUseTool, MobileUseTool))


_ACTION_LINE = re.compile(r"^\s*Action:\s*(.+?)\s*$", re.MULTILINE)


def progress_entry(parsed: ParsedResponse) -> str:
    """A model turn in the cookbook layout's task progress: its own ``Action:`` line (the cookbook's history
    is made of those, and its response format asks for one), else its tool calls, else its text."""
    lines = _ACTION_LINE.findall(parsed.text)
    if lines:
        return lines[-1]
    calls = " ".join(json.dumps(call.model_dump(), ensure_ascii=False) for call in parsed.calls)
    return calls or parsed.text.strip()


def _one_line(entry: str) -> str:
    """A task-progress entry without line breaks and double quotes, as the cookbook cleans its history."""
    return entry.replace("\n", "").replace('"', "")


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
    """The turns of one episode, rendered for the model in a layout, under an image budget."""

    def __init__(self, system: str, history_images: int = 3, layout: HistoryLayout = "chat") -> None:
        if history_images < 1:
            raise ValueError("history_images must be >= 1: the model has to see the current screen")
        if layout not in HISTORY_LAYOUTS:
            raise ValueError(f"unknown history layout {layout!r}: use one of {', '.join(HISTORY_LAYOUTS)}")
        self.history_images = history_images
        self.layout = layout
        self.turns: list[Turn] = [Turn("system", [system])]
        self.query = ""
        self.progress: list[str] = []
        """One entry per model turn, for the cookbook layout's task progress."""

    def add_user(self, text: str, images: tuple[ImagePart, ...] = ()) -> None:
        """The task turn: instruction first, then the screenshot, as in Qwen's GUI-agent cookbooks."""
        self.query = text
        self.turns.append(Turn("user", [text + ("\n" if images else ""), *images]))

    def add_assistant(self, text: str, progress: str | None = None) -> None:
        """A model turn; ``progress`` is how the cookbook layout lists it (default: its text)."""
        self.turns.append(Turn("assistant", [text]))
        self.progress.append(text if progress is None else progress)

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
        if self.layout == "cookbook":
            latest = self.latest_screenshot()
            return [] if latest is None else [latest]
        return [p.image for p in self._images()[self._first_shown() :]]

    def latest_screenshot(self) -> Image.Image | None:
        shots = [p.image for p in self._images() if p.kind == "screenshot"]
        return shots[-1] if shots else None

    def messages(self) -> Conversation:
        """Chat messages in the Hugging Face shape, in this history's layout."""
        return self._cookbook_messages() if self.layout == "cookbook" else self._chat_messages()

    def _cookbook_messages(self) -> Conversation:
        """The system turn and one user turn: query, task progress, current screenshot (the cookbook's order)."""
        progress = "".join(f"Step {i}: {_one_line(entry)}; " for i, entry in enumerate(self.progress, 1))
        query = COOKBOOK_QUERY.format(query=self.query, progress=progress)
        content: list[dict] = [{"type": "text", "text": scrub_text(query)}]
        latest = self.latest_screenshot()
        if latest is not None:
            content.append({"type": "image", "image": latest})
        system = scrub_text("".join(p for p in self.turns[0].parts if isinstance(p, str)))
        return [{"role": "system", "content": [{"type": "text", "text": system}]}, {"role": "user", "content": content}]

    def _chat_messages(self) -> Conversation:
        """Every turn; adjacent text parts are merged."""
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
