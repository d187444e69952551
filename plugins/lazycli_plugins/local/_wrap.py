"""Run a command and record its exit code in a file, so a later `lz` (not its parent) can read it.

Usage: python -I -S _wrap.py EXIT_FILE -- ARGV...

The wrapper leads the job's process group. `lz deploy stop` signals the whole group: the command
gets SIGTERM and handles it; the wrapper survives it (a Python handler, reset to the default in the
child by exec) to wait for the command and write its code. Signal deaths are written as 128+N.
Stdlib only, started with -I -S: it costs ~20 ms and never imports lz.
"""

import os
import signal
import subprocess
import sys


def _write(path: str, code: int) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(f"{code}\n")
    os.replace(tmp, path)


def main() -> int:
    exit_file, sep, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    if sep != "--" or not argv:
        print("usage: _wrap.py EXIT_FILE -- ARGV...", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)
    try:
        child = subprocess.Popen(argv)
    except OSError as exc:
        print(f"lz: cannot start {argv[0]!r}: {exc}", file=sys.stderr, flush=True)
        _write(exit_file, 127)
        return 127
    code = child.wait()
    code = 128 - code if code < 0 else code
    _write(exit_file, code)
    return code


if __name__ == "__main__":
    sys.exit(main())
