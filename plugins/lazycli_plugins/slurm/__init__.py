"""The `slurm` launcher: sbatch with an explicit job script, squeue/scontrol for status.

Kept light: the launcher class lives in `.launcher` and is imported when a launcher is made.
"""

from __future__ import annotations

from functools import cache

from lazycli.hookspecs import LauncherSpec, SettingsSpec, hookimpl


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


@cache
def _settings_model():
    from pydantic import BaseModel, Field

    class SlurmSettings(BaseModel):
        partition: str | None = Field(None, description="Slurm partition (sbatch -p)")
        account: str | None = Field(None, description="Slurm account (sbatch -A)")
        time: str | None = Field(None, description="Slurm time limit, e.g. 04:00:00")

    return SlurmSettings


@hookimpl
def lazycli_settings():
    yield SettingsSpec(name="slurm", model=_settings_model, description="sbatch defaults")
