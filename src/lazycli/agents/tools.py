"""Tools an agent (or `lz chat --tool`) may call: Python functions and recipe components.

    from lazycli.agents.tools import function_tool, load_tool

    def add(a: int, b: int = 0) -> int:
        \"\"\"Add two numbers.

        Args:
            a: the first number
            b: the second number
        \"\"\"
        return a + b

    tool = function_tool(add, timeout=5)
    tool.schema()                   # {"type": "function", "function": {"name": "add", "parameters": ...}}
    tool.run('{"a": 2, "b": 3}')    # ToolOutcome(ok=True, result="5")

The JSON schema comes from the signature and type hints (through a pydantic model, which also
validates the arguments a model sends) and the docstring (summary → description, `Args:` or
`:param x:` lines → parameter descriptions). A tool never raises into the agent loop: a bad
argument, an exception in the tool or a timeout becomes an error text the model reads next turn.
"""

from __future__ import annotations

import inspect
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lazycli.errors import LzError

DEFAULT_TIMEOUT_S = 60.0
# What the model reads of a result: long tool outputs are cut (the step record keeps the length).
MAX_RESULT_CHARS = 8000


@dataclass
class ToolOutcome:
    """What one call produced: the result text the model reads, or the error it reads instead."""

    ok: bool
    result: str
    error: str | None = None
    elapsed_s: float = 0.0
    value: Any = None  # the Python value returned (for the agent's `tool_results` output)


@dataclass
class Tool:
    """A named callable with a JSON schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    call: Callable[[dict[str, Any], Any], Any]  # (validated arguments, flow context or None) -> value
    timeout: float = DEFAULT_TIMEOUT_S
    validate: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    source: str = ""  # module:function, or "node:TYPE" for a recipe component

    def schema(self) -> dict[str, Any]:
        """The tool in the OpenAI `tools` wire format."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def signature_text(self) -> str:
        """One line for text protocols (react, rewoo): `name(a: integer, b?: string) - description`."""
        props = self.parameters.get("properties", {})
        required = set(self.parameters.get("required", []))
        args = ", ".join(f"{k}{'' if k in required else '?'}: {_type_name(v)}" for k, v in props.items())
        return f"{self.name}({args}) - {self.description}".strip(" -")

    def run(self, arguments: str | dict[str, Any] | None, ctx: Any = None) -> ToolOutcome:
        """Parse, validate, call under the timeout. Never raises (but for KeyboardInterrupt)."""
        started = time.monotonic()
        try:
            args = parse_arguments(arguments)
            if self.validate is not None:
                args = self.validate(args)
        except ToolArgumentError as exc:
            return ToolOutcome(False, "", f"bad arguments for {self.name}: {exc}", _since(started))
        done, value, error = _call_with_timeout(lambda: self.call(args, ctx), self.timeout, self.name)
        elapsed = _since(started)
        if not done:
            return ToolOutcome(False, "", f"{self.name} did not finish within {self.timeout:g}s", elapsed)
        if error is not None:
            return ToolOutcome(False, "", f"{self.name} failed: {_error_text(error)}", elapsed)
        return ToolOutcome(True, result_text(value), None, elapsed, value)


class ToolArgumentError(ValueError):
    """The model's arguments are not JSON, not an object, or do not match the schema."""


def parse_arguments(arguments: str | dict[str, Any] | None) -> dict[str, Any]:
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, dict):
        return dict(arguments)
    try:
        value = json.loads(arguments)
    except ValueError as exc:
        raise ToolArgumentError(
            f"not valid JSON ({exc.msg} at char {exc.pos}): {arguments[:120]!r}"
        ) from None
    if not isinstance(value, dict):
        raise ToolArgumentError(f"expected a JSON object, got {type(value).__name__}")
    return value


def result_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = str(value)
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"… [{len(text) - MAX_RESULT_CHARS} more characters cut]"
    return text


def _since(started: float) -> float:
    return round(time.monotonic() - started, 4)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, LzError):
        return exc.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _call_with_timeout(
    fn: Callable[[], Any], timeout: float, name: str
) -> tuple[bool, Any, BaseException | None]:
    """(finished, value, exception). A daemon thread, not a pool: a tool that hangs for ever must
    not keep `lz` from exiting (pool workers are joined at exit); it is abandoned, still running."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the caller as the tool's error
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"lz-tool-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return False, None, None
    return True, box.get("value"), box.get("error")


# --- from a Python function ----------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def function_tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    source: str = "",
) -> Tool:
    """A tool from a function's signature, type hints and docstring."""
    from pydantic import ConfigDict, Field, ValidationError, create_model

    tool_name = name or getattr(fn, "__name__", "tool")
    if not _NAME.match(tool_name):
        raise LzError(
            f"tool name {tool_name!r} is not allowed", hint="use letters, digits, _ and - (at most 64)"
        )
    summary, param_docs = parse_docstring(inspect.getdoc(fn) or "")
    try:
        hints = _type_hints(fn)
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise LzError(f"tool {tool_name!r}: cannot read its signature: {exc}") from None
    fields: dict[str, Any] = {}
    for pname, param in sig.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or pname in ("self", "cls"):
            continue
        annotation = hints.get(pname, Any)
        default = ... if param.default is param.empty else param.default
        fields[pname] = (annotation, Field(default, description=param_docs.get(pname)))
    try:
        model = create_model(f"{tool_name}_args", __config__=ConfigDict(extra="forbid"), **fields)
        parameters = _clean_schema(model.model_json_schema())
    except Exception as exc:  # a type pydantic cannot describe (a custom class) is the user's to fix
        raise LzError(
            f"tool {tool_name!r}: cannot build a JSON schema from its type hints: {exc}",
            hint="annotate parameters with str, int, float, bool, list, dict, Literal or pydantic models",
        ) from None

    def validate(args: dict[str, Any]) -> dict[str, Any]:
        try:
            parsed = model.model_validate(args)
        except ValidationError as exc:
            raise ToolArgumentError(_validation_text(exc)) from None
        return {k: getattr(parsed, k) for k in fields}

    return Tool(
        name=tool_name,
        description=(description or summary or tool_name).strip(),
        parameters=parameters,
        call=lambda args, _ctx: fn(**args),
        timeout=timeout or DEFAULT_TIMEOUT_S,
        validate=validate,
        source=source or f"{getattr(fn, '__module__', '?')}:{tool_name}",
    )


def load_tool(ref: str, folder: Path | None = None, **kw: Any) -> Tool:
    """`module:function` (from `folder` first, then installed packages) as a tool."""
    from lazycli.flow import load_function

    fn = load_function(ref, folder)
    kw.setdefault("name", ref.partition(":")[2])
    return function_tool(fn, source=ref, **kw)


def node_tool(
    node: Any, *, name: str, description: str, timeout: float | None = None, param: str = "input"
) -> Tool:
    """A recipe component (an llm, a retriever, a pipeline, another agent…) as a tool taking one
    string; it runs in the calling flow's context, so its sources and named outputs count there."""

    def call(args: dict[str, Any], ctx: Any) -> Any:
        from lazycli.flow import Context

        value = args[param]
        return node.run(value, ctx if ctx is not None else Context(input=value))

    def validate(args: dict[str, Any]) -> dict[str, Any]:
        extra = sorted(set(args) - {param})
        if extra:
            raise ToolArgumentError(f"unexpected argument {extra[0]!r} (only {param!r})")
        if not isinstance(args.get(param), str):
            raise ToolArgumentError(f"{param!r} is required and must be a string")
        return args

    parameters = {
        "type": "object",
        "properties": {param: {"type": "string", "description": "what to ask or give this tool"}},
        "required": [param],
        "additionalProperties": False,
    }
    return Tool(name, description, parameters, call, timeout or DEFAULT_TIMEOUT_S, validate, "node")


# --- docstrings and schemas ----------------------------------------------------------------------

_ARGS_HEADER = re.compile(r"^(Args|Arguments|Parameters|Params)\s*:\s*$", re.I)
_SECTION = re.compile(r"^(Returns?|Raises|Yields|Examples?|Notes?)\s*:\s*$", re.I)
_GOOGLE_ARG = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_REST_PARAM = re.compile(r"^\s*:param\s+(?:[\w\[\], ]+\s+)?(\w+)\s*:\s*(.*)$")
_NUMPY_RULE = re.compile(r"^\s*-{3,}\s*$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(summary, {param: description}) from Google (`Args:`), reST (`:param x:`) or NumPy style."""
    lines = doc.strip().splitlines()
    summary_lines: list[str] = []
    params: dict[str, str] = {}
    current: str | None = None
    mode = "summary"
    for i, line in enumerate(lines):
        stripped = line.strip()
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _ARGS_HEADER.match(stripped) or (stripped.lower() == "parameters" and _NUMPY_RULE.match(nxt)):
            mode, current = "args", None
            continue
        if _NUMPY_RULE.match(stripped):
            continue
        if _SECTION.match(stripped) or stripped.lower() in ("returns", "raises", "examples"):
            mode, current = "other", None
            continue
        rest = _REST_PARAM.match(line)
        if rest:
            current = rest.group(1)
            params[current] = rest.group(2).strip()
            mode = "args"
            continue
        if stripped.startswith(":"):
            mode, current = "other", None
            continue
        if mode == "summary":
            if not stripped and summary_lines:
                mode = "body"
            elif stripped:
                summary_lines.append(stripped)
        elif mode == "args":
            arg = _GOOGLE_ARG.match(line)
            indent = len(line) - len(line.lstrip())
            if arg and (current is None or indent <= _indent_of(lines, current)):
                current = arg.group(1).lstrip("*")
                params[current] = arg.group(2).strip()
            elif stripped and current:
                params[current] = (params[current] + " " + stripped).strip()
            elif stripped and current is None and " : " in line:  # NumPy "a : int"
                current = stripped.split(" : ", 1)[0].strip()
                params[current] = ""
    return " ".join(summary_lines), {k: v for k, v in params.items()}


def _indent_of(lines: list[str], name: str) -> int:
    for line in lines:
        if re.match(rf"^\s*\*{{0,2}}{re.escape(name)}\s*(\(|:)", line):
            return len(line) - len(line.lstrip())
    return 0


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to what the signature holds
        return {
            k: (p.annotation if p.annotation is not inspect.Parameter.empty else Any)
            for k, p in inspect.signature(fn).parameters.items()
        }


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's schema without the titles (noise in every prompt); objects closed."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    out = strip(schema)
    out.setdefault("properties", {})
    out["type"] = "object"
    out["additionalProperties"] = False
    return out


def _validation_text(exc: Any) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "arguments"
        msg = "unexpected argument" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def _type_name(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "|".join(json.dumps(v) for v in prop["enum"])
    if "anyOf" in prop:
        return "|".join(_type_name(p) for p in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array" and isinstance(prop.get("items"), dict):
        return f"list[{_type_name(prop['items'])}]"
    return str(kind)


@dataclass
class Toolbox:
    """The tools of one agent, by name (names unique)."""

    tools: dict[str, Tool] = field(default_factory=dict)

    @classmethod
    def of(cls, tools: list[Tool]) -> Toolbox:
        box = cls()
        for tool in tools:
            if tool.name in box.tools:
                raise LzError(f"two tools are named {tool.name!r}", hint="give one of them another name")
            box.tools[tool.name] = tool
        return box

    def schemas(self) -> list[dict[str, Any]]:
        return [t.schema() for t in self.tools.values()]

    def names(self) -> list[str]:
        return list(self.tools)

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)
