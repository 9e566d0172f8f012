"""Rollouts on the tiny Qwen3-VL and the synthetic envs: records, loss masks, growing vs per-turn sequences.

Everything here is real: the tiny checkpoint samples through the transformers backend, the
episodes are the agent's own, the environments draw their screens with PIL, and log-probs are
recomputed by a forward pass of the same weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.agent import Agent
from pixelpilot.envs.core.actions import ComputerAction
from pixelpilot.envs.synthetic import ClickButtonEnv, ImageQuestion, ImageQuestionEnv, ZoomReadEnv
from pixelpilot.model import SamplingParams
from pixelpilot.model.base import ChatModel, Conversation, Generation
from pixelpilot.model.hf import HFModel
from pixelpilot.rl.demos import oracle_demonstrations, record_texts
from pixelpilot.rl.evaluation import evaluate
from pixelpilot.rl.policy import TokenLogprobs, collate, scorable
from pixelpilot.rl.rollout import EnvPool, EpisodeRecord, Query, collect_rollouts
from pixelpilot.rl.sequences import (
    NotAppendOnly,
    TrainingSequence,
    end_token_id,
    episode_sequences,
    growing_sequence,
    per_turn_sequences,
)
from pixelpilot.tools import image_zoom_in_tool

CLICK = "pixelpilot/synthetic-click-button-v0"
ZOOM = "pixelpilot/synthetic-zoom-read-v0"
SAMPLING = SamplingParams(temperature=1.0, top_p=1.0, top_k=0, presence_penalty=0.0, max_new_tokens=20)
ROLE = "You are a GUI agent."


@pytest.fixture(scope="module")
def model(tiny_checkpoint: Path) -> Iterator[HFModel]:
    backend = HFModel(str(tiny_checkpoint))
    yield backend
    backend.close()


@pytest.fixture
def envs() -> Iterator[EnvPool]:
    with EnvPool() as pool:
        yield pool


class CountingModel(ChatModel):
    """The real tiny model, counting its generate calls and their batch sizes."""

    def __init__(self, inner: HFModel) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls: list[int] = []

    def generate(self, conversations: list[Conversation], sampling: SamplingParams | None = None) -> list[Generation]:
        self.calls.append(len(conversations))
        return self.inner.generate(conversations, sampling)


def score(model: HFModel, sequences: list[TrainingSequence]) -> torch.Tensor:
    batch = collate(sequences, model.processor.image_processor, model.pad_token_id, model.model.config.image_token_id)
    with torch.no_grad():
        logprobs, _ = TokenLogprobs(model.model)(**batch.model_inputs)
    return logprobs


# -- the synthetic environments -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [(CLICK, {}), (CLICK, {"buttons": 3, "shuffle": True}), (ZOOM, {"size": (256, 256)})],
    ids=["click", "click-shuffled", "zoom"],
)
def test_synthetic_envs_pass_check_env(env_id: str, kwargs: dict) -> None:
    env = gym.make(env_id, **kwargs)
    try:
        check_env(env.unwrapped)
    finally:
        env.close()


def test_click_button_judges_clicks_and_refuses_bad_actions() -> None:
    env = gym.make(CLICK, buttons=4)
    obs, info = env.reset(seed=3)
    unwrapped = env.unwrapped
    assert obs["instruction"] == f"Click the {info['target']} button."
    x1, _, x2, y2 = unwrapped.slot_box(unwrapped.layout.index(info["target"]))
    _, reward, terminated, _, step_info = env.step('<tool_call>\n{"name": "computer_use"}\n</tool_call>')
    assert (reward, terminated) == (0.0, False) and "action_error" in step_info
    _, reward, terminated, _, _ = env.step({"action": "mouse_move", "coordinate": [5, 5]})
    assert (reward, terminated) == (0.0, False)
    _, reward, terminated, _, step_info = env.step({"action": "left_click", "coordinate": [x2 + 5, y2 + 5]})
    assert (reward, terminated, step_info["success"]) == (0.0, True, False)
    env.reset(seed=3)
    _, reward, terminated, _, step_info = env.step({"action": "left_click", "coordinate": [x1 + 1, y2 - 1]})
    assert (reward, terminated, step_info["success"]) == (1.0, True, True)
    env.close()


def test_shuffled_layout_depends_on_the_seed_and_fixed_does_not() -> None:
    fixed, shuffled = ClickButtonEnv(buttons=4), ClickButtonEnv(buttons=4, shuffle=True)
    layouts = {"fixed": set(), "shuffled": set()}
    for seed in range(8):
        fixed.reset(seed=seed)
        shuffled.reset(seed=seed)
        layouts["fixed"].add(tuple(fixed.layout))
        layouts["shuffled"].add(tuple(shuffled.layout))
    assert len(layouts["fixed"]) == 1 and len(layouts["shuffled"]) > 1


def test_synthetic_envs_run_in_async_vector_env() -> None:
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(CLICK)] * 2)
    try:
        obs, _ = envs.reset(seed=[0, 1])
        assert obs["screenshot"].shape == (2, 128, 128, 3)
        _, rewards, terminated, _, _ = envs.step([{"action": "left_click", "coordinate": [0, 0]}] * 2)
        assert terminated.tolist() == [True, True] and rewards.tolist() == [0.0, 0.0]
    finally:
        envs.close()


def test_oracles_solve_the_synthetic_tasks_through_the_agent(model: HFModel, envs: EnvPool) -> None:
    agent = Agent(model, max_steps=3, tools=[image_zoom_in_tool], role_prompt=ROLE)
    queries = [Query(env_id=CLICK, seed=s, env_kwargs={"shuffle": True}) for s in range(3)]
    queries += [Query(env_id=ZOOM, seed=s, env_kwargs={"size": (256, 256)}) for s in range(3)]
    records = oracle_demonstrations(queries, agent.episode, model.processor, envs)
    assert [r.success for r in records] == [True] * 6
    zoom = records[-1]
    assert [c.call.name for s in zoom.trajectory.steps for c in s.calls] == [
        "image_zoom_in_tool",
        "computer_use",
    ]
    assert zoom.trajectory.answer == zoom.trajectory.steps[-1].calls[0].call.arguments["text"]


def test_image_question_query_builds_its_env(tmp_path) -> None:
    env = ZoomReadEnv(size=(128, 128))
    env.reset(seed=1)
    path = tmp_path / "picture.png"
    env.question.image.save(path)
    query = Query(image=str(path), question="What word?", answer=env.question.answer, region=env.question.region)
    made = query.make_env()
    obs, _ = made.reset(seed=0)
    assert obs["instruction"] == "What word?" and obs["screenshot"].shape == (128, 128, 3)
    _, reward, terminated, _, info = made.step({"action": "answer", "text": f" {env.question.answer.upper()}."})
    assert (reward, terminated, info["success"]) == (1.0, True, True)
    with pytest.raises(ValueError, match="either an env_id"):
        Query(env_id=CLICK, image=str(path), question="q", answer="a")
    assert isinstance(made, ImageQuestionEnv) and isinstance(made.question, ImageQuestion)


# -- rollouts ---------------------------------------------------------------------------------------


def test_rollouts_batch_every_live_episode_into_one_generate_per_turn(model: HFModel, envs: EnvPool) -> None:
    counting = CountingModel(model)
    agent = Agent(counting, max_steps=2, max_failures=2, role_prompt=ROLE, sampling=SAMPLING)
    queries = [Query(env_id=CLICK, seed=1), Query(env_id=CLICK, seed=2)]
    records = collect_rollouts(agent, queries, 3, envs, sampling_seed=7)
    assert len(records) == 6
    assert [r.group for r in records] == [queries[0].key] * 3 + [queries[1].key] * 3
    assert [r.sample for r in records] == [0, 1, 2, 0, 1, 2]
    # Turn 1 has all six episodes live; every later call carries whichever are still going.
    assert counting.calls[0] == 6 and len(counting.calls) == max(len(r.turns) for r in records)
    for record in records:
        assert len(record.turns) == len(record.trajectory.steps) >= 1
        for turn, step in zip(record.turns, record.trajectory.steps, strict=True):
            assert turn.token_ids == step.generation.token_ids
            assert turn.prompt_ids == step.generation.prompt_token_ids
            assert len(turn.logprobs) == len(turn.token_ids)
            assert len(turn.images) == sum(ids == model.model.config.vision_start_token_id for ids in turn.prompt_ids)


def test_same_seed_same_rollouts_and_query_seeds_ignore_batch_company(model: HFModel, envs: EnvPool) -> None:
    agent = Agent(model, max_steps=1, role_prompt=ROLE, sampling=SAMPLING)
    a, b = Query(env_id=CLICK, seed=1), Query(env_id=CLICK, seed=2)

    def tokens(records: list[EpisodeRecord]) -> list[list[int]]:
        return [r.turns[0].token_ids for r in records]

    first = collect_rollouts(agent, [a, b], 2, envs, sampling_seed=3)
    again = collect_rollouts(agent, [a, b], 2, envs, sampling_seed=3)
    assert tokens(first) == tokens(again)
    together = collect_rollouts(agent, [a, b], 2, envs, query_seeds=[11, 12])
    alone = collect_rollouts(agent, [b], 2, envs, query_seeds=[12])
    assert tokens(together)[2:] == tokens(alone)


def test_per_turn_sequences_mask_only_sampled_tokens_and_reproduce_their_logprobs(
    model: HFModel, envs: EnvPool
) -> None:
    agent = Agent(model, max_steps=2, max_failures=2, role_prompt=ROLE, sampling=SAMPLING)
    records = collect_rollouts(agent, [Query(env_id=CLICK, seed=4)], 3, envs, sampling_seed=5)
    placeholders = [model.model.config.image_token_id, model.model.config.video_token_id]
    sequences = [s for i, r in enumerate(records) for s in per_turn_sequences(r, i) if scorable(s, placeholders)]
    turns = [t for r in records for t in r.turns]
    assert len(sequences) >= 2
    for sequence in sequences:
        turn = next(t for t in turns if t.prompt_ids + t.token_ids == sequence.input_ids)
        assert sequence.loss_mask == [0] * len(turn.prompt_ids) + [1] * len(turn.token_ids)
        generated = [t for t, m in zip(sequence.input_ids, sequence.loss_mask, strict=True) if m]
        assert generated == turn.token_ids  # the sampled ids themselves, not re-tokenized text
    logprobs = score(model, sequences)
    batch_mask = torch.zeros_like(logprobs, dtype=torch.bool)
    sampled = torch.zeros_like(logprobs)
    for row, sequence in enumerate(sequences):
        batch_mask[row, : len(sequence.loss_mask)] = torch.tensor(sequence.loss_mask, dtype=torch.bool)
        sampled[row, : len(sequence.logprobs)] = torch.tensor(sequence.logprobs)
    assert torch.allclose(logprobs[batch_mask], sampled[batch_mask], atol=1e-4)
    assert (logprobs[~batch_mask] == 0).all()


def test_zoom_episode_grows_one_sequence_with_the_turns_masked(model: HFModel, envs: EnvPool) -> None:
    agent = Agent(model, max_steps=3, tools=[image_zoom_in_tool], role_prompt=ROLE)
    (record,) = oracle_demonstrations(
        [Query(env_id=ZOOM, seed=5, env_kwargs={"size": (256, 256)})], agent.episode, model.processor, envs
    )
    end = end_token_id(model.tokenizer)
    first, second = record.turns
    grown = growing_sequence(record, end)
    assert episode_sequences(record, "auto", end) == [grown]
    assert grown.input_ids == second.prompt_ids + second.token_ids
    assert second.prompt_ids[: len(first.prompt_ids) + len(first.token_ids)] == first.prompt_ids + first.token_ids
    spans = [(len(first.prompt_ids), len(first.token_ids)), (len(second.prompt_ids), len(second.token_ids))]
    expected = [0] * len(grown.input_ids)
    for start, count in spans:
        expected[start : start + count] = [1] * count
    assert grown.loss_mask == expected and grown.turns == 2
    assert len(grown.images) == 2  # the screenshot and the zoomed crop
    assert model.tokenizer.decode([t for t, m in zip(grown.input_ids, grown.loss_mask, strict=True) if m]) == (
        record.trajectory.steps[0].text + "<|im_end|>" + record.trajectory.steps[1].text + "<|im_end|>"
    )
    per_turn = per_turn_sequences(record)
    assert len(per_turn) == 2
    # One forward pass over the grown sequence scores each turn exactly as its own prompt would.
    grown_scores, turn_scores = score(model, [grown]), score(model, per_turn)
    first_span = grown_scores[0, spans[0][0] : spans[0][0] + spans[0][1]]
    second_span = grown_scores[0, spans[1][0] : spans[1][0] + spans[1][1]]
    assert torch.allclose(first_span, turn_scores[0, spans[0][0] : spans[0][0] + spans[0][1]], atol=1e-4)
    assert torch.allclose(second_span, turn_scores[1, spans[1][0] : spans[1][0] + spans[1][1]], atol=1e-4)


def test_trimmed_history_gives_one_sequence_per_turn(model: HFModel, envs: EnvPool) -> None:
    agent = Agent(model, max_steps=3, history_images=1, role_prompt=ROLE)
    query = Query(env_id=CLICK, seed=0)
    move = ComputerAction(action="mouse_move", coordinate=(10, 10)).to_tool_call().to_text()
    (env,) = envs.acquire([query])
    try:
        env.reset(seed=query.seed)
        click = next(env.unwrapped.oracle())  # the oracle's answer for this seed's target
        record = record_texts(query, env, agent.episode, model.processor, [move, click], "trim")
    finally:
        envs.release(query, env)
    assert record.success and len(record.turns) == 2
    end = end_token_id(model.tokenizer)
    with pytest.raises(NotAppendOnly):
        growing_sequence(record, end)
    sequences = episode_sequences(record, "auto", end)
    assert [s.input_ids for s in sequences] == [t.prompt_ids + t.token_ids for t in record.turns]
    with pytest.raises(NotAppendOnly):
        episode_sequences(record, "growing", end)


def test_evaluate_plays_long_query_lists_a_batch_at_a_time(model: HFModel, envs: EnvPool) -> None:
    agent = Agent(model, max_steps=1, role_prompt=ROLE, sampling=SAMPLING)
    queries = [Query(env_id=CLICK, seed=s, family="click") for s in range(5)]
    result = evaluate(agent, queries, envs, batch_size=2)
    assert result.episodes == 5 and result.per_family.keys() == {"click"}
    # Two environments served all five episodes.
    assert sum(len(idle) for idle in envs._idle.values()) == 2
    again = evaluate(agent, queries, envs, batch_size=2)
    timeless = {"results": {"__all__": {"seconds"}}}
    assert again.model_dump(exclude=timeless) == result.model_dump(exclude=timeless)
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(agent, queries, envs, batch_size=0)


def test_env_pool_keeps_at_most_max_idle_environments_least_recent_closing_first() -> None:
    pool = EnvPool(max_idle=2)
    queries = [Query(env_id=CLICK, seed=0, env_kwargs={"buttons": n}) for n in (2, 3, 4)]
    envs = [env for query in queries for env in pool.acquire([query])]
    for query, env in zip(queries, envs, strict=True):
        pool.release(query, env)
    idle = [env for kept in pool._idle.values() for env in kept]
    assert idle == envs[1:]  # the first released closed when the third came back
    (again,) = pool.acquire([queries[2]])
    assert again is envs[2]  # a kept environment is reused
    pool.release(queries[2], again)
    pool.close()
    with pytest.raises(ValueError, match="max_idle"):
        EnvPool(max_idle=-1)


def test_random_clicks_speak_the_tool_the_system_turn_offers() -> None:
    from pixelpilot.agent.prompt import gui_system_texts
    from pixelpilot.model import load_model

    computer, mobile = gui_system_texts()
    model = load_model("random")
    conversations = [[{"role": "system", "content": [{"type": "text", "text": text}]}] for text in (computer, mobile)]
    first, second = (g.text for g in model.generate(conversations))
    assert '"name": "computer_use"' in first and '"left_click"' in first
    assert '"name": "mobile_use"' in second and '"click"' in second and "computer_use" not in second
