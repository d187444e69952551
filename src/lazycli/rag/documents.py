"""Files → documents: walk the paths, filter by glob, pick a loader by extension, hash contents."""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lazycli.errors import LzError


@dataclass
class Scan:
    files: dict[str, Path] = field(default_factory=dict)  # source key (absolute path) → path
    unsupported: list[str] = field(default_factory=list)  # files no loader reads


def _matches(path: Path, root: Path, patterns) -> bool:
    rel = path.relative_to(root).as_posix() if path != root else path.name
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(path.name, p) for p in patterns)


def _walk(root: Path) -> Iterator[Path]:
    """Files under root, skipping hidden files and dirs (.git, .venv, …), in a stable order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def scan(paths: list[Path], extensions, include=(), exclude=()) -> Scan:
    out = Scan()
    for given in paths:
        root = Path(given).expanduser()
        if not root.exists():
            raise LzError(f"path {given} does not exist", hint="give files or directories to index")
        root = root.resolve()
        candidates = [root] if root.is_file() else _walk(root)
        base = root.parent if root.is_file() else root
        for path in candidates:
            if include and not _matches(path, base, include):
                continue
            if exclude and _matches(path, base, exclude):
                continue
            if path.suffix.lower() not in extensions:
                out.unsupported.append(str(path))
                continue
            out.files[str(path)] = path
    return out


def file_hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()
