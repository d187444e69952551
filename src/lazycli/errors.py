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


def mask(secret: str) -> str:
    """A secret as it may be shown (in an error, a dry run, `lz keys`): its ends only."""
    secret = secret.strip()
    if len(secret) <= 8:
        return "*" * len(secret)
    return f"{secret[:3]}…{secret[-4:]}"


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


# errno → what to do about it. Only these are expected (the machine's state, the user's files);
# any other OSError is a bug and keeps its traceback.
_OS_HINTS = {
    "EACCES": "check the file's permissions (or run as a user who may read/write it)",
    "EPERM": "check the file's permissions",
    "ENOENT": "check the path",
    "EISDIR": "give a file, not a directory",
    "ENOTDIR": "a part of the path is a file, not a directory",
    "ENOSPC": "free disk space (or set LAZYCLI_HOME to a disk with room)",
    "EDQUOT": "free disk space: the disk quota is used up",
    "EROFS": "the file system is read-only: set LAZYCLI_HOME to a writable folder",
    "ENAMETOOLONG": "use a shorter path",
    "EMFILE": "too many open files: raise `ulimit -n`",
    "EADDRINUSE": "the port is taken: pick another one, or leave the port out",
    "EADDRNOTAVAIL": "use an address of this machine: 127.0.0.1 or 0.0.0.0",
}


def from_os_error(exc: OSError) -> LzError | None:
    """An expected OS error (permissions, missing path, full disk, port taken…) as one line with
    what, where and a hint; None for any other (a bug: it keeps its traceback)."""
    import errno

    name = errno.errorcode.get(exc.errno or 0)
    if name not in _OS_HINTS:
        return None
    where = f": {exc.filename}" if exc.filename else ""
    if exc.filename2:
        where += f" → {exc.filename2}"
    return LzError(f"{exc.strerror or name}{where}", hint=_OS_HINTS[name])
