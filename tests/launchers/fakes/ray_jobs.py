"""A stand-in Ray head on 127.0.0.1: the dashboard's Jobs REST API and State API node list, for the
ray launcher where `ray[default]` is not installed.

What it answers is shaped like Ray's own (ray/dashboard/modules/job and the State API): POST
/api/jobs/ takes a JobSubmitRequest (an unknown field is a 400, as in Ray) and runs the entrypoint
with /bin/sh on this machine, with the runtime_env's env_vars and RAY_ADDRESS set to the cluster's
GCS address as Ray's job supervisor does; GET /api/jobs/ID, /api/jobs/ID/logs, POST
/api/jobs/ID/stop; GET /api/v0/nodes lists the nodes it was given. The cluster itself is the
stand-in `ray` CLI (tests/deploy/standins/bin/ray): a head started here, whose address the
entrypoint's vLLM stand-in joins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lazycli.fsutil import free_port
from tests.launchers.fakes.procs import end_group

STANDIN_RAY = Path(__file__).resolve().parents[2] / "deploy" / "standins" / "bin" / "ray"
# The fields of Ray's JobSubmitRequest (ray.dashboard.modules.job.common).
SUBMIT_FIELDS = {
    "entrypoint", "submission_id", "job_id", "runtime_env", "metadata", "entrypoint_num_cpus",
    "entrypoint_num_gpus", "entrypoint_memory", "entrypoint_resources",
}  # fmt: skip


def node(ip: str, gpus: int, *, head: bool = False, cpus: int = 8) -> dict:
    """One entry of the State API's node list (ray.util.state.common.NodeState)."""
    resources = {"CPU": float(cpus), "memory": 64.0 * 2**30, f"node:{ip}": 1.0}
    if gpus:
        resources["GPU"] = float(gpus)
    if head:
        resources["node:__internal_head__"] = 1.0
    return {
        "node_id": uuid.uuid4().hex * 2,
        "node_ip": ip,
        "is_head_node": head,
        "state": "ALIVE",
        "state_message": None,
        "node_name": ip,
        "resources_total": resources,
        "labels": {},
    }


class _Job:
    def __init__(self, sid: str, body: dict, env: dict, log: Path) -> None:
        self.sid, self.body, self.log = sid, body, log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                ["/bin/sh", "-c", body["entrypoint"]],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.stopped = False

    def info(self) -> dict:
        code = self.proc.poll()
        if code is None:
            status = "RUNNING"
        elif self.stopped:
            status = "STOPPED"
        else:
            status = "SUCCEEDED" if code == 0 else "FAILED"
        return {
            "type": "SUBMISSION",
            "submission_id": self.sid,
            "job_id": None,
            "status": status,
            "entrypoint": self.body["entrypoint"],
            "message": f"Job finished with exit code {code}" if code is not None else "Job is running",
            "error_type": None if code in (None, 0) or self.stopped else "JOB_ENTRYPOINT_COMMAND_ERROR",
            "driver_exit_code": code,
            "driver_agent_http_address": "http://127.0.0.1:52365",
            "metadata": self.body.get("metadata") or {},
            "runtime_env": self.body.get("runtime_env") or {},
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.stopped = True
            end_group(self.proc)


class FakeRayHead:
    """`with FakeRayHead(tmp, nodes=[...]) as head:` head.url is the dashboard address."""

    def __init__(self, workdir: Path, nodes: list[dict] | None = None, agent_late_by: int = 0) -> None:
        self.workdir = workdir
        self.agent_late_by = agent_late_by  # submissions refused before the job agent is "up"
        self.nodes = nodes if nodes is not None else [node("127.0.0.1", 0, head=True)]
        self.jobs: dict[str, _Job] = {}
        self.requests: list[tuple[str, str, dict | None]] = []
        self.lock = threading.Lock()
        self.gcs_port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.cluster: subprocess.Popen | None = None

    def __enter__(self) -> FakeRayHead:
        env = {**os.environ, "RAY_STANDIN_DIR": str(self.workdir)}
        argv = [sys.executable, str(STANDIN_RAY), "start", "--head", "--node-ip-address=127.0.0.1",
                f"--port={self.gcs_port}", "--block"]  # fmt: skip
        self.cluster = subprocess.Popen(argv, env=env, start_new_session=True)
        cluster_file = self.workdir / f"ray-standin-{self.gcs_port}.json"
        deadline = time.monotonic() + 20
        while not cluster_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        for job in list(self.jobs.values()):
            job.stop()
        if self.cluster is not None:
            self.cluster.terminate()
            self.cluster.wait(10)

    def submitted(self) -> list[dict]:
        return [body for method, path, body in self.requests if method == "POST" and path == "/api/jobs/"]

    # --- API ---------------------------------------------------------------------------------

    def submit(self, body: dict) -> tuple[int, dict | str]:
        if self.agent_late_by > 0:  # what Ray's job head answers while no job agent is up
            self.agent_late_by -= 1
            return 500, "No available agent to submit job, please try again later."
        unknown = set(body) - SUBMIT_FIELDS
        if unknown or not isinstance(body.get("entrypoint"), str):
            return 400, {"error": f"bad JobSubmitRequest: {sorted(unknown) or 'no entrypoint'}"}
        sid = body.get("submission_id") or f"raysubmit_{uuid.uuid4().hex[:16]}"
        if sid in self.jobs:
            return 400, f"Job with submission_id {sid} already exists. Please use a different submission_id."
        env = {**os.environ, **((body.get("runtime_env") or {}).get("env_vars") or {})}
        env.update({"RAY_ADDRESS": f"127.0.0.1:{self.gcs_port}", "RAY_STANDIN_DIR": str(self.workdir)})
        self.jobs[sid] = _Job(sid, body, env, self.workdir / f"{sid}.log")
        return 200, {"submission_id": sid, "job_id": None}

    def node_list(self) -> dict:
        n = len(self.nodes)
        result = {"total": n, "num_after_truncation": n, "num_filtered": n, "result": self.nodes,
                  "partial_failure_warning": "", "warnings": None}  # fmt: skip
        return {"result": True, "msg": "", "data": {"result": result}}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, code: int, body: dict | str) -> None:
                data = (
                    body.encode() if isinstance(body, str) else json.dumps(body).encode()
                )  # Ray's errors: text
                self.send_response(code)
                self.send_header(
                    "Content-Type", "text/plain" if isinstance(body, str) else "application/json"
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                path = self.path.split("?", 1)[0]
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                parts = [p for p in path.split("/") if p]
                with fake.lock:
                    fake.requests.append((method, path, body))
                    if method == "GET" and path == "/api/v0/nodes":
                        return self._send(200, fake.node_list())
                    if parts[:2] != ["api", "jobs"]:
                        return self._send(404, {"error": path})
                    if method == "POST" and len(parts) == 2:
                        return self._send(*fake.submit(body or {}))
                    job = fake.jobs.get(parts[2]) if len(parts) > 2 else None
                    if job is None:
                        return self._send(404, {"error": f"Job {parts[2:3]} does not exist"})
                    if method == "GET" and len(parts) == 3:
                        return self._send(200, job.info())
                    if method == "GET" and parts[3:] == ["logs"]:
                        return self._send(200, {"logs": job.log.read_text(errors="replace")})
                    if method == "POST" and parts[3:] == ["stop"]:
                        job.stop()
                        return self._send(200, {"stopped": True})
                    return self._send(405, {"error": method})

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

        return Handler
