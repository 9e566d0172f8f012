"""What a tool is: a name, a JSON schema in Qwen's function format, and a call that returns a ToolResult.

``ToolResult`` is frozen and carries either output (text and images) or an error string; the
registry is the one place that turns exceptions into error results, so tools simply raise.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from PIL import Image
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from pixelpilot.errors import ToolError


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call, as the model will see it in a ``<tool_response>``."""

    text: str = ""
    images: tuple[Image.Image, ...] = ()
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    """Facts for the agent, not the model: reward, termination, environment info."""

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
    """

    name: str
    description: str
    parameters: dict[str, Any]
    timeout: float | None = None

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        """The tool as Qwen3-VL expects it inside ``<tools></tools>``."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


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
    """A Python function exposed as a tool, its arguments validated by a pydantic model."""

    def __init__(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        self.func = func
        self.name = name or func.__name__
        self.description = description or inspect.cleandoc(func.__doc__ or "").strip()
        if not self.description:
            raise ValueError(f"tool {self.name!r} needs a description or a docstring")
        self.timeout = timeout
        self._context_arg, self._model, self._single_model = self._arguments_model(func)
        self.parameters = json_schema(self._model)

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
) -> Any:
    """Make a function a tool: ``@tool`` or ``@tool(name=..., timeout=...)``.

    Parameters come from the type hints (or one pydantic model parameter); a parameter typed
    ``ToolContext`` is filled in by the registry and hidden from the model.
    """

    def wrap(f: Callable[..., Any]) -> FunctionTool:
        return FunctionTool(f, name=name, description=description, timeout=timeout)

    return wrap(func) if func is not None else wrap
