"""The `slurm` launcher: sbatch with an explicit job script, squeue/scontrol for status.

Kept light: the launcher class lives in `.launcher` and is imported when a launcher is made.
"""

from __future__ import annotations

from lazycli.hookspecs import LauncherSpec, hookimpl


def _factory():
    from lazycli_plugins.slurm.launcher import SlurmLauncher

    return SlurmLauncher()


@hookimpl
def lazycli_launchers():
    yield LauncherSpec(
        name="slurm",
        factory=_factory,
        description="Slurm cluster: sbatch job script, status from squeue/scontrol/jobcomp, scancel",
    )
