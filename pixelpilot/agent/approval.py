"""Approval of risky actions: a hook asked before every GUI action, which may allow it, deny it or stop.

An agent automating a real account can submit a payment form or type a password into the wrong page.
``Agent(approve=...)`` is called with each action before the environment sees it, with the screenshot
the model acted on, the page URL and, on web pages, the element the action would reach (the one under
the pointer, or the focused one for typing). A denied action never reaches the screen: the model is
told why in its ``<tool_response>``, the reason is kept in the trajectory and shown in the report; a stop
ends the episode (``end_reason == "stopped"``).

Built in: ``ask_on_terminal`` (``pixelpilot run --confirm``), ``deny_password_typing`` and
``deny_click_text(patterns)`` (``--deny-text pay --deny-text delete``); ``all_of`` chains them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image

from pixelpilot.envs.core.actions import ComputerAction, MobileAction

Verdict = Literal["allow", "deny", "stop"]
POINTER_ACTIONS = frozenset({"left_click", "right_click", "middle_click", "double_click", "triple_click", "click"})
TYPING_ACTIONS = frozenset({"type", "key"})


@dataclass(frozen=True)
class Target:
    """The page element an action would reach: its tag, visible text and (for inputs) type."""

    tag: str
    text: str = ""
    input_type: str | None = None


@dataclass(frozen=True)
class ActionRequest:
    action: ComputerAction | MobileAction
    screenshot: Image.Image | None
    url: str | None = None
    target: Target | None = None


@dataclass(frozen=True)
class Decision:
    verdict: Verdict = "allow"
    reason: str = ""


ALLOW = Decision()
Approver = Callable[[ActionRequest], Decision]


def deny(reason: str) -> Decision:
    return Decision("deny", reason)


def stop(reason: str) -> Decision:
    return Decision("stop", reason)


def all_of(*approvers: Approver) -> Approver:
    """The first approver that does not allow decides; all allowing allows."""

    def decide(request: ActionRequest) -> Decision:
        for approver in approvers:
            decision = approver(request)
            if decision.verdict != "allow":
                return decision
        return ALLOW

    return decide


def deny_password_typing(request: ActionRequest) -> Decision:
    """No typing into a password field: credentials are the user's to enter."""
    target = request.target
    if request.action.action in TYPING_ACTIONS and target is not None and target.input_type == "password":
        return deny("typing into a password field is not allowed; ask the user to enter it")
    return ALLOW


def deny_click_text(patterns: Sequence[str]) -> Approver:
    """No clicks on elements whose text matches any pattern (case-insensitive regexes: ``pay``, ``delete``)."""
    compiled = [re.compile(pattern, re.IGNORECASE) for pattern in patterns]

    def decide(request: ActionRequest) -> Decision:
        target = request.target
        if request.action.action not in POINTER_ACTIONS or target is None:
            return ALLOW
        for pattern in compiled:
            if pattern.search(target.text):
                label = target.text.strip()[:60]
                return deny(f"clicking {label!r} needs the user's approval (matches {pattern.pattern!r})")
        return ALLOW

    return decide


def ask_on_terminal(ask: Callable[[str], str] = input, show: Callable[[str], Any] = print) -> Approver:
    """Ask a person before every action: ``y`` allows, ``n`` denies (with an optional reason), ``q`` stops."""

    def decide(request: ActionRequest) -> Decision:
        arguments = request.action.model_dump(exclude_none=True)
        where = f" on {request.url}" if request.url else ""
        target = f" -> <{request.target.tag}> {request.target.text.strip()[:60]!r}" if request.target else ""
        show(f"the agent wants to {arguments}{where}{target}")
        answer = ask("allow? [y]es / [n]o / [q]uit: ").strip().lower()
        if answer in ("", "y", "yes"):
            return ALLOW
        if answer in ("q", "quit"):
            return stop("the user stopped the run")
        reason = ask("why (told to the agent)? ").strip()
        return deny(reason or "the user refused this action")

    return decide


def request_for(env: Any, action: ComputerAction | MobileAction, screenshot: Image.Image | None) -> ActionRequest:
    """What the approver sees: the environment describes the target when it can (web pages can)."""
    inner = getattr(env, "unwrapped", env)
    describe = getattr(inner, "describe_target", None)
    found = describe(action) if callable(describe) else None
    target = Target(**found) if isinstance(found, dict) else None
    url = getattr(inner, "url", None)
    return ActionRequest(action, screenshot, url if isinstance(url, str) else None, target)
