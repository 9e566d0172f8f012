"""The error types of pixelpilot.

Every failure a model can cause (bad text, a bad call, an action the environment refuses) is a
``PixelpilotError``; the agent turns exactly these into error observations the model can read,
and lets everything else propagate as a bug. The command line prints any ``PixelpilotError`` as
one clear message: ``ConfigError`` is the user's, a run that cannot start as configured.
"""

from __future__ import annotations


class PixelpilotError(Exception):
    """Base class for errors that the agent reports back to the model instead of crashing."""


class ToolCallParseError(PixelpilotError):
    """The model's text holds no well-formed ``<tool_call>`` block."""


class ActionError(PixelpilotError):
    """An action is unknown, lacks an argument it needs, or has one out of range."""


class ToolError(PixelpilotError):
    """A tool call failed: unknown tool, invalid arguments, a timeout, or the tool raised."""


class EnvError(PixelpilotError):
    """The environment could not carry out a valid action (e.g. the browser died mid-step)."""


class ModelError(PixelpilotError):
    """A model backend could not produce a response (server down, bad spec, missing extra)."""


class ConfigError(PixelpilotError):
    """A training or evaluation config cannot run as given (a changed config on resume, a missing input)."""


class OracleError(PixelpilotError, RuntimeError):
    """A task's oracle cannot go on: the screen does not look as it expects (a covered target, a changed page)."""
