"""What a tool is: a name, a JSON schema in Qwen's function format, and a call that returns a ToolResult.

``ToolResult`` is frozen and carries either output (text and images) or an error string; the
registry is the one place that turns exceptions into error results, so tools simply raise.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args, get_type_hints

from PIL import Image
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from pixelpilot.errors import ToolError

if TYPE_CHECKING:
    from pixelpilot.envs.core.actions import Action

PromptStyle = Literal["qwen", "pixelpilot"]
"""How the system turn and the tools are worded. ``qwen`` is Qwen's own text, word for word (its cookbooks'
system turns and tool definitions: what a released Qwen3-VL was trained to read); ``pixelpilot`` is the
shorter paraphrase pixelpilot used first, which the shipped pixelpilot-nano was trained on."""
PROMPT_STYLES: tuple[PromptStyle, ...] = get_args(PromptStyle)

Wording = tuple[str, dict[str, Any]]
"""A tool's description and parameter schema as the model reads them."""


@dataclass(frozen=True)
class EnvStep:
    """What a GUI call's environment step did, for the agent rather than the model: gymnasium's five
    values, typed, with the action that was carried out."""

    action: Action
    reward: float
    terminated: bool
    truncated: bool
    info: Mapping[str, Any]

    @property
    def success(self) -> bool | None:
        """The environment's verdict on the task, when it gave one."""
        success = self.info.get("success")
        return success if isinstance(success, bool) else None


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call, as the model will see it in a ``<tool_response>``."""

    text: str = ""
    images: tuple[Image.Image, ...] = ()
    error: str | None = None
    step: EnvStep | None = None
    """The environment step a GUI call made (also when the environment refused the action)."""
    denied: str | None = None
    """Why an approval hook refused the action, which then never reached the environment."""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ToolContext:
    """What a tool may read besides its arguments: the conversation's images, full resolution."""

    images: Sequence[Image.Image] = ()


class Tool:
    """A callable the model can name in a ``<tool_call>``.

    Subclasses set ``name``, ``description`` and ``parameters`` (a JSON schema object) and
    implement ``run``; ``timeout`` (seconds) runs the call in a worker thread when set, which
    suits pure functions but not tools bound to thread-affine resources such as a Playwright page.
    ``wordings`` holds other descriptions and schemas by prompt style, for a tool that a checkpoint
    learned under other words (see ``PromptStyle``); any other style reads ``description`` and ``parameters``.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    timeout: float | None = None
    wordings: Mapping[str, Wording] = {}

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raise NotImplementedError

    def schema(self, style: PromptStyle = "qwen") -> dict[str, Any]:
        """The tool as Qwen3-VL expects it inside ``<tools></tools>``, keys in the order Qwen-Agent writes them."""
        description, parameters = self.wordings.get(style, (self.description, self.parameters))
        function = {"name": self.name, "description": description, "parameters": parameters}
        return {"type": "function", "function": function}


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A pydantic model's JSON schema, trimmed of the titles that only cost prompt tokens."""
    return _strip_titles(model.model_json_schema())


class FunctionTool(Tool):
    """A Python function exposed as a tool, its arguments validated by a pydantic model.

    ``parameters`` replaces the schema generated from that model in the prompt, for a tool whose
    official wording differs from what it validates (it may accept more than it advertises).
    """

    def __init__(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = 30.0,
        parameters: dict[str, Any] | None = None,
        wordings: Mapping[str, Wording] | None = None,
    ) -> None:
        self.func = func
        self.name = name or func.__name__
        self.description = description or inspect.cleandoc(func.__doc__ or "").strip()
        if not self.description:
            raise ValueError(f"tool {self.name!r} needs a description or a docstring")
        self.timeout = timeout
        self._context_arg, self._model, self._single_model = self._arguments_model(func)
        self.parameters = parameters if parameters is not None else json_schema(self._model)
        self.wordings = dict(wordings or {})

    @staticmethod
    def _arguments_model(func: Callable[..., Any]) -> tuple[str | None, type[BaseModel], bool]:
        hints = get_type_hints(func, include_extras=True)
        context_arg = None
        fields: dict[str, Any] = {}
        for param in inspect.signature(func).parameters.values():
            annotation = hints.get(param.name, Any)
            if annotation is ToolContext:
                context_arg = param.name
                continue
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[param.name] = (annotation, default)
        if len(fields) == 1:
            (only,) = fields.values()
            if inspect.isclass(only[0]) and issubclass(only[0], BaseModel):
                return context_arg, only[0], True
        model = create_model(f"{func.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
        return context_arg, model, False

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        try:
            validated = self._model.model_validate(arguments)
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in error.errors())
            raise ToolError(f"invalid arguments for {self.name}: {problems}") from None
        if self._single_model:
            (param,) = [p for p in inspect.signature(self.func).parameters if p != self._context_arg]
            kwargs = {param: validated}
        else:
            kwargs = {k: getattr(validated, k) for k in type(validated).model_fields}
        if self._context_arg:
            kwargs[self._context_arg] = context
        return as_result(self.func(**kwargs))


def as_result(value: Any) -> ToolResult:
    """Let plain functions return text, an image, a list of images, or a ToolResult."""
    if isinstance(value, ToolResult):
        return value
    if isinstance(value, Image.Image):
        return ToolResult(images=(value,))
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Image.Image) for v in value):
        return ToolResult(images=tuple(value))
    return ToolResult(text="" if value is None else str(value))


def tool(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = 30.0,
    parameters: dict[str, Any] | None = None,
    wordings: Mapping[str, Wording] | None = None,
) -> Any:
    """Make a function a tool: ``@tool`` or ``@tool(name=..., timeout=...)``.

    Parameters come from the type hints (or one pydantic model parameter); a parameter typed
    ``ToolContext`` is filled in by the registry and hidden from the model.
    """

    def wrap(f: Callable[..., Any]) -> FunctionTool:
        return FunctionTool(
            f, name=name, description=description, timeout=timeout, parameters=parameters, wordings=wordings
        )

    return wrap(func) if func is not None else wrap
