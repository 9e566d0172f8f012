"""The default prompt is Qwen's own, byte for byte; pixelpilot-nano keeps the wording it was trained on.

The official texts are quoted in tests/fixtures/qwen_official (its README names each source file and
commit):

- ``computer_use_system.txt``: QwenLM/Qwen3-VL ``cookbooks/computer_use.ipynb`` with
  ``cookbooks/utils/agent_function_call.py`` (commit 96588727e44c78b25ba03ea03b8e12f7e64fd0da), rendered
  by QwenLM/Qwen-Agent ``qwen_agent/llm/fncall_prompts/nous_fncall_prompt.py``
  (commit 31a4d36d123688581a9e9744427272b33ce940e0);
- ``mobile_use_system.txt``: the ``system_prompt`` of QwenLM/Qwen3-VL ``cookbooks/mobile_agent.ipynb``
  (commit 96588727e44c78b25ba03ea03b8e12f7e64fd0da);
- ``image_zoom_in_tool.json``: QwenLM/Qwen-Agent ``qwen_agent/tools/image_zoom_in_qwen3vl.py``
  (commit 31a4d36d123688581a9e9744427272b33ce940e0) as ``NousFnCallPrompt`` lists it.

tests/fixtures/pixelpilot_prompt holds the ``pixelpilot`` style's system turns as pixelpilot rendered
them when pixelpilot-nano was trained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from test_agent_loop import ButtonEnv, ScriptedModel, call

from pixelpilot.agent import Agent, Episode, parse_response
from pixelpilot.agent.prompt import History, ImagePart, ToolResponse, gui_system_texts, progress_entry, system_text
from pixelpilot.model.base import ChatModel, Conversation, Generation, SamplingParams
from pixelpilot.tools import ComputerUseTool, MobileUseTool, ToolRegistry, image_zoom_in_tool

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OFFICIAL = FIXTURES / "qwen_official"
MOBILE_SCREEN = "The screen's resolution is 999x999."
"""The mobile-agent cookbook's screen line; pixelpilot states the 1000x1000 of Qwen3-VL's 0-1000 grid."""


def official(name: str) -> str:
    return (OFFICIAL / name).read_bytes().decode("utf-8")


def test_computer_use_system_turn_is_the_qwen3_vl_computer_use_cookbooks_byte_for_byte() -> None:
    """Source: QwenLM/Qwen3-VL cookbooks/computer_use.ipynb (its display is 1000x1000 already)."""
    rendered = system_text(ToolRegistry([ComputerUseTool(None)]))
    assert rendered.encode("utf-8") == (OFFICIAL / "computer_use_system.txt").read_bytes()
    assert rendered.startswith("You are a helpful assistant.\n\n# Tools\n\n")


def test_mobile_use_system_turn_is_the_qwen3_vl_mobile_agent_cookbooks_but_its_screen_line() -> None:
    """Source: QwenLM/Qwen3-VL cookbooks/mobile_agent.ipynb ``system_prompt``: no role line, a response format."""
    text = official("mobile_use_system.txt")
    assert text.count(MOBILE_SCREEN) == 1
    expected = text.replace(MOBILE_SCREEN, "The screen's resolution is 1000x1000.")
    rendered = system_text(ToolRegistry([MobileUseTool(None)]))
    assert rendered.encode("utf-8") == expected.encode("utf-8")
    assert "Don't click boxes on their edges unless asked." in rendered


def test_zoom_tool_is_qwen_agents_own_line_beside_the_gui_tool() -> None:
    """Source: QwenLM/Qwen-Agent qwen_agent/tools/image_zoom_in_qwen3vl.py, one line of ``<tools>``."""
    line = official("image_zoom_in_tool.json")
    assert json.dumps(image_zoom_in_tool.schema(), ensure_ascii=False) == line
    computer = official("computer_use_system.txt")
    end_of_tool = computer.index("\n</tools>")
    expected = computer[:end_of_tool] + "\n" + line + computer[end_of_tool:]
    assert system_text(ToolRegistry([ComputerUseTool(None), image_zoom_in_tool])) == expected


def test_pixelpilot_style_is_the_wording_nano_was_trained_on() -> None:
    computer, mobile = gui_system_texts("pixelpilot")
    assert computer == (FIXTURES / "pixelpilot_prompt" / "computer_use_system.txt").read_text(encoding="utf-8")
    assert mobile == (FIXTURES / "pixelpilot_prompt" / "mobile_use_system.txt").read_text(encoding="utf-8")
    assert computer.startswith("You are a GUI agent.")


def test_a_role_prompt_replaces_only_the_role_line() -> None:
    registry = ToolRegistry([MobileUseTool(None)])
    default, custom = system_text(registry), system_text(registry, role="Drive the phone.")
    assert custom == "Drive the phone." + default


def test_cookbook_layout_is_the_mobile_agent_cookbooks_user_turn() -> None:
    """The cookbook's own example: its query, one step of history, then the screenshot."""
    screen = Image.new("RGB", (64, 48), (9, 9, 9))
    history = History("SYSTEM", layout="cookbook")
    history.add_user("Search for Musk in X and go to his homepage to open the first post.", (ImagePart(screen),))
    reply = (
        "Thought: The X app is open.\n"
        'Action: "I opened the X app from the home screen."\n'
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [447, 81]}}\n</tool_call>'
    )
    history.add_assistant(reply, progress_entry(parse_response(reply)))
    later = Image.new("RGB", (64, 48), (99, 99, 99))
    history.add_tool_responses([ToolResponse(text="click done.", images=(ImagePart(later),))])
    system, user = history.messages()
    assert system == {"role": "system", "content": [{"type": "text", "text": "SYSTEM"}]}
    # The cookbook's f-string, with its stage2_history of 'Step 1: <action>; ' (quotes and line breaks removed).
    assert user["content"][0] == {
        "type": "text",
        "text": "The user query: Search for Musk in X and go to his homepage to open the first post..\n"
        "Task progress (You have done the following operation on the current device): "
        "Step 1: I opened the X app from the home screen.; .\n",
    }
    assert user["content"][1] == {"type": "image", "image": later}
    assert len(user["content"]) == 2 and history.visible_images() == [later]


def test_cookbook_progress_lists_calls_when_the_model_writes_no_action_line() -> None:
    parsed = parse_response(call("left_click", coordinate=[5, 6]))
    expected = {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [5, 6]}}
    assert progress_entry(parsed) == json.dumps(expected)


class StyledModel(ChatModel):
    """A model whose checkpoint names a prompt style; it never answers."""

    def __init__(self, style: str | None) -> None:
        self.prompt_style = style

    def generate(self, conversations: list[Conversation], sampling: SamplingParams | None = None) -> list[Generation]:
        raise AssertionError("not called")


def system_of(agent: Agent) -> str:
    episode = agent.episode(ButtonEnv())
    episode.reset(seed=0)
    return episode.messages()[0]["content"][0]["text"]


def test_agent_prompts_in_the_style_its_checkpoint_names_unless_told() -> None:
    qwen, pixelpilot = gui_system_texts("qwen")[0], gui_system_texts("pixelpilot")[0]
    assert system_of(Agent(StyledModel(None))) == qwen
    assert system_of(Agent(StyledModel("pixelpilot"))) == pixelpilot
    assert system_of(Agent(StyledModel("pixelpilot"), prompt_style="qwen")) == qwen
    with pytest.raises(ValueError, match="prompt style"):
        Agent(StyledModel("plain"))


def test_agent_in_the_cookbook_layout_shows_one_user_turn_per_prompt() -> None:
    model = ScriptedModel(["Thought: look.\nAction: Move to the corner.\n" + call("mouse_move", coordinate=[1, 1])])
    trajectory = Agent(model, max_steps=3, history_layout="cookbook").run(ButtonEnv(), seed=0)
    assert trajectory.success
    first, second = model.prompts
    assert [m["role"] for m in second] == ["system", "user"] and first[0] == second[0]
    text, image = second[1]["content"]
    assert text["text"].endswith("Step 1: Move to the corner.; .\n") and image["type"] == "image"
    with pytest.raises(ValueError, match="cookbook layout"):
        Episode(ButtonEnv(), [image_zoom_in_tool], history_layout="cookbook")
