"""Run a command and record its pid and exit code in files, so a later `lz` (not its parent) can
find it and read how it ended.

Usage: python -I -S _wrap.py EXIT_FILE -- ARGV...

The wrapper leads the job's process group. `lz deploy stop` signals the whole group: the command
gets SIGTERM and handles it; the wrapper survives it (a Python handler, reset to the default in the
child by exec) to wait for the command and write its code. Signal deaths are written as 128+N.

The command's pid and start time go to EXIT_FILE with `.exit` replaced by `.pid` before it runs,
so `lz` can end it even when the wrapper is gone, and the command is told by the kernel to die
with the wrapper (PR_SET_PDEATHSIG): a `kill -9` of the wrapper never leaves an engine behind.
Stdlib only, started with -I -S: it costs ~20 ms and never imports lz.
"""

import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _die_with_parent(parent: int):
    """A preexec_fn: SIGKILL this child when its parent (the wrapper) dies, however it dies."""

    def arm() -> None:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            return  # not Linux: stop still ends the group, and the pid file names the command
        if os.getppid() != parent:  # the wrapper died before the line above took effect
            os._exit(137)

    return arm


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
        return raw[raw.rfind(")") + 2 :].split()[19]
    except (OSError, IndexError):
        return ""


def main() -> int:
    exit_file, sep, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    if sep != "--" or not argv:
        print("usage: _wrap.py EXIT_FILE -- ARGV...", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)
    try:
        child = subprocess.Popen(argv, preexec_fn=_die_with_parent(os.getpid()))
    except OSError as exc:
        print(f"lz: cannot start {argv[0]!r}: {exc}", file=sys.stderr, flush=True)
        _write(exit_file, "127\n")
        return 127
    pid_file = exit_file[: -len(".exit")] + ".pid" if exit_file.endswith(".exit") else exit_file + ".pid"
    _write(pid_file, f"{child.pid} {_start_time(child.pid)}\n")
    code = child.wait()
    code = 128 - code if code < 0 else code
    _write(exit_file, f"{code}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
