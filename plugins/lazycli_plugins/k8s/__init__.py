"""The `k8s` launcher: a Deployment + Service for services, a Job for batch work.

The official `kubernetes` client is imported only when a launcher is made (it is slow to import).
"""

from __future__ import annotations

from lazycli.hookspecs import LauncherSpec, hookimpl


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
