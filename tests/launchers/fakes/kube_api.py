"""A stand-in Kubernetes API server (plus a tiny "kubelet") on 127.0.0.1 for the k8s launcher.

The launcher talks to it through the official `kubernetes` client, exactly as to a real cluster
(KUBECONFIG points here). Every object it receives is checked against the API schema: it must
deserialize into the client's model (required fields present, types right) and serialize back to
the very same JSON (no unknown field, no misspelled key), else the server answers 422 as a real
one would. Deployments and Jobs get one pod each, whose container command runs here as a local
process; pod phases, container states, Job conditions and pod logs follow that process.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import re
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from tests.launchers.fakes.procs import end_group

ROUTES = {
    ("api/v1", "secrets"): "V1Secret",
    ("api/v1", "services"): "V1Service",
    ("apis/apps/v1", "deployments"): "V1Deployment",
    ("apis/batch/v1", "jobs"): "V1Job",
}
PATH = re.compile(
    r"^/(api/v1|apis/apps/v1|apis/batch/v1)/namespaces/([^/]+)/([a-z]+)(?:/([^/]+))?(?:/(log))?$"
)


class _Raw:
    def __init__(self, data: str) -> None:
        self.data = data


def schema_check(body: dict, model: str) -> str | None:
    """None when `body` is a valid `model` object, else what is wrong."""
    from kubernetes import client

    api = client.ApiClient()
    try:
        if "response_text" in inspect.signature(api.deserialize).parameters:  # client ≥ 35
            obj = api.deserialize(json.dumps(body), model, "application/json")
        else:  # older clients take the response object
            obj = api.deserialize(_Raw(json.dumps(body)), model)
    except (ValueError, TypeError) as exc:
        return f"invalid {model}: {exc}"
    back = api.sanitize_for_serialization(obj)
    if back != body:
        return f"{model} has fields the API does not know: {_diff(body, back)}"
    return None


def _diff(sent, known, path="") -> str:
    if isinstance(sent, dict) and isinstance(known, dict):
        for key in sent:
            if key not in known:
                return f"{path}.{key}"
            found = _diff(sent[key], known[key], f"{path}.{key}")
            if found:
                return found
    elif isinstance(sent, list) and isinstance(known, list):
        for i, (a, b) in enumerate(zip(sent, known, strict=False)):
            found = _diff(a, b, f"{path}[{i}]")
            if found:
                return found
    elif sent != known:
        return path
    return ""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _env_value(var: dict) -> str:
    """A container variable's value; the downward API's pod IP is this machine (the pods run here)."""
    field = ((var.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
    return "127.0.0.1" if field == "status.podIP" else var.get("value", "")


class Pod:
    def __init__(self, owner: dict, kind: str, env: dict, workdir: Path) -> None:
        template = owner["spec"]["template"]
        container = template["spec"]["containers"][0]
        self.kind = kind
        self.name = f"{owner['metadata']['name']}-{uuid.uuid4().hex[:5]}"
        self.labels = template["metadata"].get("labels", {})
        self.spec = template["spec"]
        self.image = container["image"]
        self.log = workdir / f"{self.name}.log"
        self.created = _now()
        full_env = {**os.environ, **env, **{e["name"]: _env_value(e) for e in container.get("env", [])}}
        argv = list(container.get("command", [])) + list(container.get("args", []))
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
            )

    def as_dict(self, namespace: str) -> dict:
        code = self.proc.poll()
        state: dict = {"running": {"startedAt": self.created}}
        last: dict = {}
        phase = "Running"
        if code is not None:
            terminated = {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}
            if self.kind == "Deployment":  # restartPolicy Always: the kubelet keeps restarting it
                state, last = {"waiting": {"reason": "CrashLoopBackOff"}}, {"terminated": terminated}
            else:
                state, phase = {"terminated": terminated}, ("Succeeded" if code == 0 else "Failed")
        status = {
            "name": "main",
            "image": self.image,
            "imageID": "",
            "ready": code is None,
            "restartCount": 0,
            "state": state,
        }
        if last:
            status["lastState"] = last
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": self.name,
                "namespace": namespace,
                "labels": self.labels,
                "creationTimestamp": self.created,
            },
            "spec": self.spec,
            "status": {"phase": phase, "podIP": "127.0.0.1", "containerStatuses": [status]},
        }

    def kill(self) -> None:
        if self.proc.poll() is None:
            end_group(self.proc)


class FakeKube:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.objects: dict[tuple[str, str, str], dict] = {}  # (resource, ns, name) → object
        self.pods: dict[tuple[str, str], Pod] = {}  # (ns, owner name) → pod
        self.requests: list[tuple[str, str, dict | None]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeKube:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        for pod in list(self.pods.values()):
            pod.kill()

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "fake", "user": {"token": "fake-token"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                    "current-context": "fake",
                }
            )
        )
        return path

    # --- API ---------------------------------------------------------------------------------

    def _secret_env(self, ns: str, container: dict) -> dict:
        env = {}
        for src in container.get("envFrom", []):
            secret = self.objects.get(("secrets", ns, src.get("secretRef", {}).get("name")))
            if secret:
                env.update(secret.get("stringData", {}))
                env.update({k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()})
        return env

    def create(self, group: str, ns: str, resource: str, body: dict) -> tuple[int, dict]:
        model = ROUTES.get((group, resource))
        if model is None:
            return 404, _status(404, "NotFound", f"no resource {resource}")
        problem = schema_check(body, model)
        if problem:
            return 422, _status(422, "Invalid", problem)
        name = body["metadata"]["name"]
        if (resource, ns, name) in self.objects:
            return 409, _status(409, "AlreadyExists", f'{resource} "{name}" already exists')
        body = json.loads(json.dumps(body))
        body["metadata"].setdefault("namespace", ns)
        body["metadata"]["uid"] = str(uuid.uuid4())
        if resource == "services":
            body["spec"]["clusterIP"] = "127.0.0.1"
        if resource in ("deployments", "jobs"):
            container = body["spec"]["template"]["spec"]["containers"][0]
            kind = "Deployment" if resource == "deployments" else "Job"
            self.pods[(ns, name)] = Pod(body, kind, self._secret_env(ns, container), self.workdir)
        self.objects[(resource, ns, name)] = body
        return 201, body

    def read(self, resource: str, ns: str, name: str) -> tuple[int, dict]:
        obj = self.objects.get((resource, ns, name))
        if obj is None:
            return 404, _status(404, "NotFound", f'{resource} "{name}" not found')
        if resource == "jobs":
            obj = dict(obj, status=self._job_status(ns, name))
        return 200, obj

    def _job_status(self, ns: str, name: str) -> dict:
        pod = self.pods.get((ns, name))
        code = pod.proc.poll() if pod else None
        if code is None:
            return {"active": 1}
        if code == 0:
            return {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
        return {
            "failed": 1,
            "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}],
        }

    def delete(self, resource: str, ns: str, name: str) -> tuple[int, dict]:
        obj = self.objects.pop((resource, ns, name), None)
        if obj is None:
            return 404, _status(404, "NotFound", f'{resource} "{name}" not found')
        pod = self.pods.pop((ns, name), None) if resource in ("deployments", "jobs") else None
        if pod:
            pod.kill()
        # The API answers a Service delete with the Service, the others with a Status.
        return 200, obj if resource == "services" else _status(200, "Success", "deleted")

    def pod_list(self, ns: str, selector: str) -> dict:
        key, _, value = selector.partition("=")
        items = [
            pod.as_dict(ns)
            for (pod_ns, _), pod in self.pods.items()
            if pod_ns == ns and pod.labels.get(key) == value
        ]
        return {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}

    def pod_log(self, ns: str, pod_name: str, tail: int | None) -> str | None:
        for (pod_ns, _), pod in self.pods.items():
            if pod_ns == ns and pod.name == pod_name:
                text = pod.log.read_text(errors="replace")
                return text if tail is None else "".join(text.splitlines(keepends=True)[-tail:])
        return None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, code: int, body, content_type="application/json") -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                m = PATH.match(url.path)
                with fake.lock:
                    fake.requests.append((method, url.path, body))
                    if not m:
                        return self._send(404, _status(404, "NotFound", url.path))
                    group, ns, resource, name, sub = m.groups()
                    if method == "POST" and name is None:
                        return self._send(*fake.create(group, ns, resource, body))
                    if method == "GET" and resource == "pods" and name is None:
                        return self._send(200, fake.pod_list(ns, query.get("labelSelector", [""])[0]))
                    if method == "GET" and resource == "pods" and sub == "log":
                        tail = int(query["tailLines"][0]) if "tailLines" in query else None
                        text = fake.pod_log(ns, name, tail)
                        if text is None:
                            return self._send(404, _status(404, "NotFound", f'pods "{name}" not found'))
                        return self._send(200, text, "text/plain")
                    if method == "GET" and name:
                        return self._send(*fake.read(resource, ns, name))
                    if method == "DELETE" and name:
                        return self._send(*fake.delete(resource, ns, name))
                    return self._send(405, _status(405, "MethodNotAllowed", method))

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

            def do_DELETE(self):
                self._route("DELETE")

        return Handler


def _status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def wait_for(predicate, timeout: float = 10.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return predicate()
