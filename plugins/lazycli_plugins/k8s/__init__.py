"""The `k8s` launcher: a Deployment + Service for services, a Job for batch work.

The official `kubernetes` client is imported only when a launcher is made (it is slow to import).
"""

from __future__ import annotations

from functools import cache

from lazycli.hookspecs import LauncherSpec, SettingsSpec, hookimpl


def _factory():
    from lazycli_plugins.k8s.launcher import K8sLauncher

    return K8sLauncher()


@hookimpl
def lazycli_launchers():
    yield LauncherSpec(
        name="k8s",
        factory=_factory,
        description="Kubernetes: Deployment + Service (services) or Job (batch), via the kubernetes client",
    )


@cache
def _settings_model():
    from pydantic import BaseModel, Field

    class K8sSettings(BaseModel):
        namespace: str = Field("default", description="Kubernetes namespace")
        image: str | None = Field(None, description="Container image for Kubernetes jobs")
        time_limit: str | None = Field(None, description="Time limit of batch Jobs, e.g. 04:00:00")
        port: int = Field(8000, ge=1, le=65535, description="Container port of services")

    return K8sSettings


@hookimpl
def lazycli_settings():
    yield SettingsSpec(name="k8s", model=_settings_model, description="Kubernetes defaults")
