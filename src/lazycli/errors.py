"""The one exception type for errors a user can cause.

`LzError` ends a command with one clear line (what, where, a hint) and exit code 2; the CLI's
entry point catches it. Anything else is a bug: it tracebacks and exits 1.
"""

from __future__ import annotations


class LzError(Exception):
    """An error the user can fix: shown as one line plus a hint, exit code 2."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


def did_you_mean(word: str, candidates, *, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Closest candidates to `word` (case-insensitive), best first."""
    import difflib

    lowered = {c.lower(): c for c in candidates}
    return [lowered[m] for m in difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=cutoff)]


def unknown(kind: str, name: str, candidates, *, hint: str | None = None) -> LzError:
    """An LzError for an unknown name, with a did-you-mean when something is close."""
    close = did_you_mean(name, candidates)
    if close:
        suggestion = "did you mean " + " or ".join(repr(c) for c in close) + "?"
        hint = suggestion if hint is None else f"{suggestion} {hint}"
    return LzError(f"unknown {kind} {name!r}", hint=hint)
