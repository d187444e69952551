"""Run jobs on a Ray cluster through its Jobs REST API (the dashboard, `ray_address`).

One HTTP request per call: the `ray` CLI costs seconds per call and would pin Ray's version in
lz's environment. The entrypoint is the same bash wrapper the other launchers use: it picks a
free port on the node the job's driver runs on and prints `LAZYCLI_ENDPOINT host:port`; the host
reported is that node's address as Ray gives it (`driver_agent_http_address`).
Secrets travel in the request body's `runtime_env.env_vars` (never on a command line); note that
Ray shows a job's runtime_env to anyone who can read its dashboard.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlparse

from lazycli.errors import LzError
from lazycli.launchers import (
    Job,
    Resources,
    Status,
    env_names,
    find_endpoint,
    job_name,
    last_lines,
    map_state,
    resources_text,
    wrapper_script,
)

NAME = "ray"
HTTP_TIMEOUT = 30

# Ray's JobStatus values, mapped explicitly; others are UNKNOWN.
STATES: dict[str, Status] = {
    "PENDING": Status.PENDING,
    "RUNNING": Status.RUNNING,
    "SUCCEEDED": Status.COMPLETED,
    "FAILED": Status.FAILED,
    "STOPPED": Status.CANCELLED,
}


def _settings():
    """This plugin's settings (`ray_*`, declared in its __init__), typed."""
    from lazycli import settings

    return settings.section("ray")


def _bytes(memory: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?", memory.strip(), re.IGNORECASE)
    if not m:
        raise LzError(f"bad memory size {memory!r} for the ray launcher", hint="use e.g. 16G or 512M")
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[m.group(2).upper()]
    return int(float(m.group(1)) * scale)


class RayLauncher:
    name = NAME

    def _address(self, resources: Resources | None = None, job: Job | None = None) -> str:
        extra = (resources.extra if resources else None) or (job.extra if job else {}) or {}
        return str(extra.get("address") or _settings().address).rstrip("/")

    def _request(self, method: str, url: str, **kwargs):
        import requests

        try:
            resp = requests.request(method, url, timeout=HTTP_TIMEOUT, **kwargs)
        except requests.ConnectionError:
            raise LzError(
                f"the Ray Jobs API at {url} cannot be reached",
                hint="start a head (`ray start --head`) or set ray_address (LAZYCLI_RAY_ADDRESS)",
            ) from None
        except requests.Timeout:
            raise LzError(
                f"the Ray Jobs API at {url} did not answer within {HTTP_TIMEOUT}s",
                hint="check the head node's load and the dashboard process",
            ) from None
        return resp

    def _checked(self, resp, url: str):
        """`resp` unless it is an error. Only the status is reported: Ray's error text may echo
        the submitted runtime_env, whose env vars can hold secrets."""
        if resp.status_code >= 400:
            raise LzError(
                f"the Ray Jobs API at {url} answered HTTP {resp.status_code}",
                hint="see the Ray dashboard's logs on the head node",
            )
        return resp

    def body(self, argv: list[str], resources: Resources, env: dict[str, str], name: str) -> dict:
        """The JSON body of POST /api/jobs/."""
        body: dict = {
            # Ray runs the entrypoint with /bin/sh; the wrapper wants bash.
            "entrypoint": "bash -c " + shlex.quote(wrapper_script(argv)),
            "metadata": {"lazycli_job": name},
        }
        if env:
            body["runtime_env"] = {"env_vars": dict(env)}
        if resources.cpus:
            body["entrypoint_num_cpus"] = resources.cpus
        if resources.gpus:
            body["entrypoint_num_gpus"] = resources.gpus
        if resources.memory:
            body["entrypoint_memory"] = _bytes(resources.memory)
        if resources.extra.get("resources"):
            body["entrypoint_resources"] = dict(resources.extra["resources"])
        return body

    def describe(self, argv: list[str], resources: Resources, env: dict[str, str], log_path=None) -> str:
        shown = {k: "<not shown>" for k in env}
        body = self.body(argv, resources, shown, job_name(log_path))
        return (
            f"# launcher: ray  resources: {resources_text(resources)}\n"
            f"# environment in runtime_env.env_vars (values not shown): {env_names(env)}\n"
            f"POST {self._address(resources)}/api/jobs/\n" + json.dumps(body, indent=2) + "\n"
        )

    # --- the contract -------------------------------------------------------------------------

    def submit(self, argv: list[str], resources: Resources, env: dict[str, str], log_path: Path) -> Job:
        if resources.nodes != 1:
            raise LzError(
                f"the ray launcher starts one entrypoint, not {resources.nodes} nodes",
                hint="let the program spread over the Ray cluster itself (e.g. vLLM's Ray backend)",
            )
        address = self._address(resources)
        resp = self._request(
            "POST", f"{address}/api/jobs/", json=self.body(argv, resources, env, job_name(log_path))
        )
        if resp.status_code >= 400:
            reason = resp.text.strip()[:300]
            for value in env.values():  # Ray may echo the runtime_env it refused
                if len(value) >= 8:
                    reason = reason.replace(value, "***")
            raise LzError(f"Ray refused the job at {address}: {reason}", hint="see the dashboard")
        data = resp.json()
        return Job(
            launcher=NAME,
            job_id=data["submission_id"],
            log_path=str(log_path),
            extra={"address": address},
        )

    def _details(self, job: Job) -> dict | None:
        url = f"{self._address(job=job)}/api/jobs/{job.job_id}"
        resp = self._request("GET", url)
        if resp.status_code == 404:
            return None
        return self._checked(resp, url).json()

    def status(self, job: Job) -> Status:
        details = self._details(job)
        if details is None:
            return Status.UNKNOWN
        state = map_state(STATES, details.get("status"))
        if details.get("driver_agent_http_address"):
            job.extra["node"] = urlparse(details["driver_agent_http_address"]).hostname
        if state.finished:
            job.exit_code = details.get("driver_exit_code")
            if state is Status.FAILED:
                job.reason = details.get("error_type") or (details.get("message") or "")[:200]
        return state

    def endpoint(self, job: Job) -> tuple[str, int | None] | None:
        if job.host and job.port:
            return job.host, job.port
        found = find_endpoint(self.logs(job))
        if found is None:
            return None
        if not job.extra.get("node"):
            self.status(job)
        job.host, job.port = job.extra.get("node") or found[0], found[1]
        return job.host, job.port

    def logs(self, job: Job, lines: int | None = None) -> str:
        url = f"{self._address(job=job)}/api/jobs/{job.job_id}/logs"
        resp = self._request("GET", url)
        if resp.status_code == 404:
            return ""
        self._checked(resp, url)
        text = resp.json().get("logs", "")
        if job.log_path and lines is None:  # a copy where the other launchers keep their logs
            Path(job.log_path).parent.mkdir(parents=True, exist_ok=True)
            Path(job.log_path).write_text(text, encoding="utf-8")
        return last_lines(text, lines)

    def cancel(self, job: Job) -> None:
        resp = self._request("POST", f"{self._address(job=job)}/api/jobs/{job.job_id}/stop")
        if resp.status_code not in (200, 404):
            raise LzError(
                f"Ray could not stop job {job.job_id}: {resp.text.strip()[:300]}", hint="see the dashboard"
            )
