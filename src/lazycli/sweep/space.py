"""The search space: `--grid KEY=V1,V2` and a recipe's `[sweep]` table → the configurations to try.

A key is a dotted path into the recipe (`app.steps.0.topk`, `models.llm.options.temperature`);
nested tables under `[sweep.grid]` are the same paths written as TOML tables. A value list holds
TOML values (`1`, `0.7`, `"cosine"`, `{ temperature = 0 }`): a list item that is itself a table
sweeps a whole sub-table. Paired groups (`[[sweep.paired]]`) vary their keys together, and the
grid is the product of every single key and every group (axolotl's `_:` pairs, LazyLLM's Option).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from dataclasses import dataclass, field
from typing import Any

from lazycli.errors import LzError, did_you_mean


@dataclass(frozen=True)
class Axis:
    """Keys that vary together (one key, or a paired group) and their values, position by position."""

    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]  # one tuple per choice, aligned with `keys`


@dataclass
class Space:
    axes: list[Axis] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [k for axis in self.axes for k in axis.keys]

    def size(self) -> int:
        n = 1
        for axis in self.axes:
            n *= len(axis.values)
        return n

    def grid(self) -> list[dict[str, Any]]:
        """Every configuration, in a stable order (the first key varies slowest)."""
        out = []
        for choice in itertools.product(*(axis.values for axis in self.axes)):
            params: dict[str, Any] = {}
            for axis, values in zip(self.axes, choice, strict=True):
                params.update(zip(axis.keys, values, strict=True))
            out.append(params)
        return out

    def sample(self, n: int, seed: int) -> list[dict[str, Any]]:
        """`n` distinct configurations drawn with `seed` (all of them, shuffled, when n ≥ size)."""
        every = self.grid()
        rng = random.Random(seed)
        return rng.sample(every, min(n, len(every)))


def config_hash(params: dict[str, Any], context: str) -> str:
    """Identity of a configuration within a sweep: its values and what they are applied to."""
    blob = json.dumps({"params": params, "context": context}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --- parsing ------------------------------------------------------------------------------------


def split_values(text: str) -> list[str]:
    """`a,b,[1,2],{x=1,y=2},"c,d"` → its top-level comma-separated items."""
    items, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item.strip() for item in items]


def parse_value(text: str) -> Any:
    """A value as `--set` reads it: TOML when it parses (3, 0.5, true, [1, 2], "x"), else the text."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_grid_flag(spec: str) -> tuple[str, list[Any]]:
    key, eq, text = spec.partition("=")
    key = key.strip()
    if not eq or not key:
        raise LzError(f"bad --grid {spec!r}", hint="KEY=V1,V2, e.g. --grid app.steps.0.topk=1,3")
    values = [parse_value(v) for v in split_values(text) if v != ""]
    if not values:
        raise LzError(f"--grid {key}: no values", hint=f"give at least one, e.g. --grid {key}=1,3")
    return key, values


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested `[sweep.grid]` tables → dotted keys; a list (the values) ends a path."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def build(grid: dict[str, Any], paired: list[dict[str, Any]], where: str) -> Space:
    """A Space from flattened grid keys and paired groups; every list must be non-empty."""
    axes = []
    for key, values in flatten(grid).items():
        if not isinstance(values, list):
            raise LzError(
                f"{where}: sweep key {key}: values must be a list (got {values!r})", hint=f'"{key}" = [1, 3]'
            )
        if not values:
            raise LzError(f"{where}: sweep key {key}: empty list of values", hint="give at least one value")
        axes.append(Axis((key,), tuple((v,) for v in values)))
    for n, group in enumerate(paired):
        flat = flatten(group)
        lengths = {k: len(v) if isinstance(v, list) else -1 for k, v in flat.items()}
        if not flat or -1 in lengths.values() or len(set(lengths.values())) != 1 or 0 in lengths.values():
            raise LzError(
                f"{where}: sweep.paired[{n}]: every key needs a non-empty list, all of one length "
                f"(got {lengths})",
                hint="paired keys vary together: value i of each key makes configuration i",
            )
        keys = tuple(flat)
        axes.append(Axis(keys, tuple(zip(*(flat[k] for k in keys), strict=True))))
    seen: set[str] = set()
    for key in (k for axis in axes for k in axis.keys):
        if key in seen:
            raise LzError(f"{where}: sweep key {key} is given twice", hint="name each key once")
        seen.add(key)
    return Space(axes)


# --- checking keys against the recipe -------------------------------------------------------------


def check_key(raw: dict[str, Any], key: str) -> None:
    """Every segment but the last must exist in the recipe; the last may be new only inside a table
    (the schema then says whether that table takes it). A miss names the closest existing key."""
    parts = key.split(".")
    node: Any = raw
    for i, part in enumerate(parts):
        here = ".".join(parts[:i]) or "the recipe"
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise LzError(
                    f"sweep key {key}: {here} is a list of {len(node)}, no item {part!r}",
                    hint=f"use an index 0…{len(node) - 1}",
                )
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                if last:
                    return
                close = did_you_mean(part, list(node), n=1, cutoff=0.5)
                prefix = ".".join(parts[:i])
                hint = (
                    f"did you mean {(prefix + '.' if prefix else '') + close[0]}?"
                    if close
                    else f"keys there: {', '.join(map(str, node)) or 'none'}"
                )
                raise LzError(f"sweep key {key}: the recipe has no {part!r} in {here}", hint=hint)
            node = node[part]
        else:
            raise LzError(f"sweep key {key}: {here} is a value, not a table", hint="shorten the key")


def check_type(raw: dict[str, Any], key: str, value: Any) -> None:
    """A value replacing a number, a boolean or a string keeps that kind (ints and floats mix), so a
    typo in a free-form table (options, args) fails here rather than inside a trial."""
    current: Any = raw
    for part in key.split("."):
        try:
            current = current[int(part)] if isinstance(current, list) else current[part]
        except (KeyError, IndexError, ValueError, TypeError):
            return
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    want, got = kinds.get(type(current)), kinds.get(type(value))
    if want and want != got:
        raise LzError(
            f"sweep key {key}: {value!r} is not {want} like the recipe's {current!r}",
            hint="quote strings, write numbers bare",
        )
