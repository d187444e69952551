"""The shipped catalogue (`models.json`): loading it and looking names up.

Names are matched case-insensitively against the canonical name, the aliases, each hub id
(`Qwen/Qwen2-1.5B-Instruct`) and each hub id's repo part (`Qwen2-1.5B-Instruct`), so whatever
spelling a user copies from a model card finds the entry.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

CATALOG_FILE = Path(__file__).with_name("models.json")


@lru_cache(maxsize=1)
def entries() -> tuple[dict, ...]:
    """Every catalogue entry, in file order."""
    with open(CATALOG_FILE, encoding="utf-8") as fh:
        return tuple(json.load(fh)["models"])


def _keys(entry: dict) -> set[str]:
    keys = {entry["name"], *entry.get("aliases", ())}
    for hub_id in entry.get("hub_ids", {}).values():
        keys.add(hub_id)
        keys.add(hub_id.rsplit("/", 1)[-1])
    return {k.lower() for k in keys}


@lru_cache(maxsize=1)
def _index() -> dict[str, dict]:
    """lower-cased key → entry; canonical names win over aliases and hub ids on a clash."""
    index: dict[str, dict] = {}
    for entry in entries():
        for key in _keys(entry):
            index.setdefault(key, entry)
    for entry in entries():
        index[entry["name"].lower()] = entry
    return index


def lookup(name: str) -> dict | None:
    """The catalogue entry for a name, alias or hub id (any case), or None."""
    return _index().get(name.strip().lower())


def names() -> list[str]:
    """Canonical names, for listings and did-you-mean."""
    return [e["name"] for e in entries()]


def suggestion_pool() -> list[str]:
    """Everything a near miss may be close to: canonical names and aliases."""
    pool = []
    for entry in entries():
        pool.append(entry["name"])
        pool.extend(entry.get("aliases", ()))
    return pool
