"""The `local` launcher: runs a job on this machine, in its own session and process group, with its
output in a log file. Jobs outlive the `lz` process that started them; status, logs and cancel work
from any later `lz` process (everything needed is in the Job record and files beside the log).
"""

from __future__ import annotations

from lazycli.hookspecs import LauncherSpec, hookimpl


def _factory():
    from lazycli_plugins.local.launcher import LocalLauncher

    return LocalLauncher()


@hookimpl
def lazycli_launchers():
    yield LauncherSpec(
        name="local",
        factory=_factory,
        description="this machine: own process group, log file, free port, survives lz exiting",
    )
