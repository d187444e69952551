"""The `sco` launcher: SenseCore's `srun -p P --workspace-id W -f pt -r SPEC.N -N nodes` form."""

from __future__ import annotations

from lazycli.hookspecs import LauncherSpec, hookimpl


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
