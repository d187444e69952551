"""What the stand-ins share about the processes they run for a job or a pod."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def end_group(proc: subprocess.Popen, grace: float = 10) -> None:
    """End a process started in its own group, and everything it started: SIGTERM as a cluster's
    stop does, SIGKILL after `grace` seconds, as Kubernetes and Ray do after theirs."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
