"""`lz --help` from a cache: the root help text typer rendered last time, printed without typer.

Importing typer (and the click inside it) is most of what `lz --help` used to cost. The root's help
depends only on the verb table, the root options, the terminal width and the typer version, so
the text typer renders is kept under a key made of exactly those (the lz version, the mtimes of
the modules that define the root and of typer itself, the width click wraps to) and printed as it
is next time. Any change to a key part renders afresh through typer, which stores the new text.
"""

from __future__ import annotations

import os
import shutil
import sys


def _path(width: int):
    from lazycli import paths

    return paths.cache_dir() / f"help-{width}.txt"


def _mtime(path: str | None) -> int | None:
    try:
        return os.stat(path).st_mtime_ns if path else None
    except OSError:
        return None


def _width() -> int:
    # click's HelpFormatter: the terminal's columns, at most 80, minus 2, at least 50.
    return max(min(shutil.get_terminal_size().columns, 80) - 2, 50)


def _key() -> str:
    """One line naming what the text depends on (the width is in the file name)."""
    import importlib.util

    from lazycli import __version__

    here = os.path.dirname(os.path.abspath(__file__))
    typer_spec = importlib.util.find_spec("typer")
    parts = [
        __version__,
        sys.executable,
        _mtime(os.path.join(here, "__init__.py")),
        _mtime(os.path.join(here, "_root.py")),
        _mtime(typer_spec.origin if typer_spec else None),
    ]
    return "lz-help " + " ".join(str(part) for part in parts)


def show() -> bool:
    """Print the cached root help and return True, or return False when there is none for now."""
    try:
        with open(_path(_width()), encoding="utf-8") as fh:
            key, _, text = fh.read().partition("\n")
    except (OSError, UnicodeDecodeError):
        return False
    if key != _key():
        return False
    sys.stdout.write(text + "\n")  # click's echo adds the newline
    sys.stdout.flush()
    return True


def store(text: str) -> None:
    """Keep the root help typer just rendered (a cache dir that cannot be written costs speed only)."""
    target = _path(_width())
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        tmp.write_text(f"{_key()}\n{text}", encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        pass
