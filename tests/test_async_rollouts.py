"""Async rollouts: the per-episode driver, environments on threads, and rollouts played one step off-policy.

Slowness is made by holding outcomes back (an environment pool that delivers a slow episode's outcome
only when nothing else can be delivered, or a step that waits for an event the model sets), never by
sleeping: every assertion is on what happened in which order, none on how long it took.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import pytest
import torch
from safetensors.torch import load_file
from support import rl_config

import pixelpilot  # noqa: F401  (registers the environment ids)
from pixelpilot.agent import Agent, Episode
from pixelpilot.envs.synthetic import ClickButtonEnv
from pixelpilot.model import SamplingParams
from pixelpilot.model.base import ChatModel, Conversation, Generation
from pixelpilot.model.hf import HFModel
from pixelpilot.rl.checkpoint import MODEL_DIR, latest_checkpoint
from pixelpilot.rl.config import RLConfig
from pixelpilot.rl.metrics import read_metrics
from pixelpilot.rl.rollout import EnvPool, EpisodeRecord, Query, collect_rollouts
from pixelpilot.rl.thread_envs import ThreadEnvs
from pixelpilot.rl.trainer import RLTrainer

CLICK = "pixelpilot/synthetic-click-button-v0"
SLOW = "test/slow-click-button-v0"
GATED = "test/gated-click-button-v0"
SLOW_PREFIX = "Slowly: "
ROLE = "You are a GUI agent."
SAMPLING = SamplingParams(temperature=1.0, top_p=1.0, top_k=0, presence_penalty=0.0, max_new_tokens=12)


def call(action: str, **arguments: Any) -> str:
    payload = json.dumps({"name": "computer_use", "arguments": {"action": action, **arguments}})
    return f"<tool_call>\n{payload}\n</tool_call>"


def instruction(conversation: Conversation) -> str:
    first_user = next(m for m in conversation if m["role"] == "user")
    return " ".join(part["text"] for part in first_user["content"] if part["type"] == "text")


class MovingModel(ChatModel):
    """Moves the pointer ``moves`` times (default: by the instruction's length), then clicks the middle.

    It ignores the seed: whatever the batching, an episode's turns are the same, so two drivers can be
    compared turn for turn. It logs each call's batch, ``S`` for an episode of a slow environment, ``F`` else.
    """

    name = "moving"

    def __init__(self, moves: int | None = None) -> None:
        self.moves = moves
        self.calls: list[str] = []
        self.clicked: list[str] = []
        """The instruction of every episode that clicked, in order."""

    def generate(self, conversations: list[Conversation], sampling: SamplingParams | None = None) -> list[Generation]:
        self.calls.append("".join("S" if SLOW_PREFIX in instruction(c) else "F" for c in conversations))
        return [self._answer(conversation) for conversation in conversations]

    def _answer(self, conversation: Conversation) -> Generation:
        turn = sum(message["role"] == "assistant" for message in conversation)
        text_of_task = instruction(conversation)
        moves = self.moves if self.moves is not None else len(text_of_task) % 3
        if turn < moves:
            text = call("mouse_move", coordinate=[100 * (turn + 1), 200])
        else:
            text = call("left_click", coordinate=[500, 500])
            self.clicked.append(text_of_task)
            self.after_click()
        ids = [ord(c) % 1000 for c in text]
        return Generation(text=text, token_ids=ids, logprobs=[-0.5] * len(ids), prompt_token_ids=[1, 2, turn])

    def after_click(self) -> None:
        """A hook for tests that react to an episode's last turn."""


class HeldBack(EnvPool):
    """An ``EnvPool`` whose slow environments are slower than everything else: their outcomes are delivered
    only by a ``recv`` that waits and has nothing else to deliver. It logs each delivery."""

    def __init__(self) -> None:
        super().__init__()
        self.delivered: list[str] = []

    @staticmethod
    def slow(episode: Episode) -> bool:
        return episode.env.spec.id == SLOW

    def recv(self, timeout: float | None = None) -> list[tuple[Episode, Any]]:
        arrived, self._arrived = self._arrived, []
        fast = [pair for pair in arrived if not self.slow(pair[0])]
        held = [pair for pair in arrived if self.slow(pair[0])]
        if fast or timeout is not None:
            out, self._arrived = fast, held
        else:
            out = held
        if not out and timeout is None:
            raise RuntimeError("recv without a send before it")
        self.delivered += ["S" if self.slow(episode) else "F" for episode, _ in out]
        return out


class SlowlyNamed(gym.Wrapper):
    """A click task whose instruction says it is slow, so that the model can tell its episodes apart."""

    def reset(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        return {**observation, "instruction": SLOW_PREFIX + observation["instruction"]}, info

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        observation, *rest = self.env.step(action)
        return {**observation, "instruction": SLOW_PREFIX + observation["instruction"]}, *rest


class Gated(SlowlyNamed):
    """Each step waits until the gate opens (at most ``GATE_LIMIT_S``, so that a failing test ends)."""

    gate = threading.Event()
    opened_in_time: ClassVar[list[bool]] = []

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        self.opened_in_time.append(self.gate.wait(GATE_LIMIT_S))
        return super().step(action)


class ThreadNoting(gym.Wrapper):
    """Notes the thread of every call made on it, from its making to its closing."""

    threads: ClassVar[list[tuple[str, int]]] = []

    def __init__(self, env: gym.Env) -> None:
        self.threads.append(("make", threading.get_ident()))
        super().__init__(env)

    def reset(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        self.threads.append(("reset", threading.get_ident()))
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        self.threads.append(("step", threading.get_ident()))
        return self.env.step(action)

    def close(self) -> None:
        self.threads.append(("close", threading.get_ident()))
        super().close()


GATE_LIMIT_S = 60.0
NOTING = "test/thread-noting-click-button-v0"
gym.register(NOTING, entry_point=lambda **kwargs: ThreadNoting(ClickButtonEnv(**kwargs)))
gym.register(SLOW, entry_point=lambda **kwargs: SlowlyNamed(ClickButtonEnv(**kwargs)))
gym.register(GATED, entry_point=lambda **kwargs: Gated(ClickButtonEnv(**kwargs)))


def queries(slow: str = SLOW) -> list[Query]:
    """Two fast click tasks and a slow one between them."""
    return [Query(env_id=CLICK, seed=1), Query(env_id=slow, seed=2), Query(env_id=CLICK, seed=3)]


def played(records: list[EpisodeRecord]) -> list[tuple]:
    """What an episode did: its place, its tokens, its actions and how it ended."""
    return [
        (
            r.group,
            r.sample,
            [t.token_ids for t in r.turns],
            [s.calls[0].call for s in r.trajectory.steps],
            r.success,
        )
        for r in records
    ]


# -- the per-episode driver -------------------------------------------------------------------------


def test_async_plays_the_episodes_sync_plays_and_batches_alike_on_an_env_pool() -> None:
    """A local pool's steps are done when sent: every episode ready at once, the same calls as turn by turn."""
    results = {}
    for mode in ("sync", "async"):
        model = MovingModel()
        agent = Agent(model, max_steps=4, role_prompt=ROLE)
        with EnvPool() as envs:
            records = collect_rollouts(agent, queries(), 2, envs, sampling_seed=5, mode=mode, policy_version=7)
        results[mode] = (played(records), model.calls)
        assert all(t.policy_version == 7 for r in records for t in r.turns)
        assert all(len(r.turns) == len(r.trajectory.steps) == r.trajectory.steps[-1].index + 1 for r in records)
    assert results["async"] == results["sync"]
    assert len({len(turns) for _, _, turns, _, _ in results["sync"][0]}) > 1, "the episodes should differ in length"


def test_a_slow_environment_holds_up_only_its_own_episodes() -> None:
    """Sync waits for the slow step every turn; async plays the fast episodes to the end meanwhile."""
    logs = {}
    for mode in ("sync", "async"):
        model = MovingModel(moves=2)
        envs = HeldBack()
        agent = Agent(model, max_steps=4, role_prompt=ROLE)
        records = collect_rollouts(agent, queries(), 1, envs, sampling_seed=0, mode=mode)
        assert [len(r.turns) for r in records] == [3, 3, 3]
        assert all(r.trajectory.steps[-1].terminated for r in records)
        logs[mode] = (model.calls, "".join(envs.delivered))
        # Each turn records the size of the call that sampled it (the trainer's ``generate_batch_mean``).
        sizes = {"sync": [3] * 9, "async": [2, 2, 2, 1, 1, 1, 2, 2, 2]}[mode]
        assert [t.batch_size for r in records for t in r.turns] == sizes
    # Sync waits for the slow reset, then for the slow step at every turn.
    assert logs["sync"] == (["FSF", "FSF", "FSF"], "FFS" * 4)
    # The fast episodes are played to the end before the slow one's reset even comes back.
    assert logs["async"] == (["FF", "FF", "FF", "S", "S", "S"], "FF" + "FFFFFF" + "S" + "SSS")


def test_thread_envs_let_fast_episodes_finish_while_a_step_waits() -> None:
    """Real concurrency: the slow step blocks its thread until the model has clicked in every fast episode."""
    gated = queries(GATED)
    model = MovingModel(moves=2)
    fast = len(gated) - 1

    def open_gate() -> None:
        if sum(SLOW_PREFIX not in text for text in model.clicked) == fast:
            Gated.gate.set()

    model.after_click = open_gate
    Gated.gate.clear()
    Gated.opened_in_time.clear()
    agent = Agent(model, max_steps=4, role_prompt=ROLE)
    with ThreadEnvs() as envs:
        records = collect_rollouts(agent, gated, 1, envs, sampling_seed=0, mode="async")
    assert [len(r.turns) for r in records] == [3, 3, 3]
    assert all(r.trajectory.steps[-1].terminated for r in records)
    assert Gated.opened_in_time == [True, True, True], "the fast episodes waited for the slow step"


def test_an_environment_lives_on_one_thread_of_its_own() -> None:
    """A browser driven through Playwright's sync API must be made, stepped and closed on one thread."""
    ThreadNoting.threads.clear()
    agent = Agent(MovingModel(moves=1), max_steps=3, role_prompt=ROLE)
    with ThreadEnvs() as envs:
        for _ in range(2):  # the second rollout reuses the idle environment
            collect_rollouts(agent, [Query(env_id=NOTING, seed=4)], 1, envs, mode="async")
    calls = [name for name, _ in ThreadNoting.threads]
    assert calls == ["make", "reset", "step", "step", "reset", "step", "step", "close"]
    threads = {thread for _, thread in ThreadNoting.threads}
    assert len(threads) == 1 and threading.get_ident() not in threads


@pytest.fixture(scope="module")
def tiny_model(tiny_checkpoint: Path) -> Iterator[HFModel]:
    backend = HFModel(str(tiny_checkpoint))
    yield backend
    backend.close()


def test_async_sampling_is_seeded_by_who_is_in_the_call(tiny_model: HFModel) -> None:
    agent = Agent(tiny_model, max_steps=2, max_failures=2, role_prompt=ROLE, sampling=SAMPLING)

    def tokens(**kwargs: Any) -> list[list[list[int]]]:
        with EnvPool() as envs:
            return [[t.token_ids for t in r.turns] for r in collect_rollouts(agent, queries(), 2, envs, **kwargs)]

    first = tokens(sampling_seed=3, mode="async")
    assert tokens(sampling_seed=3, mode="async") == first
    assert tokens(sampling_seed=4, mode="async") != first
    assert tokens(query_seeds=[1, 2, 3], mode="async") == tokens(query_seeds=[1, 2, 3], mode="async")


# -- the trainer ------------------------------------------------------------------------------------


def run_config(tiny_checkpoint: Path, out: Path, **rollout: Any) -> RLConfig:
    """Four steps; weight decay moves the weights every step even when no group has an advantage."""
    data = rl_config(tiny_checkpoint, out, steps=4, filter=None)
    data["rollout"].update(rollout)
    data["optim"] = {**data["optim"], "lr": 0.05, "weight_decay": 0.5}
    data["checkpoint"] = {"every": 2, "keep": 3}
    data["logging"] = {"progress": False, "plot": False}
    return RLConfig.model_validate(data)


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    checkpoint = latest_checkpoint(out)
    assert checkpoint is not None and checkpoint.name.endswith("4")
    return load_file(checkpoint / MODEL_DIR / "model.safetensors")


def test_one_step_off_policy_tags_versions_and_corrects_the_lag(tiny_checkpoint: Path, tmp_path: Path) -> None:
    off = {"off_policy_steps": 1, "mode": "async", "envs": {"backend": "threads"}}
    trainer = RLTrainer(run_config(tiny_checkpoint, tmp_path / "off", **off))
    assert trainer.engine is not trainer.hf and trainer.recompute_old and trainer.tis
    trainer.run()
    records = read_metrics(tmp_path / "off" / "metrics.jsonl")
    # Step 1 has nothing to overlap; step 3 follows a checkpoint and is played on-policy (a resume would be too).
    assert [r["policy_lag"] for r in records] == [0, 1, 0, 1]
    assert [r["policy_lag_max"] for r in records] == [0, 1, 0, 1]
    for record in records:
        assert record["episodes"] == 6 and record["ratio_mean"] == pytest.approx(1.0, abs=1e-5)
        # TIS weighs each token by trainer / sampler probability: 1 on the weights that sampled, not after a step.
        lagged = record["policy_lag"] > 0
        assert (abs(record["tis_weight"] - 1.0) > 1e-5) == lagged, record

    on = RLTrainer(run_config(tiny_checkpoint, tmp_path / "on", mode="async"))
    assert on.engine is on.hf and not on.tis
    on.run()
    assert [r["policy_lag"] for r in read_metrics(tmp_path / "on" / "metrics.jsonl")] == [0, 0, 0, 0]


def test_an_off_policy_run_stopped_at_a_checkpoint_resumes_to_the_same_weights(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    RLTrainer(run_config(tiny_checkpoint, tmp_path / "straight", off_policy_steps=1)).run()
    stopped = RLTrainer(run_config(tiny_checkpoint, tmp_path / "stopped", off_policy_steps=1))
    try:
        for step in (1, 2):
            stopped.step = step
            stopped.metrics.log(step, stopped.train_step(step))
        stopped.save()
    finally:
        stopped.close()
    RLTrainer(run_config(tiny_checkpoint, tmp_path / "stopped", off_policy_steps=1)).run()
    straight, resumed = final_weights(tmp_path / "straight"), final_weights(tmp_path / "stopped")
    assert all(torch.equal(straight[name], resumed[name]) for name in straight)
    losses = [r["loss"] for r in read_metrics(tmp_path / "stopped" / "metrics.jsonl")]
    assert losses == [r["loss"] for r in read_metrics(tmp_path / "straight" / "metrics.jsonl")]


def test_a_checkpoint_while_a_rollout_plays_ahead_is_refused(tiny_checkpoint: Path, tmp_path: Path) -> None:
    trainer = RLTrainer(run_config(tiny_checkpoint, tmp_path / "run", off_policy_steps=1))
    try:
        trainer.step = 1
        trainer.train_step(1)
        with pytest.raises(RuntimeError, match="playing ahead"):
            trainer.save()
    finally:
        trainer.close()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"old_logprobs": "rollout"}, "old_logprobs"),
        ({"loss": {"tis_cap": None}}, "tis_cap"),
        ({"filter": {"refill_rounds": 1}}, "refill"),
    ],
)
def test_off_policy_refuses_what_cannot_correct_or_overlap(
    tiny_checkpoint: Path, tmp_path: Path, overrides: dict, message: str
) -> None:
    data = rl_config(tiny_checkpoint, tmp_path, **overrides)
    data["rollout"]["off_policy_steps"] = 1
    with pytest.raises(ValueError, match=message):
        RLConfig.model_validate(data)
