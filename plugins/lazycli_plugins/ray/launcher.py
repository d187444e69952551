"""Run jobs on a Ray cluster through its Jobs REST API (the dashboard, `ray_address`).

One HTTP request per call: the `ray` CLI costs seconds per call and would pin Ray's version in
lz's environment. The entrypoint is the same bash wrapper the other launchers use: it picks a
free port on the node the job's driver runs on and prints `LAZYCLI_ENDPOINT host:port`; the host
reported is that node's address as Ray gives it (`driver_agent_http_address`).
Secrets travel in the request body's `runtime_env.env_vars` (never on a command line); note that
Ray shows a job's runtime_env to anyone who can read its dashboard.

Multi-node (`lz deploy … --nodes N`, Resources.cluster == "ray"): the cluster already spans the
nodes, so the job is still one entrypoint: vLLM with its Ray executor, which reserves a placement
group of one GPU per worker over the cluster. The entrypoint then asks for no GPU: vLLM's driver
needs a free GPU on its own node for the first bundle, and a GPU held by the entrypoint is not free.
With no entrypoint resources Ray runs the driver on the head node, so the head must have GPUs.
VLLM_HOST_IP is left unset: runtime_env reaches every worker of the job on every node, and vLLM
keeps that variable per worker (each worker's address is the node address Ray knows).
"""

from __future__ import annotations

import json
import re
import shlex
import time
import uuid
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
AGENT_WAIT = 60  # seconds a just-started head may take to have a job agent

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


def _gpus(node: dict) -> int:
    return int((node.get("resources_total") or {}).get("GPU", 0))


class RayLauncher:
    name = NAME
    multi_node = True  # --nodes N: one entrypoint; vLLM spreads over the existing cluster itself
    multi_node_how = "over the Ray cluster at ray_address (vLLM's placement group, one GPU per worker)"

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
        if resources.gpus and resources.cluster != "ray":  # a cluster job's GPUs are vLLM's to place
            body["entrypoint_num_gpus"] = resources.gpus
        if resources.memory:
            body["entrypoint_memory"] = _bytes(resources.memory)
        if resources.extra.get("resources"):
            body["entrypoint_resources"] = dict(resources.extra["resources"])
        return body

    def describe(self, argv: list[str], resources: Resources, env: dict[str, str], log_path=None) -> str:
        shown = {k: "<not shown>" for k in env}
        body = {
            **self.body(argv, resources, shown, job_name(log_path)),
            "submission_id": "lz_<new per submit>",
        }
        spread = (
            f"# one entrypoint on the head node, no GPU of its own; vLLM's placement group takes "
            f"{resources.nodes} node(s) x {resources.gpus} GPU(s) of the cluster (checked at submit)\n"
            if resources.cluster == "ray"
            else ""
        )
        return (
            f"# launcher: ray  resources: {resources_text(resources)}\n{spread}"
            f"# environment in runtime_env.env_vars (values not shown): {env_names(env)}\n"
            f"POST {self._address(resources)}/api/jobs/\n" + json.dumps(body, indent=2) + "\n"
        )

    # --- multi-node: what the cluster has ------------------------------------------------------

    def nodes(self, resources: Resources) -> list[dict] | None:
        """The cluster's live nodes from the State API (GET /api/v0/nodes: node_ip, is_head_node,
        resources_total), or None where the dashboard does not serve it (then nothing is checked)."""
        url = f"{self._address(resources)}/api/v0/nodes?limit=10000"
        resp = self._request("GET", url)
        try:
            found = resp.json()["data"]["result"]["result"] if resp.status_code == 200 else None
        except (ValueError, KeyError, TypeError):
            found = None
        if found is None:
            return None
        return [n for n in found if n.get("state", "ALIVE") == "ALIVE"]

    def check_resources(self, resources: Resources) -> None:
        """A multi-node job must fit the cluster: `nodes` nodes with `gpus` GPUs each, the head one
        of them (vLLM's driver runs there and keeps a worker on its own node). One line if not."""
        if resources.cluster != "ray":
            return
        nodes = self.nodes(resources)
        if nodes is None:
            return
        address, per, want = self._address(resources), resources.gpus, resources.nodes
        counts = sorted((_gpus(n) for n in nodes), reverse=True)
        fit = [c for c in counts if c >= per]
        head = next((n for n in nodes if n.get("is_head_node")), None)
        if len(fit) < want:
            raise LzError(
                f"--nodes {want} --gpus {per * want} needs {want} node(s) with {per} GPU(s) each, and the "
                f"Ray cluster at {address} has {len(fit)} (GPUs per node: {', '.join(map(str, counts))})",
                hint=_fitting_hint(counts, per, _gpus(head) if head else None),
            )
        if head is not None and per and _gpus(head) < per:
            raise LzError(
                f"the head of the Ray cluster at {address} has {_gpus(head)} GPU(s), and vLLM's driver runs "
                f"there (the job's entrypoint) with {per} of its workers",
                hint="start the Ray head on a GPU node like the others, or use --launcher slurm",
            )

    # --- the contract -------------------------------------------------------------------------

    def submit(self, argv: list[str], resources: Resources, env: dict[str, str], log_path: Path) -> Job:
        if resources.nodes != 1 and resources.cluster != "ray":
            raise LzError(
                f"the ray launcher starts one entrypoint, not {resources.nodes} nodes",
                hint="let the program spread over the Ray cluster itself (e.g. vLLM's Ray backend)",
            )
        address = self._address(resources)  # the cluster's fit was asked before (lz deploy: check_resources)
        body = self.body(argv, resources, env, job_name(log_path))
        body["submission_id"] = f"lz_{uuid.uuid4().hex[:16]}"  # ours: a repeated POST cannot run twice
        resp = self._post_job(address, body)
        if resp.status_code >= 400:
            reason = resp.text.strip()[:300]
            for value in env.values():  # Ray may echo the runtime_env it refused
                if len(value) >= 8:
                    reason = reason.replace(value, "***")
            raise LzError(f"Ray refused the job at {address}: {reason}", hint="see the dashboard")
        return Job(
            launcher=NAME,
            job_id=body["submission_id"],
            log_path=str(log_path),
            extra={"address": address},
        )

    def _post_job(self, address: str, body: dict):
        """POST /api/jobs/. A head that has just started answers 500 "No available agent" until its
        job agent is up: asked again for up to AGENT_WAIT s. A retry of a POST that did go through
        is refused as a duplicate submission_id, which means it was submitted."""
        deadline = time.monotonic() + AGENT_WAIT
        first = True
        while True:
            resp = self._request("POST", f"{address}/api/jobs/", json=body)
            if not first and resp.status_code == 400 and "already exists" in resp.text:
                resp.status_code = 200
            if (
                resp.status_code != 500
                or "No available agent" not in resp.text
                or time.monotonic() > deadline
            ):
                return resp
            first = False
            time.sleep(2)

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


def _fitting_hint(counts: list[int], per: int, head: int | None) -> str:
    """The largest even spread the cluster holds (the head one of its nodes), as flags that would
    fit, or what to add."""
    if per and not any(counts):
        return "the cluster has no GPU: add GPU nodes to it"
    if per == 0:
        return f"it has {len(counts)} live node(s): ask for --nodes {len(counts)} or fewer, or add nodes"
    others = list(counts)
    if head is not None:
        others.remove(head)
    spreads = []  # (GPUs in all, -nodes, GPUs per node, nodes): the most GPUs, then the fewest nodes
    for k in range(1, len(counts) + 1):
        chosen = ([head] + others[: k - 1]) if head is not None else counts[:k]
        spreads.append((k * min(chosen), -k, min(chosen), k))
    _, _, each, nodes = max(spreads)
    if each == 0:
        return "the Ray head has no GPU: start it on a GPU node, or add GPU nodes"
    return f"it holds --nodes {nodes} --gpus {nodes * each}; or add nodes to the Ray cluster"
