"""Each reward component on clear cases, the judge on a real tiny Qwen3-VL, and the hybrid sum."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from pixelpilot.agent.trajectory import CallRecord, Step, Trajectory
from pixelpilot.envs.core.toolcall import ToolCall
from pixelpilot.model import SamplingParams, load_model
from pixelpilot.rl.rewards import (
    ANSWER_JUDGE,
    REASONING_JUDGE,
    AccuracyConfig,
    AccuracyReward,
    ComponentSpec,
    FormatConfig,
    FormatPenalty,
    HybridReward,
    HybridRewardConfig,
    JudgeConfig,
    LanguagePenalty,
    RepetitionPenalty,
    RewardScore,
    RolloutRecord,
    TaskSuccessConfig,
    TaskSuccessReward,
    ToolCallConfig,
    ToolCallReward,
    answer_judge,
    build_hybrid,
    parse_judge_score,
    reasoning_judge,
)


def call(action: str, **arguments) -> ToolCall:
    return ToolCall(name="computer_use", arguments={"action": action, **arguments})


def turn(thought: str, *calls: ToolCall, text: str = "") -> str:
    return f"<think>{thought}</think>{text}" + "".join("\n" + c.to_text() for c in calls)


def record(**fields) -> RolloutRecord:
    return RolloutRecord(**{"instruction": "Click the submit button", **fields})


ZOOM = ToolCall(name="image_zoom_in_tool", arguments={"bbox_2d": [0, 0, 500, 500]})


# -- task success ---------------------------------------------------------------------------------


def test_task_success():
    reward = TaskSuccessReward()
    assert reward.score(record(success=True)).score == 1.0
    assert reward.score(record(success=False)).score == 0.0
    unjudged = reward.score(record(success=None))
    assert unjudged.score == 0.0 and unjudged.info["judged"] is False
    shaped = TaskSuccessReward(TaskSuccessConfig(source="env_reward")).score(record(env_reward=0.4))
    assert shaped.score == 0.4


# -- accuracy by rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "reference", "correct"),
    [
        ("The Eiffel-Tower!", "eiffel tower", True),
        ("Eiffel", "eiffel tower", False),
        ("The answer is 3.14159", "3.1416", True),
        ("It is 1,250 dollars.", "1250", True),
        ("42", "43", False),
        ("50%", "0.5", True),
        ("(B) Paris", "B", True),
        ("answer: c", "(B)", False),
        ("B", "B. Paris", False),  # auto mode: only a bare letter makes a choice reference ("A. Lincoln")
    ],
)
def test_accuracy_rules(answer, reference, correct):
    result = AccuracyReward().score(record(answer=answer, reference=reference))
    assert result.score == float(correct)


def test_accuracy_choice_mode_reads_the_letter_of_the_reference():
    choice = AccuracyReward(AccuracyConfig(mode="choice"))
    assert choice.score(record(answer="The answer is B", reference="B. Paris")).score == 1.0
    assert choice.score(record(answer="Paris", reference="B. Paris")).score == 0.0


def test_accuracy_reads_free_text_when_no_answer_action():
    free = record(responses=["<think>3 times 4</think>The answer is 12."], reference="12")
    assert AccuracyReward().score(free).score == 1.0
    strict = AccuracyReward(AccuracyConfig(text_fallback=False)).score(free)
    assert strict.score == 0.0 and strict.info["reason"] == "no answer"


def test_accuracy_refuses_bad_references():
    with pytest.raises(ValueError, match="no reference"):
        AccuracyReward().score(record(answer="x"))
    with pytest.raises(ValueError, match="not a number"):
        AccuracyReward(AccuracyConfig(mode="numeric")).score(record(answer="4", reference="four"))


# -- judge score parser ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "low", "high", "expected"),
    [
        ("Score: 8", 0, 10, 8.0),
        ("The steps are sound.\n**Score:** 7/10", 0, 10, 7.0),
        ("Rating: 4 out of 5", 0, 10, 8.0),
        ('{"score": 6, "reason": "ok"}', 0, 10, 6.0),
        ("so the final grade is \\boxed{3}", 0, 10, 3.0),
        ("<score>2</score>", 0, 10, 2.0),
        ("Score: 3. On reflection the last step was fine. Score: 6", 0, 10, 6.0),
        ("<think>Score: 2 maybe</think>\nScore: 9", 0, 10, 9.0),
        ("<think>I would give Score: 5", 0, 10, None),
        ("Score: 15", 0, 10, None),
        ("7", 0, 10, 7.0),
        ("Correct.", 0, 1, 1.0),
        ("The model answer differs.\nVerdict: incorrect", 0, 1, 0.0),
        ("Score: 1", 0, 1, 1.0),
        ("I cannot decide.", 0, 1, None),
        ("uttonOldThOldThOldTh", 0, 10, None),
        ("", 0, 10, None),
    ],
)
def test_parse_judge_score(text, low, high, expected):
    assert parse_judge_score(text, low, high) == expected


def test_judge_config_validation():
    with pytest.raises(ValidationError, match="unknown fields"):
        JudgeConfig(template="Grade {answr}")
    with pytest.raises(ValidationError, match="empty"):
        JudgeConfig(template="Grade {answer}", low=5, high=5)


# -- judges on a real tiny model ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_judge(tiny_checkpoint):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    model = load_model(f"hf:{tiny_checkpoint}")
    yield model
    model.close()
    torch.set_num_threads(previous)


def quick(config: JudgeConfig, **changes) -> JudgeConfig:
    return JudgeConfig(
        **{**config.model_dump(), "sampling": SamplingParams(temperature=0.0, max_new_tokens=24), **changes}
    )


def test_answer_judge_on_a_tiny_model_falls_back_on_random_text(tiny_judge):
    judge = answer_judge(tiny_judge, quick(ANSWER_JUDGE, fallback=0.25))
    answered = record(instruction="What is the capital of France?", answer="Paris", reference="Paris")
    silent = record(instruction="What is the capital of France?", reference="Paris")
    prompt = judge.conversation(answered)[-1]["content"][0]["text"]
    assert "Reference answer: Paris" in prompt and "Model answer: Paris" in prompt

    scored, skipped = judge.score_batch([answered, silent])
    reply = tiny_judge.chat(judge.conversation(answered), judge.config.sampling).text
    assert reply and scored.info["judge_text"] == reply[:500]
    # random weights write no score: the defined fallback applies, and says so
    assert parse_judge_score(reply, 0, 1) is None
    assert scored.score == 0.25 and scored.parts == {"parsed": 0.0} and scored.info["reason"] == "no score"
    assert skipped.score == 0.0 and skipped.info["reason"] == "no answer"


def test_reasoning_judge_reads_the_transcript(tiny_judge):
    judge = reasoning_judge(tiny_judge, quick(REASONING_JUDGE))
    episode = record(
        responses=[turn("The button is at the bottom.", call("left_click", coordinate=[500, 900]))],
        observations=["Clicked at (500, 900)."],
    )
    prompt = judge.conversation(episode)[-1]["content"][0]["text"]
    assert "[Turn 1] Agent:" in prompt and "Clicked at (500, 900)." in prompt
    (result,) = judge.score_batch([episode])
    raw = parse_judge_score(result.info["judge_text"], 0, 10)
    assert result.score == (0.0 if raw is None else raw / 10)

    fast = {"sampling": {"temperature": 0.0, "max_new_tokens": 24}}
    config = HybridRewardConfig(
        components=[ComponentSpec(kind="reasoning", weight=0.5, config=fast), ComponentSpec(kind="format")]
    )
    (mixed,) = build_hybrid(config, judge=tiny_judge).score_batch([episode])
    assert mixed.parts == {"reasoning": result.score, "format": 0.0}
    assert mixed.score == pytest.approx(0.5 * result.score)


# -- tool calls -----------------------------------------------------------------------------------


def correct(value: float = 1.0) -> dict[str, RewardScore]:
    return {"accuracy": RewardScore(score=value)}


@pytest.mark.parametrize(("calls", "expected"), [(0, 0.0), (1, 0.5), (2, 1.0), (3, 0.5), (4, 0.0), (7, 0.0)])
def test_tool_call_count_against_target(calls, expected):
    reward = ToolCallReward(ToolCallConfig(target=2, step_penalty=0.5))
    result = reward.score(record(tool_calls=[ZOOM] * calls), correct())
    assert result.score == expected
    assert result.parts["calls"] == calls


def test_tool_call_bonus_only_when_correct_and_deepeyes_form():
    deepeyes = ToolCallReward(ToolCallConfig.deepeyes())
    assert deepeyes.score(record(tool_calls=[]), correct()).score == 0.0
    assert deepeyes.score(record(tool_calls=[ZOOM]), correct()).score == 1.0
    assert deepeyes.score(record(tool_calls=[ZOOM] * 6), correct()).score == 1.0
    assert deepeyes.score(record(tool_calls=[ZOOM]), correct(0.0)).score == 0.0

    by_env = ToolCallReward(ToolCallConfig(correct_from=None))
    assert by_env.score(record(tool_calls=[ZOOM], success=True)).score == 1.0
    assert by_env.score(record(tool_calls=[ZOOM], success=False)).score == 0.0
    with pytest.raises(ValueError, match="needs the score"):
        ToolCallReward().score(record(tool_calls=[ZOOM]))


def test_tool_call_counting_filters():
    calls = [ZOOM, call("left_click", coordinate=[1, 2]), call("answer", text="Paris")]
    counted = ToolCallReward(ToolCallConfig(require_correct=False, target=2))
    assert counted.score(record(tool_calls=calls)).parts["calls"] == 2  # the answer action is not tool use
    zoom_only = ToolCallReward(ToolCallConfig(require_correct=False, tools=["image_zoom_in_tool"]))
    assert zoom_only.score(record(tool_calls=calls)).parts["calls"] == 1


# -- penalties ------------------------------------------------------------------------------------


def test_repetition_penalty():
    reward = RepetitionPenalty()
    fluent = turn("The submit button sits below the form, so I click it once.", call("left_click", coordinate=[5, 5]))
    assert reward.score(record(responses=[fluent])).score == 0.0
    looping = turn("a b c d a b c d a b c d", call("wait"))
    # 12 words, 9 four-grams of which 4 distinct: share 5/9; (5/9 − 0.2) / 0.8 above the threshold
    assert reward.score(record(responses=[looping])).score == pytest.approx(-(5 / 9 - 0.2) / 0.8)
    assert reward.score(
        record(responses=[fluent, fluent, turn("Done.", call("terminate", status="success"))])
    ).score == (pytest.approx(-1 / 3))
    # the same call in turns that think differently is not repetition: only the model's own words are read
    next_page = call("left_click", coordinate=[900, 950])
    pages = [turn(f"Page {n} has no match, so I go to the next page.", next_page) for n in range(4)]
    assert reward.score(record(responses=pages)).score == 0.0


def test_language_penalty():
    reward = LanguagePenalty()
    english = turn("I need to find the submit button first, then click it.", call("left_click", coordinate=[1, 1]))
    chinese = turn("我需要先找到提交按钮，然后点击它。", call("left_click", coordinate=[1, 1]))
    french = turn("Je dois d'abord trouver le bouton d'envoi, puis cliquer dessus.", call("wait"))
    assert reward.score(record(responses=[english])).score == 0.0
    mixed = reward.score(record(responses=[chinese]))
    assert mixed.score == -1.0 and mixed.info["response_system"] == "Han"
    assert reward.score(record(responses=[french], instruction="Find the submit button and click on it")).score == -1.0
    # typed text in a call is the task's business, and a two-word turn is too short to judge
    typing = turn("I type the name.", call("type", text="北京市朝阳区"))
    assert reward.score(record(responses=[typing, turn("Done", call("terminate", status="success"))])).score == 0.0
    assert reward.score(record(instruction="点击提交按钮", responses=[chinese])).score == 0.0


def test_format_penalty():
    reward = FormatPenalty()
    good = turn("ok", call("left_click", coordinate=[1, 1]))
    unclosed_think = "<think>hmm " + call("wait").to_text()
    bad_json = '<tool_call>\n{"name": "computer_use", "arguments": {"action": \n</tool_call>'
    no_call = "I will click the button."
    unclosed_call = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait"}}'
    assert reward.score(record(responses=[good])).score == 0.0
    result = reward.score(record(responses=[good, unclosed_think, bad_json, no_call, unclosed_call]))
    assert result.score == pytest.approx(-4 / 5)
    assert result.parts == {
        "think_tags": 1.0,
        "tool_call_tags": 1.0,
        "invalid_call": 1.0,
        "unknown_tool": 0.0,
        "no_tool_call": 1.0,
    }
    thinking = FormatPenalty(FormatConfig(think_opened_by_template=True, tool_names=["computer_use"]))
    assert thinking.score(record(responses=["hmm</think>" + call("wait").to_text()])).score == 0.0
    assert thinking.score(record(responses=[good])).score == -1.0
    assert thinking.score(record(responses=["x</think>" + ZOOM.to_text()])).parts["unknown_tool"] == 1.0


# -- the hybrid ----------------------------------------------------------------------------------


def test_hybrid_is_the_weighted_sum_of_its_components():
    hybrid = HybridReward(
        [
            (AccuracyReward(), 1.0),
            (ToolCallReward(ToolCallConfig.deepeyes()), 0.5),
            (FormatPenalty(), 0.2),
            (LanguagePenalty(), 0.3),
        ]
    )
    episode = record(
        instruction="What is written on the sign?",
        responses=[
            turn("Zoom in on the sign.", ZOOM),
            "<think>It says STOP" + call("answer", text="STOP").to_text(),
        ],
        tool_calls=[ZOOM, call("answer", text="STOP")],
        answer="stop",
        reference="STOP",
    )
    result = hybrid.score(episode)
    assert result.parts == {"accuracy": 1.0, "tool_calls": 1.0, "format": -0.5, "language": 0.0}
    assert result.score == pytest.approx(1.0 + 0.5 - 0.2 * 0.5)
    assert result.info["weights"]["format"] == 0.2

    config = HybridRewardConfig(
        components=[
            ComponentSpec(kind="accuracy"),
            ComponentSpec(
                kind="tool_calls",
                weight=0.5,
                config={"target": 1, "penalize_excess": False, "step_penalty": 1},
            ),
            ComponentSpec(kind="format", weight=0.2),
            ComponentSpec(kind="language", weight=0.3),
        ]
    )
    rebuilt = build_hybrid(HybridRewardConfig.model_validate_json(config.model_dump_json()))
    assert rebuilt.score_batch([episode, episode]) == [result, result]


def test_hybrid_checks_order_names_and_judges():
    with pytest.raises(ValueError, match="reorder"):
        HybridReward([(ToolCallReward(), 1.0), (AccuracyReward(), 1.0)])
    with pytest.raises(ValueError, match="named"):
        HybridReward([(FormatPenalty(), 1.0), (FormatPenalty(), 0.5)])
    with pytest.raises(ValueError, match="judge model"):
        build_hybrid(HybridRewardConfig(components=[ComponentSpec(kind="reasoning")]))
    with pytest.raises(ValidationError):
        HybridRewardConfig(components=[])


def test_record_from_a_trajectory():
    click = call("left_click", coordinate=[500, 500])
    trajectory = Trajectory(
        instruction="Click OK",
        env_id="pixelpilot/miniwob-click-button-v0",
        steps=[
            Step(index=0, text=turn("Click it.", click), calls=[CallRecord(call=click, text="clicked")]),
            Step(index=1, text="<tool_call>{bad", calls=[CallRecord(raw="{bad", error="not JSON")]),
        ],
        reward=1.0,
        success=True,
        answer=None,
    )
    rollout = RolloutRecord.from_trajectory(trajectory, reference="OK", query_id="q7")
    assert rollout.responses == [trajectory.steps[0].text, "<tool_call>{bad"]
    assert rollout.observations == ["clicked", "not JSON"]
    assert rollout.tool_calls == [click]
    assert (rollout.success, rollout.env_reward, rollout.task) == (
        True,
        1.0,
        "pixelpilot/miniwob-click-button-v0",
    )
    assert TaskSuccessReward().score(rollout).score == 1.0
