"""The `ray` launcher: jobs through the Ray Jobs REST API (no `ray` import, no CLI call)."""

from __future__ import annotations

from lazycli.hookspecs import LauncherSpec, hookimpl


def _factory():
    from lazycli_plugins.ray.launcher import RayLauncher

    return RayLauncher()


@hookimpl
def lazycli_launchers():
    yield LauncherSpec(
        name="ray",
        factory=_factory,
        description="Ray cluster: submit, status, logs and stop through the Jobs REST API (/api/jobs/)",
    )
