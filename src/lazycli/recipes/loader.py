"""Load a recipe: TOML → `--set` overrides → `${ENV}` → schema → cross-checks, with file:line errors.

tomllib gives no positions, so `locate_lines` scans the text once for table headers and keys and
maps every field path it sees to its line; an error on a path it did not see (a value inside an
inline table) points at the closest enclosing one.
"""

from __future__ import annotations

import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from lazycli.errors import LzError, did_you_mean
from lazycli.recipes import schema
from lazycli.recipes.refs import REF

Loc = tuple[str | int, ...]

# `${NAME}` / `${NAME:-default}`: an environment variable; a dotted `${…}` is meant as a reference
# to an earlier result (`${models.llm.url}`), and must then match refs.REF.
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ANY_REF = re.compile(r"\$\{([^}]*\.[^}]*)\}")
_SECRETISH = re.compile(r"(KEY|TOKEN|SECRET|PASSW)", re.I)
_SECRET_FIELDS = {"api_key", "apikey", "token", "secret", "password", "access_key", "secret_key"}


@dataclass
class LoadedRecipe:
    path: Path
    spec: schema.Recipe
    raw: dict[str, Any]
    lines: dict[Loc, int]
    overrides: list[str] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.spec.name or self.path.stem

    @property
    def app_name(self) -> str:
        return (self.spec.app.name if self.spec.app else None) or self.name

    def where(self, loc: Loc) -> str:
        return where(self.path, self.lines, loc, self.overrides)


def load(
    path: str | Path, overrides: list[str] | tuple[str, ...] = (), *, check_models: bool = True
) -> LoadedRecipe:
    """A validated recipe, or an LzError naming file:line, the field path and a hint."""
    path = Path(path)
    text = _read(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(exc)
        raise LzError(
            f"{path}:{line}: not valid TOML: {_toml_error_text(exc)}", hint="fix the syntax"
        ) from None
    lines = locate_lines(text)
    set_paths = apply_overrides(raw, overrides)
    _check_secrets(raw, path, lines, set_paths)
    raw = interpolate_env(raw, path, lines, set_paths)
    try:
        spec = schema.Recipe.model_validate(raw)
    except ValidationError as exc:
        raise _schema_error(exc, raw, path, lines, set_paths) from None
    loaded = LoadedRecipe(path=path, spec=spec, raw=raw, lines=lines, overrides=set_paths)
    check_not_empty(loaded)
    check_references(loaded)
    check_app(loaded, check_models=check_models)
    if check_models:
        check_models_exist(loaded)
    return loaded


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LzError(f"recipe {path} not found", hint="give the path of a .toml recipe file") from None
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise LzError(
            f"cannot read recipe {path}: not UTF-8 text (byte {byte:#04x} at offset {exc.start})",
            hint="save the recipe as UTF-8",
        ) from None
    except OSError as exc:
        raise LzError(
            f"cannot read recipe {path}: {exc.strerror or exc}", hint="check the path and its permissions"
        ) from None


def _toml_error_line(exc: tomllib.TOMLDecodeError) -> int:
    lineno = getattr(exc, "lineno", None)
    if lineno:
        return lineno
    match = re.search(r"line (\d+)", str(exc))
    return int(match.group(1)) if match else 1


def _toml_error_text(exc: tomllib.TOMLDecodeError) -> str:
    return getattr(exc, "msg", None) or re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))


# --- positions ----------------------------------------------------------------------------------


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(
    r"^\s*((?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)


def _split_key(key: str) -> list[str]:
    parts = re.findall(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_\-]+)", key)
    return [a or b or c for a, b, c in parts]


def locate_lines(text: str) -> dict[Loc, int]:
    """Field path (with list indices for [[arrays]]) → 1-based line number."""
    lines: dict[Loc, int] = {}
    counts: dict[Loc, int] = {}
    table: Loc = ()
    in_multiline = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        if in_multiline:
            in_multiline = _toggles_multiline(raw, in_multiline)
            continue
        header = _HEADER.match(raw)
        if header and not _KEY.match(raw):
            table = _header_path(_split_key(header.group(2)), counts, is_array=header.group(1) == "[[")
            # Every prefix too: an unknown `[extra.thing]` is reported at its own line, not line 1.
            for end in range(len(table), 0, -1):
                lines.setdefault(table[:end], lineno)
            continue
        key = _KEY.match(raw)
        if key:
            lines[table + tuple(_split_key(key.group(1)))] = lineno
        in_multiline = _toggles_multiline(raw, False)
    return lines


def _toggles_multiline(line: str, state: bool) -> bool:
    for quote in ('"""', "'''"):
        if line.count(quote) % 2 == 1:
            return not state
    return state


def _header_path(parts: list[str], counts: dict[Loc, int], *, is_array: bool) -> Loc:
    path: Loc = ()
    for i, part in enumerate(parts):
        path = path + (part,)
        last = i == len(parts) - 1
        if last and is_array:
            counts[path] = counts.get(path, 0) + 1
            path = path + (counts[path] - 1,)
        elif not last and path in counts:
            path = path + (counts[path] - 1,)
    return path


def where(path: Path, lines: dict[Loc, int], loc: Loc, overrides: list[str] = ()) -> str:
    """`FILE:LINE` for a field path (or `--set KEY` when that value came from the command line)."""
    dotted = dotted_path(loc)
    for key in overrides:
        if dotted == key or dotted.startswith(key + ".") or dotted.startswith(key + "["):
            return f"{path} (--set {key})"
    probe = tuple(loc)
    while probe:
        if probe in lines:
            return f"{path}:{lines[probe]}"
        probe = probe[:-1]
    return f"{path}:1"


def dotted_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --- --set, ${ENV}, secrets ---------------------------------------------------------------------


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> list[str]:
    """`--set a.b.c=value` (value parsed as TOML when it can be: 3, true, [1, 2]; else a string)."""
    applied = []
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise LzError(
                f"bad --set {item!r}", hint="use --set key.path=value, e.g. --set models.llm.port=8080"
            )
        parts: list[str | int] = [int(p) if p.isdigit() else p for p in key.split(".")]
        target: Any = raw
        for i, part in enumerate(parts[:-1]):
            try:
                target = target[part]
            except (KeyError, IndexError, TypeError):
                if isinstance(target, dict) and isinstance(part, str):
                    target = target.setdefault(part, {})
                else:
                    raise LzError(
                        f"bad --set {item!r}: no {dotted_path(tuple(parts[: i + 1]))!r} in the recipe",
                        hint="list indices must exist already",
                    ) from None
        last = parts[-1]
        if isinstance(target, list) and isinstance(last, int) and last < len(target):
            target[last] = _parse_value(text)
        elif isinstance(target, dict):
            target[str(last)] = _parse_value(text)
        else:
            raise LzError(f"bad --set {item!r}: cannot set {key!r}", hint="check the key path")
        applied.append(dotted_path(tuple(parts)))
    return applied


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _walk(value: Any, loc: Loc = ()):
    yield loc, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, loc + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, loc + (i,))


def _looks_like_secret(value: Any) -> bool:
    """A key name is short and plain (openai, MY_KEY); API keys are long or carry a vendor prefix."""
    return isinstance(value, str) and bool(re.match(r"^(sk|pk|rk|ak|api|key)[-_]|^\S{33,}$", value, re.I))


def _check_secrets(raw, path, lines, set_paths) -> None:
    for loc, value in _walk(raw):
        named_key = len(loc) == 3 and loc[0] == "models" and loc[2] == "key"
        if (loc and isinstance(loc[-1], str) and loc[-1].lower() in _SECRET_FIELDS) or (
            named_key and _looks_like_secret(value)
        ):
            raise LzError(
                f"{where(path, lines, loc, set_paths)}: {dotted_path(loc)}: secrets do not go in recipes",
                hint='name the stored key instead (key = "openai") and run `lz keys set openai`',
            )


def interpolate_env(raw: Any, path: Path, lines, set_paths, loc: Loc = ()) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in strings; secrets may not come in this way."""
    if isinstance(raw, dict):
        return {k: interpolate_env(v, path, lines, set_paths, loc + (k,)) for k, v in raw.items()}
    if isinstance(raw, list):
        return [interpolate_env(v, path, lines, set_paths, loc + (i,)) for i, v in enumerate(raw)]
    if not isinstance(raw, str) or "${" not in raw:
        return raw

    def sub(match: re.Match) -> str:
        var, default = match.group(1), match.group(2)
        if _SECRETISH.search(var):
            raise LzError(
                f"{where(path, lines, loc, set_paths)}: {dotted_path(loc)}: ${{{var}}} looks like a secret",
                hint='secrets are named, not interpolated: key = "PROVIDER" with `lz keys set PROVIDER`',
            )
        value = os.environ.get(var)
        if value is None:
            if default is None:
                place = where(path, lines, loc, set_paths)
                raise LzError(
                    f"{place}: {dotted_path(loc)}: environment variable {var} is not set",
                    hint=f"export {var}=…, or write ${{{var}:-default}}",
                )
            return default
        return value

    return _ENV.sub(sub, raw)


# --- schema errors ------------------------------------------------------------------------------


def _schema_error(exc: ValidationError, raw, path: Path, lines, set_paths) -> LzError:
    errors = exc.errors()
    # An unknown key is the likeliest typo and the most useful first line.
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc, model = _data_loc(error["loc"], raw)
    field_path = dotted_path(loc)
    place = where(path, lines, loc, set_paths)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model)
        close = did_you_mean(str(loc[-1]), allowed, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed here: {', '.join(allowed)}"
        return LzError(f"{place}: {field_path}: unknown key {loc[-1]!r}", hint=hint)
    if kind == "union_tag_invalid":
        tag = (error.get("ctx") or {}).get("tag", "?")
        close = did_you_mean(str(tag), schema.NODE_TYPES, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}?" if close else f"one of: {', '.join(schema.NODE_TYPES)}"
        return LzError(f"{place}: {field_path}.type: unknown step type {tag!r}", hint=hint)
    if kind == "union_tag_not_found":
        return LzError(
            f"{place}: {field_path}: step has no 'type'", hint=f"one of: {', '.join(schema.NODE_TYPES)}"
        )
    if kind == "missing":
        return LzError(f"{place}: {field_path}: required key is missing", hint=_field_help(model, loc))
    got = value_at(raw, loc)
    return LzError(f"{place}: {field_path}: {error['msg']} (got {got!r})", hint=_field_help(model, loc))


def _data_loc(loc: tuple, raw: Any) -> tuple[Loc, type[BaseModel] | None]:
    """Pydantic's loc without union tags, and the model class that holds the last key."""
    data_loc: list[str | int] = []
    value, model, parent_model = raw, schema.Recipe, None
    annotation: Any = schema.Recipe
    for part in loc:
        if (
            isinstance(part, str)
            and part in schema.NODE_TYPES
            and not (isinstance(value, dict) and part in value)
        ):
            model = schema.NODE_TYPES[part]  # a discriminated-union tag, not a key
            annotation = model
            continue
        data_loc.append(part)
        parent_model = model
        model, annotation = _step_into(annotation, part)
        value = value[part] if isinstance(value, dict | list) and _has(value, part) else None
    return tuple(data_loc), parent_model


def _has(container: Any, part: Any) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(part, int) and part < len(container)


def _step_into(annotation: Any, part: Any) -> tuple[type[BaseModel] | None, Any]:
    cls = _model_class(annotation)
    if cls is not None and isinstance(part, str):
        fld = cls.model_fields.get(part) or next(
            (f for f in cls.model_fields.values() if f.alias == part), None
        )
        if fld is None:
            return None, None
        inner = fld.annotation
        return _model_class(inner), inner
    inner = _container_item(annotation)
    return _model_class(inner), inner


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out = []
        for arg in typing.get_args(annotation):
            out.extend(_unwrap(arg))
        return out
    return [annotation]


def _model_class(annotation: Any) -> type[BaseModel] | None:
    for arg in _unwrap(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _container_item(annotation: Any) -> Any:
    for arg in _unwrap(annotation):
        origin = typing.get_origin(arg)
        if origin is list:
            return typing.get_args(arg)[0]
        if origin is dict:
            return typing.get_args(arg)[1]
    return None


def _allowed_keys(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _field_help(model: type[BaseModel] | None, loc: Loc) -> str | None:
    if model is None or not loc or not isinstance(loc[-1], str):
        return None
    fld = model.model_fields.get(loc[-1])
    if fld is None:
        return None
    ann = getattr(fld.annotation, "__name__", None) or str(fld.annotation)
    ann = ann.replace("typing.", "").replace("NoneType", "None")
    return f"{loc[-1]}: {ann}" + (f" — {fld.description}" if fld.description else "")


def value_at(raw: Any, loc: Loc) -> Any:
    value = raw
    for part in loc:
        if isinstance(value, dict | list) and _has(value, part):
            value = value[part]
        else:
            return None
    return value


# --- references and cycles ----------------------------------------------------------------------


def resource_ids(spec: schema.Recipe) -> list[str]:
    """Every resource in declaration order: models.K, indexes.K, steps.NAME (or steps.N)."""
    ids = [f"models.{k}" for k in spec.models] + [f"indexes.{k}" for k in spec.indexes]
    ids += [f"steps.{step_name(s, i)}" for i, s in enumerate(spec.steps)]
    return ids


def step_name(step: schema.StepSpec, index: int) -> str:
    return step.name or str(index)


def resource_loc(rid: str, spec: schema.Recipe) -> Loc:
    kind, key = rid.split(".", 1)
    if kind == "steps":
        index = next(i for i, s in enumerate(spec.steps) if step_name(s, i) == key)
        return ("steps", index)
    return (kind, key)


def refs_in(value: Any) -> list[tuple[Loc, str]]:
    """(relative loc, 'models.llm.url') for every `${…}` reference inside a value."""
    out = []
    for loc, item in _walk(value):
        if isinstance(item, str):
            out.extend((loc, m.group(1)) for m in _ANY_REF.finditer(item) if not _ENV.fullmatch(m.group(0)))
    return out


def ref_target(ref: str) -> str:
    kind, key, *_ = ref.split(".") + [""]
    return f"{kind}.{key}"


def dependencies(loaded: LoadedRecipe) -> dict[str, list[tuple[str, Loc]]]:
    """resource id → [(resource it refers to, loc of the reference)]; unknown ones are errors."""
    spec, ids = loaded.spec, resource_ids(loaded.spec)
    deps: dict[str, list[tuple[str, Loc]]] = {}
    for rid in ids:
        loc = resource_loc(rid, spec)
        value = value_at(loaded.raw, loc)
        deps[rid] = []
        for rel, ref in refs_in(value):
            full = loc + rel
            if not REF.fullmatch("${" + ref + "}"):
                raise LzError(
                    f"{loaded.where(full)}: {dotted_path(full)}: bad reference ${{{ref}}}",
                    hint="references look like ${models.KEY.url}, ${indexes.KEY.name} or ${steps.NAME.FIELD}",
                )
            _check_target(loaded, full, ref, ids)
            deps[rid].append((ref_target(ref), full))
    return deps


def _check_target(loaded: LoadedRecipe, loc: Loc, ref: str, ids: list[str]) -> None:
    target = ref_target(ref)
    if target not in ids:
        close = did_you_mean(target, ids, n=1, cutoff=0.5)
        raise LzError(
            f"{loaded.where(loc)}: {dotted_path(loc)}: ${{{ref}}} refers to unknown {target!r}",
            hint=f"did you mean {close[0]!r}?" if close else f"known: {', '.join(ids) or 'none'}",
        )


def check_references(loaded: LoadedRecipe) -> list[str]:
    """Validate references and return the execution order (a cycle is an error naming it)."""
    deps = dependencies(loaded)
    _check_app_refs(loaded)
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(rid: str, stack: list[str]) -> None:
        if state.get(rid) == 2:
            return
        if state.get(rid) == 1:
            cycle = stack[stack.index(rid) :] + [rid]
            loc = next(loc for target, loc in deps[stack[-1]] if target == rid)
            raise LzError(
                f"{loaded.where(loc)}: {dotted_path(loc)}: reference cycle {' → '.join(cycle)}",
                hint="a value may only refer to results that do not depend on it",
            )
        state[rid] = 1
        for target, _loc in deps[rid]:
            visit(target, stack + [rid])
        state[rid] = 2
        order.append(rid)

    for rid in deps:
        visit(rid, [])
    return order


def _check_app_refs(loaded: LoadedRecipe) -> None:
    """References in [app] and [serve] are filled after every resource ran: they only must exist."""
    ids = resource_ids(loaded.spec)
    found = [(("app",) + rel, ref) for rel, ref in refs_in(loaded.raw.get("app"))]
    found += [(("serve",) + rel, ref) for rel, ref in refs_in(loaded.raw.get("serve"))]
    for loc, ref in found:
        _check_target(loaded, loc, ref, ids)


# --- the app and its models ---------------------------------------------------------------------


def iter_nodes(steps: list, loc: Loc):
    """(node, loc) for every node of an app, depth first in order."""
    for i, node in enumerate(steps):
        yield from _iter_node(node, loc + (i,))


def _iter_node(node, loc: Loc):
    yield node, loc
    for i, child in enumerate(getattr(node, "steps", None) or []):
        yield from _iter_node(child, loc + ("steps", i))
    for key in ("cond", "then", "otherwise", "on", "default", "body", "until"):
        child = getattr(node, key, None)
        if isinstance(child, BaseModel):
            yield from _iter_node(child, loc + ("else" if key == "otherwise" else key,))
    for case, child in (getattr(node, "cases", None) or {}).items():
        yield from _iter_node(child, loc + ("cases", case))
    for i, tool in enumerate(getattr(node, "tools", None) or []):  # an agent's component tools
        if isinstance(getattr(tool, "node", None), BaseModel):
            yield from _iter_node(tool.node, loc + ("tools", i, "node"))


def check_app(loaded: LoadedRecipe, *, check_models: bool = True) -> None:
    """Binds name earlier outputs; llm models and retriever indexes are known."""
    app = loaded.spec.app
    if app is None:
        return
    nodes = list(iter_nodes(app.steps, ("app", "steps")))
    names = [n.name for n, _ in nodes if n.name]
    seen: set[str] = set()
    for node, loc in nodes:
        for key, ref in node.bind.items():
            head = ref.split(".")[0]
            if head != "input" and head not in names:
                close = did_you_mean(head, ["input", *names], n=1, cutoff=0.5)
                raise LzError(
                    f"{loaded.where(loc + ('bind', key))}: {dotted_path(loc + ('bind', key))}: "
                    f"no step named {head!r}",
                    hint=f"did you mean {close[0]!r}?" if close else "bind to 'input' or a step's name",
                )
        if node.name:
            if node.name in seen or node.name == "input":
                raise LzError(
                    f"{loaded.where(loc + ('name',))}: {dotted_path(loc + ('name',))}: "
                    f"name {node.name!r} is used twice",
                    hint="give each step its own name",
                )
            seen.add(node.name)
        if isinstance(node, schema.LLMNode | schema.AgentNode) and check_models:
            _check_llm_model(loaded, node, loc)
        if isinstance(node, schema.RetrieverNode) and check_models:
            _check_index(loaded, node.index, loc + ("index",))
        if isinstance(node, schema.PythonNode):
            _check_python(loaded, node.function, loc + ("function",))
        if isinstance(node, schema.AgentNode):
            _check_tools(loaded, node, loc)


def check_not_empty(loaded: LoadedRecipe) -> None:
    """A recipe must do something: `lz run` needs an [app], models, indexes or steps."""
    spec = loaded.spec
    if spec.app is None and not (spec.models or spec.indexes or spec.steps):
        raise LzError(
            f"{loaded.path}: the recipe is empty: no [app], [models], [indexes] or [[steps]]",
            hint="add an [app] with [[app.steps]] (see recipes/ for examples; `lz recipe schema` lists keys)",
        )


def _check_index(loaded: LoadedRecipe, index: str, loc: Loc) -> None:
    """A retriever's index is an [indexes] key or an index `lz index` built (checked before any
    indexing starts, so a typo costs no minutes of embedding)."""
    if index in loaded.spec.indexes or "${" in index:
        return
    from lazycli.rag import manifest

    if manifest.get(index) is not None:
        return
    close = did_you_mean(index, list(loaded.spec.indexes), n=1, cutoff=0.5)
    raise LzError(
        f"{loaded.where(loc)}: {dotted_path(loc)}: no index {index!r}: not an [indexes] key of this recipe, "
        "nor an index built with `lz index`",
        hint=f"did you mean {close[0]!r}?"
        if close
        else "declare it as [indexes.NAME] or build it with `lz index`",
    )


def _module_exists(folder: Path, module: str) -> bool:
    """A module in the recipe's folder or an installed one, found without importing it: validating
    a recipe runs none of its code (importing it is the run's business)."""
    import importlib.util

    base = folder.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _check_python(loaded: LoadedRecipe, ref: str, loc: Loc) -> None:
    """The module of a python step exists."""
    module = ref.partition(":")[0]
    if not _module_exists(loaded.folder, module):
        raise LzError(
            f"{loaded.where(loc)}: {dotted_path(loc)}: python module {module!r} not found "
            f"(no {module.replace('.', '/')}.py in {loaded.folder}, and no installed package of that name)",
            hint=f"put {module.replace('.', '/')}.py next to the recipe, or install the package",
        )


def _check_tools(loaded: LoadedRecipe, node: schema.AgentNode, loc: Loc) -> None:
    """Each `module:function` tool names a module that exists."""
    for i, tool in enumerate(node.tools):
        ref = tool.function
        if ref is None:
            continue
        module = ref.partition(":")[0]
        if not _module_exists(loaded.folder, module):
            where_loc = loc + ("tools", i, "function")
            raise LzError(
                f"{loaded.where(where_loc)}: {dotted_path(where_loc)}: no module {module!r} for tool {ref!r}",
                hint=f"put {module}.py next to the recipe, or install the package that has it",
            )


def _check_llm_model(loaded: LoadedRecipe, node: schema.LLMNode | schema.AgentNode, loc: Loc) -> None:
    model = node.model
    if model is None or model in loaded.spec.models or "${" in model:
        return
    from lazycli.targets import parse

    if parse(model) is not None:  # the one reading of a name that `lz chat` and the run use too
        return
    if ":" in model and "://" not in model:
        _check_provider(loaded, model.split(":", 1)[0], loc + ("model",))  # a mistyped provider
    try:
        _resolve_model(model)
    except LzError as exc:
        keys = list(loaded.spec.models)
        close = did_you_mean(model, keys, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r} (a [models] key)?" if close else exc.hint
        raise LzError(
            f"{loaded.where(loc + ('model',))}: {dotted_path(loc + ('model',))}: {exc.message}", hint=hint
        ) from None


def _resolve_model(model: str):
    from lazycli import catalog

    return catalog.resolve(model)


def _check_provider(loaded: LoadedRecipe, provider: str, loc: Loc) -> None:
    from lazycli.plugins import registry

    try:
        registry().get("providers", provider)
    except LzError as exc:
        raise LzError(f"{loaded.where(loc)}: {dotted_path(loc)}: {exc.message}", hint=exc.hint) from None


def check_models_exist(loaded: LoadedRecipe) -> None:
    """Every [models.X] names a catalogue model, a local path, or a known provider."""
    for key, model in loaded.spec.models.items():
        loc = ("models", key)
        if model.provider:
            _check_provider(loaded, model.provider, loc + ("provider",))
            continue
        if "${" in model.model or _local_path(loaded, model.model) is not None:
            continue
        try:
            _resolve_model(model.model)
        except LzError as exc:
            raise LzError(
                f"{loaded.where(loc + ('model',))}: models.{key}.model: {exc.message}",
                hint=exc.hint or "`lz models ls` lists the catalogue",
            ) from None


def _local_path(loaded: LoadedRecipe, model: str) -> Path | None:
    if not any(ch in model for ch in "/\\") and not model.startswith("."):
        return None
    candidate = Path(model).expanduser()
    candidate = candidate if candidate.is_absolute() else loaded.folder / candidate
    return candidate if candidate.exists() else None
