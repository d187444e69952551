"""One place for output: a stdout console, a stderr console and the global output flags.

`--json` prints plain JSON and nothing else on stdout; `-q` silences progress and notes; colour
and progress only appear on a terminal (rich decides that from the stream).
"""

from __future__ import annotations

import sys
from typing import Any


class OutputOptions:
    """The global output flags. A plain class, not a dataclass: `dataclasses` imports `inspect`,
    which `lz --help` would otherwise pay for."""

    def __init__(self, json: bool = False, quiet: bool = False, debug: bool = False) -> None:
        self.json = json
        self.quiet = quiet
        self.debug = debug

    def __repr__(self) -> str:
        return f"OutputOptions(json={self.json}, quiet={self.quiet}, debug={self.debug})"


options = OutputOptions()

_console = None
_err_console = None


def console():
    """The stdout console (rich is imported on first use, not at start-up)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(highlight=False, soft_wrap=True, width=_pipe_width(sys.stdout))
    return _console


def _pipe_width(stream) -> int | None:
    """Rich assumes 80 columns when output is piped, which folds tables into unreadable cells;
    a pipe has no width, so give tables room (COLUMNS still wins)."""
    import os

    if is_tty(stream) or os.environ.get("COLUMNS"):
        return None
    return 200


def err_console():
    """The stderr console: notes, progress and errors go here so stdout stays clean."""
    global _err_console
    if _err_console is None:
        from rich.console import Console

        _err_console = Console(stderr=True, highlight=False, soft_wrap=True)
    return _err_console


def want_json(flag: bool = False) -> bool:
    """True when this command should print JSON (its own --json or the global one)."""
    return flag or options.json


def print_json(obj: Any) -> None:
    """Plain JSON on stdout, nothing else (no rich markup, no colour)."""
    import json

    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def note(message: str) -> None:
    """A progress/status note on stderr; silent with -q or --json."""
    if options.quiet or options.json:
        return
    err_console().print(message)


def is_tty(stream=None) -> bool:
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
