"""The `sco` launcher: SenseCore's `srun -p P --workspace-id W -f pt -r SPEC.N -N nodes` form."""

from __future__ import annotations

from functools import cache

from lazycli.hookspecs import LauncherSpec, SettingsSpec, hookimpl


def _factory():
    from lazycli_plugins.sco.launcher import ScoLauncher

    return ScoLauncher()


@hookimpl
def lazycli_launchers():
    yield LauncherSpec(
        name="sco",
        factory=_factory,
        description="SenseCore (SCO): srun --workspace-id, JSON job states, IP from a marker line",
    )


@cache
def _settings_model():
    from pydantic import BaseModel, Field

    class ScoSettings(BaseModel):
        partition: str | None = Field(None, description="SenseCore partition")
        workspace_id: str | None = Field(None, description="SenseCore workspace id")
        resource_type: str = Field("N3lS.Ii.I60", description="SenseCore resource spec (srun -r SPEC.GPUS)")
        framework: str = Field("pt", description="SenseCore framework (srun -f)")

    return ScoSettings


@hookimpl
def lazycli_settings():
    yield SettingsSpec(name="sco", model=_settings_model, description="SenseCore srun defaults")
