"""The `ray` launcher: jobs through the Ray Jobs REST API (no `ray` import, no CLI call)."""

from __future__ import annotations

from functools import cache

from lazycli.hookspecs import LauncherSpec, SettingsSpec, hookimpl


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


@cache
def _settings_model():
    from pydantic import BaseModel, Field

    from lazycli.settings import HttpUrl

    class RaySettings(BaseModel):
        address: HttpUrl = Field("http://127.0.0.1:8265", description="Ray dashboard / Jobs API address")

    return RaySettings


@hookimpl
def lazycli_settings():
    yield SettingsSpec(name="ray", model=_settings_model, description="Ray Jobs API")
