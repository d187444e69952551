"""Fill `${models.llm.url}`-style references from the results of earlier resources."""

from __future__ import annotations

import re
from typing import Any

from lazycli.errors import LzError

# `${models.KEY…}`, `${indexes.KEY…}`, `${steps.NAME…}`: a result of an earlier resource.
REF = re.compile(r"\$\{((?:models|indexes|steps)\.[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*)\}")


def lookup(ref: str, results: dict[str, Any]) -> Any:
    kind, key, *fields = ref.split(".")
    if key not in results.get(kind, {}):
        raise LzError(
            f"${{{ref}}}: {kind}.{key} has no result yet", hint="it must run before the value using it"
        )
    value: Any = results[kind][key]
    for name in fields:
        if isinstance(value, dict) and name in value:
            value = value[name]
        elif isinstance(value, list) and name.isdigit() and int(name) < len(value):
            value = value[int(name)]
        else:
            known = ", ".join(sorted(value)) if isinstance(value, dict) else type(value).__name__
            raise LzError(f"${{{ref}}}: {kind}.{key} has no field {name!r}", hint=f"fields: {known}")
    return value


def resolve_refs(value: Any, results: dict[str, Any]) -> Any:
    """A value with every reference filled; a string that is one whole reference keeps its type."""
    if isinstance(value, dict):
        return {k: resolve_refs(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(v, results) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = REF.fullmatch(value)
    if whole:
        return lookup(whole.group(1), results)
    return REF.sub(lambda m: str(lookup(m.group(1), results)), value)
