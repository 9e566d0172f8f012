"""One episode as a state machine that does not own the model.

``messages()`` gives the prompt for the next model turn and ``advance(generation)`` consumes the
model's answer: it parses it, runs the calls through the tool registry, records the step and
decides whether the episode is over. Keeping the model outside lets ``Agent.run`` be a small loop
and lets an RL rollout batch the prompts of many episodes into one ``model.generate`` call.

``advance`` steps the environment in place. ``begin``/``resume`` split a turn around its
environment steps instead: ``begin`` returns the action the environment must take and ``resume``
takes the step's outcome, so a rollout can step many remote environments (a Ray pool) at once and
feed each episode its outcome when it arrives. Both paths run the same code.

Everything a model can get wrong comes back to it as an error in a ``<tool_response>``; the
episode ends on the model's own terminate/answer, on the environment's termination or
truncation, or when a budget runs out (steps, repeated identical failures, failures in all).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Sequence
from time import perf_counter
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image

from pixelpilot.agent.approval import Approver, request_for
from pixelpilot.agent.parser import ParsedResponse, parse_response
from pixelpilot.agent.prompt import History, HistoryLayout, ImagePart, ToolResponse, progress_entry, system_text
from pixelpilot.agent.trajectory import CallRecord, EndReason, Landing, Step, Trajectory
from pixelpilot.envs.core.actions import ACTION_TYPES, Action, ComputerAction, MobileAction
from pixelpilot.envs.core.toolcall import ToolCall
from pixelpilot.errors import EnvError
from pixelpilot.model.base import Conversation, Generation
from pixelpilot.tools import GUITool, Tool, ToolContext, ToolRegistry, ToolResult, gui_tool_for
from pixelpilot.tools.base import PromptStyle
from pixelpilot.tools.gui import StepOutcome

FORMAT_HINT = 'Write each call as <tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
_POINTER_ACTIONS = frozenset(
    name for model in ACTION_TYPES.values() for name, needs in model.required.items() if "coordinate" in needs
)
"""Actions that land somewhere on the screen: exactly those that need a coordinate."""


class Callback:
    """Receives an episode as it happens (a live view, a report being written, a logger, a metrics sink).

    Subclasses override what they need, as with transformers' ``TrainerCallback``: the trajectory
    passed to ``on_start`` is the one the episode fills in, so a callback can keep it.
    """

    def on_start(self, trajectory: Trajectory) -> None:
        """The episode started: the instruction and the first screenshot are known, no step yet."""

    def on_step(self, step: Step) -> None:
        """A step is over (the model's turn and every call it made)."""

    def on_end(self, trajectory: Trajectory) -> None:
        """The episode ended; the trajectory is final."""


def _screenshot(observation: Any) -> Image.Image:
    if not isinstance(observation, dict) or "screenshot" not in observation:
        raise EnvError("the environment's observation has no 'screenshot'")
    return Image.fromarray(np.asarray(observation["screenshot"], dtype=np.uint8))


def _env_id(env: gym.Env) -> str:
    spec = getattr(env, "spec", None)
    return spec.id if spec is not None else type(env.unwrapped).__name__


def _signature(parsed: ParsedResponse) -> str:
    """What makes two failing turns 'the same action': their calls, or their text when no call parses."""
    if not parsed.blocks:
        return parsed.raw.strip()
    items = [b.call.model_dump() if b.call is not None else b.raw for b in parsed.blocks]
    return json.dumps(items, sort_keys=True, default=str)


class Episode:
    """An environment, its tools and the conversation so far.

    ``prompt_style``, ``role_prompt`` and ``history_layout`` shape the prompt (see ``pixelpilot.agent.prompt``);
    the ``cookbook`` layout shows no tool responses, so it takes no tools beside the GUI tool.
    """

    def __init__(
        self,
        env: gym.Env,
        tools: Iterable[Tool] = (),
        *,
        history_images: int = 3,
        max_steps: int = 15,
        max_failures: int = 5,
        max_repeats: int = 3,
        role_prompt: str | None = None,
        prompt_style: PromptStyle = "qwen",
        history_layout: HistoryLayout = "chat",
        callbacks: Sequence[Callback] = (),
        model_name: str | None = None,
        approve: Approver | None = None,
    ) -> None:
        if min(max_steps, max_failures, max_repeats) < 1:
            raise ValueError("max_steps, max_failures and max_repeats must be >= 1")
        tools = tuple(tools)
        if history_layout == "cookbook" and tools:
            raise ValueError("the cookbook layout shows no tool responses: it takes no tools beside the GUI tool")
        self.env = env
        self._gui = gui_tool_for(env)
        self.registry = ToolRegistry([self._gui, *tools])
        self.history_images = history_images
        self.max_steps = max_steps
        self.max_failures = max_failures
        self.max_repeats = max_repeats
        self.role_prompt = role_prompt
        self.prompt_style: PromptStyle = prompt_style
        self.history_layout: HistoryLayout = history_layout
        self.callbacks = tuple(callbacks)
        self.model_name = model_name
        self.approve = approve
        self.history: History | None = None
        self.trajectory = Trajectory()
        self._clear()

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Reset the environment and start a new conversation from its first screenshot."""
        observation, info = self.env.reset(seed=seed, options=options)
        self.start(observation, info, seed=seed)

    def start(self, observation: Any, info: dict[str, Any], seed: int | None = None) -> None:
        """Start a new conversation from a reset the caller made (a remote environment's, for instance)."""
        screenshot = _screenshot(observation)
        instruction = str(observation.get("instruction") or info.get("instruction") or "")
        system = system_text(self.registry, self.role_prompt, self.prompt_style)
        self.history = History(system, self.history_images, self.history_layout)
        self.history.add_user(instruction, (ImagePart(screenshot),))
        self.trajectory = Trajectory(
            instruction=instruction,
            env_id=_env_id(self.env),
            model=self.model_name,
            seed=seed,
            final_screenshot=screenshot,
        )
        self._clear()
        for callback in self.callbacks:
            callback.on_start(self.trajectory)

    def _clear(self) -> None:
        self.done = False
        self._failures = 0
        self._repeats = 0
        self._last_failure: str | None = None
        self._cursor: tuple[int, int] | None = None
        self._terminated = False
        self._success: bool | None = None
        self._final_action: ComputerAction | MobileAction | None = None
        self._stopped: str | None = None
        self._turn: Generator[Action, StepOutcome | ToolResult, None] | None = None

    def messages(self) -> Conversation:
        """The prompt for the next model turn."""
        return self._history().messages()

    @property
    def stepping(self) -> bool:
        """True between ``begin`` and the end of the turn: an action waits for its environment step."""
        return self._turn is not None

    def advance(self, generation: Generation, model_seconds: float | None = None) -> bool:
        """Consume one model turn, stepping the environment in place; True when the episode is over."""
        action = self.begin(generation, model_seconds)
        while action is not None:
            action = self.resume(self.step_env(action))
        return self.done

    def step_env(self, action: Action) -> StepOutcome | ToolResult:
        """Step this episode's own environment: its five values, or the GUI tool's error result if it raised."""
        return self.registry.attempt(self._gui.name, self.env.step, action)

    def begin(self, generation: Generation, model_seconds: float | None = None) -> Action | None:
        """Start consuming a model turn: the first action its environment must take, or None when the turn
        is over without one. Each action's outcome goes back through ``resume``."""
        self._history()
        if self.done:
            raise RuntimeError("the episode is over; call reset() to start another")
        if self._turn is not None:
            raise RuntimeError("the previous turn still waits for an environment step; call resume()")
        self._turn = self._play(generation, model_seconds)
        return self._continue(None)

    def resume(self, outcome: StepOutcome | ToolResult) -> Action | None:
        """Hand back the environment's step for the pending action (its five values, or the error result
        of a step that failed): the next action of the turn, or None when the turn is over."""
        if self._turn is None:
            raise RuntimeError("no action is waiting for an environment step")
        return self._continue(outcome)

    def _continue(self, outcome: StepOutcome | ToolResult | None) -> Action | None:
        assert self._turn is not None
        try:
            return self._turn.send(outcome)
        except StopIteration:
            self._turn = None
            return None

    def _play(
        self, generation: Generation, model_seconds: float | None
    ) -> Generator[Action, StepOutcome | ToolResult, None]:
        history = self._history()
        started = perf_counter()
        parsed = parse_response(generation.text)
        context = ToolContext(images=history.visible_images())
        step = Step(
            index=len(self.trajectory.steps),
            text=parsed.raw,
            thought=parsed.thought,
            content=parsed.text,
            # The stored copy carries the cleaned text so that the step can always be saved as JSON.
            generation=generation.model_copy(update={"text": parsed.raw}),
            screenshot=history.latest_screenshot(),
        )
        history.add_assistant(generation.text, progress_entry(parsed))
        responses = yield from self._dispatch(parsed, step, context)
        history.add_tool_responses(responses)
        step.failed = step.error is not None or any(not c.ok for c in step.calls)
        step.timings = {"step": perf_counter() - started, **step.timings}
        if model_seconds is not None:
            step.timings["model"] = model_seconds
        self.trajectory.steps.append(step)
        self.trajectory.reward += step.reward
        self.trajectory.final_screenshot = history.latest_screenshot()
        reason = self._end_reason(step, parsed)
        if reason is not None:
            step.done = True
        for callback in self.callbacks:
            callback.on_step(step)
        if reason is not None:
            self.stop(reason, self._stopped)

    def stop(self, reason: EndReason, error: str | None = None) -> None:
        """End the episode now (the loop calls this when the model backend fails)."""
        if self.done:
            return
        self.done = True
        self._turn = None
        trajectory = self.trajectory
        trajectory.end_reason = reason
        trajectory.error = error
        if self._success is not None:
            trajectory.success = self._success
        else:
            trajectory.success = self._terminated and trajectory.reward > 0
        self.registry.close()
        for callback in self.callbacks:
            callback.on_end(trajectory)

    def _history(self) -> History:
        if self.history is None:
            raise RuntimeError("call reset() before using the episode")
        return self.history

    def _dispatch(
        self, parsed: ParsedResponse, step: Step, context: ToolContext
    ) -> Generator[Action, StepOutcome | ToolResult, list[ToolResponse]]:
        """Run the turn's calls in order, until one ends the episode; every problem becomes a response."""
        if not parsed.blocks:
            step.error = (
                "your response holds no <tool_call>. Act by calling one of the tools "
                f"({', '.join(self.registry.names)}); end the task with terminate or answer. {FORMAT_HINT}"
            )
            return [ToolResponse(text=f"Error: {step.error}")]
        responses = []
        tools_started = perf_counter()
        for block in parsed.blocks:
            if step.terminated or step.truncated or self._final_action is not None or self._stopped is not None:
                break
            if block.call is None:
                step.calls.append(CallRecord(raw=block.raw, error=block.error))
                responses.append(ToolResponse(text=f"Error: {block.error}. {FORMAT_HINT}"))
                continue
            if block.call.name == self._gui.name:
                result = yield from self._gui_call(block.call)
            else:
                result = self.registry.call(block.call, context)
            responses.append(self._record(block.call, result, step))
        step.timings = {"tools": perf_counter() - tools_started}
        return responses

    def _gui_call(self, call: ToolCall) -> Generator[Action, StepOutcome | ToolResult, ToolResult]:
        """A GUI call whose environment step is made by whoever drives the episode (see ``begin``)."""
        action = self.registry.attempt(call.name, self._gui.action, call.arguments)
        if isinstance(action, ToolResult):
            return action
        refused = self._refused(action)
        if refused is not None:
            return refused
        outcome = yield action
        if isinstance(outcome, ToolResult):
            return outcome
        return self.registry.attempt(call.name, self._gui.result, action, outcome)

    def _refused(self, action: Action) -> ToolResult | None:
        """Ask the approval hook, if any; a refusal never reaches the environment and the model is told why."""
        if self.approve is None or not isinstance(action, (ComputerAction, MobileAction)) or action.is_final:
            return None
        decision = self.approve(request_for(self.env, action, self._history().latest_screenshot()))
        if decision.verdict == "allow":
            return None
        if decision.verdict == "stop":
            self._stopped = decision.reason or "stopped by the approval hook"
            return ToolResult(error=f"action stopped: {self._stopped}", denied=self._stopped)
        reason = decision.reason or "not approved"
        return ToolResult(error=f"action denied: {reason}", denied=reason)

    def _record(self, call: ToolCall, result: ToolResult, step: Step) -> ToolResponse:
        env_step, reward, action = result.step, 0.0, None
        if env_step is not None:
            reward = env_step.reward
            step.terminated |= env_step.terminated
            step.truncated |= env_step.truncated
            if env_step.success is not None:
                self._success = env_step.success
            if result.ok:
                action = env_step.action
        step.reward += reward
        self._terminated |= step.terminated
        landing = self._landing(action)
        if isinstance(action, (ComputerAction, MobileAction)) and action.is_final:
            self._final_action = action
        step.calls.append(
            CallRecord(
                call=call,
                text=result.text,
                error=result.error,
                images=len(result.images),
                reward=reward,
                landing=landing,
                denied=result.denied,
            )
        )
        if not result.ok:
            return ToolResponse(text=f"Error: {result.error}")
        kind = "screenshot" if isinstance(self.registry[call.name], GUITool) else "image"
        return ToolResponse(text=result.text, images=tuple(ImagePart(image, kind) for image in result.images))

    def _landing(self, action: Any) -> Landing | None:
        if not isinstance(action, (ComputerAction, MobileAction)) or action.action not in _POINTER_ACTIONS:
            return None
        if action.coordinate is None:
            return None
        start: tuple[int, int] | None = None
        end = action.coordinate
        if action.action == "left_click_drag":
            start = self._cursor
        elif isinstance(action, MobileAction) and action.action == "swipe" and action.coordinate2 is not None:
            start, end = action.coordinate, action.coordinate2
        self._cursor = end
        return Landing(
            action=action.action,
            x=end[0],
            y=end[1],
            from_x=start[0] if start else None,
            from_y=start[1] if start else None,
        )

    def _end_reason(self, step: Step, parsed: ParsedResponse) -> EndReason | None:
        if self._stopped is not None:
            return "stopped"
        if step.failed:
            signature = _signature(parsed)
            self._repeats = self._repeats + 1 if signature == self._last_failure else 1
            self._last_failure = signature
            self._failures += 1
        else:
            self._repeats, self._last_failure = 0, None
        final = self._final_action
        if final is not None:
            if final.action == "answer":
                self.trajectory.answer = final.text
                return "answer"
            return "terminate"
        if step.terminated:
            return "env_terminated"
        if step.truncated:
            return "env_truncated"
        if self._repeats >= self.max_repeats:
            return "max_repeats"
        if self._failures >= self.max_failures:
            return "max_failures"
        if len(self.trajectory.steps) >= self.max_steps:
            return "max_steps"
        return None
