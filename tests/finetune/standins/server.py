"""The stand-in servers (see the package docstring): one HTTP server, one `Vendor` per wire format."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

KEY = "sk-test-online-0123456789abcdef"
RUN_STEPS = 3  # metric events while a job runs


class Refuse(Exception):
    """An error answer: HTTP status and the vendor's body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class Stream(list):
    """Server-sent events (a streamed chat answer), each item one `data:` JSON payload."""


class Drop(Exception):
    """Close the connection without an answer."""


@dataclass
class Job:
    id: str
    model: str
    training: str
    body: dict
    states: list[str]
    step: int = 0
    polls: int = 0
    tuned: str | None = None
    failed: bool = False
    cancelled: bool = False
    metrics: int = 0
    events: list[dict] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.states[min(self.step, len(self.states) - 1)]


@dataclass
class Upload:
    fields: dict[str, str]
    filename: str
    content: bytes
    content_type: str


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Upload]]:
    """(text fields, files) of a multipart/form-data body, parsed as a server would."""
    if not content_type.startswith("multipart/form-data"):
        raise Refuse(400, {"error": {"message": f"expected multipart/form-data, got {content_type}"}})
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            files[name] = Upload({}, filename, payload, part.get_content_type())
        else:
            fields[name] = payload.decode("utf-8")
    return fields, files


class Vendor:
    """OpenAI's wire; the others override the routes that differ."""

    name = "openai"
    base = "/v1"  # where the fine-tuning routes live
    provider_base = "/v1"  # the provider's (chat) base URL
    upload_path = "/v1/files"
    chat_path = "/v1/chat/completions"
    states = ["validating_files", "queued", "running", "running", "running", "succeeded"]
    running = "running"
    failed_state = "failed"
    cancelled_state = "cancelled"
    roles = ("system", "user", "assistant", "tool")
    hyper = ("n_epochs", "batch_size", "learning_rate_multiplier")

    def __init__(self, server: StandIn) -> None:
        self.server = server

    # --- errors in the vendor's body shape

    def error(self, kind: str, message: str) -> Refuse:
        codes = {
            "auth": (401, "invalid_api_key"),
            "quota": (429, "insufficient_quota"),
            "file": (400, "invalid_file_format"),
            "bad": (400, "invalid_request_error"),
            "missing": (404, "not_found"),
        }
        status, code = codes[kind]
        return Refuse(status, {"error": {"message": message, "type": "invalid_request_error", "code": code}})

    # --- routes

    def is_create(self, method: str, path: str) -> bool:
        return method == "POST" and path == f"{self.base}/fine_tuning/jobs"

    def route(self, method: str, path: str, query: dict, headers, body: bytes) -> Any:
        if method == "POST" and path == f"{self.base}/files":
            return self.upload(headers, body)
        if method == "POST" and path == f"{self.base}/fine_tuning/jobs":
            return self.create(_json_body(body))
        if method == "GET" and path == f"{self.base}/fine_tuning/jobs":
            return self.list_jobs(query)
        parts = path[len(self.base) :].strip("/").split("/")
        if parts[:2] == ["fine_tuning", "jobs"] and len(parts) >= 3:
            job = self.job(parts[2])
            if method == "GET" and len(parts) == 3:
                return self.show(self.advance(job))
            if method == "GET" and parts[3:] == ["events"]:
                return {"object": "list", "data": list(reversed(job.events)), "has_more": False}
            if method == "POST" and parts[3:] == ["cancel"]:
                return self.show(self.cancel(job))
        raise Refuse(404, {"error": {"message": f"no route {method} {path}"}})

    def upload(self, headers, body: bytes) -> dict:
        fields, files = parse_multipart(body, headers.get("Content-Type", ""))
        if fields != {"purpose": "fine-tune"} or set(files) != {"file"}:
            raise self.error("bad", f"expected fields purpose=fine-tune and file, got {fields} {list(files)}")
        upload = files["file"]
        self.check_lines(upload.content)
        file_id = self.server.store_file(upload)
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(upload.content),
            "created_at": int(time.time()),
            "filename": upload.filename,
            "purpose": "fine-tune",
            "status": "processed",
        }

    def check_lines(self, content: bytes) -> None:
        for number, line in enumerate(content.decode("utf-8").splitlines(), start=1):
            try:
                value = json.loads(line)
            except ValueError:
                raise self.error("file", f"line {number} is not JSON") from None
            messages = value.get("messages") if isinstance(value, dict) else None
            self.check_messages(number, messages)

    def check_messages(self, number: int, messages: Any) -> None:
        if not isinstance(messages, list) or not messages:
            raise self.error("file", f"line {number}: no messages list")
        for msg in messages:
            if set(msg) != {"role", "content"} or msg["role"] not in self.roles:
                raise self.error("file", f"line {number}: bad message {msg}")
        if messages[-1]["role"] != "assistant":
            raise self.error("file", f"line {number}: no assistant answer last")

    def create(self, body: dict) -> dict:
        self.server.check_fault("quota", lambda: self.error("quota", "You exceeded your current quota"))
        allowed = {"model", "training_file", "validation_file", "suffix", "seed", "metadata", "method"}
        if set(body) - allowed or not {"model", "training_file"} <= set(body):
            raise self.error("bad", f"unexpected or missing keys: {sorted(body)}")
        if body["training_file"] not in self.server.files:
            raise self.error("bad", f"invalid training_file: {body['training_file']}")
        method = body.get("method") or {}
        hyper = (method.get("supervised") or {}).get("hyperparameters") or {}
        if method.get("type") != "supervised" or set(hyper) - set(self.hyper):
            raise self.error("bad", f"bad method {method}")
        if len(body.get("suffix") or "") > 64 or len(body.get("metadata") or {}) > 16:
            raise self.error("bad", "suffix or metadata too long")
        job = self.server.new_job(body["model"], body["training_file"], body, self.states)
        job.tuned = f"ft:{body['model']}:lz-test:{body.get('suffix') or 'x'}:{job.id[-6:]}"
        return self.show(job)

    def list_jobs(self, query: dict) -> dict:
        token = query.get("metadata[lz_run]")
        jobs = [j for j in self.server.jobs.values() if (j.body.get("metadata") or {}).get("lz_run") == token]
        return {"object": "list", "data": [self.show(j) for j in jobs], "has_more": False}

    def show(self, job: Job) -> dict:
        out = {
            "id": job.id,
            "object": "fine_tuning.job",
            "model": job.model,
            "status": job.state,
            "training_file": job.training,
            "fine_tuned_model": job.tuned if job.state == self.states[-1] else None,
            "metadata": job.body.get("metadata"),
            "error": None,
            "created_at": 1700000000,
            "trained_tokens": 1234 if job.state == self.states[-1] else None,
            "result_files": [],
        }
        if job.failed:
            out["error"] = {"code": "invalid_training_file", "message": self.failure_text(), "param": None}
        return out

    def failure_text(self) -> str:
        return f"The job failed: training file rejected (request made with key {KEY})"

    def job(self, job_id: str) -> Job:
        job = self.server.jobs.get(job_id)
        if job is None:
            raise self.error("missing", f"no job {job_id}")
        return job

    def advance(self, job: Job) -> Job:
        """One status read moves the job one state on; running states emit a metric event."""
        job.polls += 1
        if job.step < len(job.states) - 1:
            job.step += 1
            if job.state == self.running:
                job.metrics += 1
                self.metric(job, job.metrics)
            if job.state == self.running and job.metrics == 1 and self.server.take_fault("job_fails"):
                job.states = job.states[: job.step + 1] + [self.failed_state]
                job.failed = True
            if job.step == len(job.states) - 1:
                self.message(job, f"job {job.state}")
        return job

    def metric(self, job: Job, n: int) -> None:
        loss = round(2.0 / n, 4)
        job.events.append(
            {
                "id": f"ftevent-{job.id}-{len(job.events)}",
                "object": "fine_tuning.job.event",
                "created_at": 1700000000 + len(job.events),
                "level": "info",
                "message": f"Step {n}/{RUN_STEPS}: training loss={loss}",
                "type": "metrics",
                "data": {"step": n, "train_loss": loss, "total_steps": RUN_STEPS},
            }
        )

    def message(self, job: Job, text: str) -> None:
        job.events.append(
            {
                "id": f"ftevent-{job.id}-{len(job.events)}",
                "object": "fine_tuning.job.event",
                "created_at": 1700000000 + len(job.events),
                "level": "info",
                "message": text,
                "type": "message",
            }
        )

    def cancel(self, job: Job) -> Job:
        job.states = job.states[: job.step + 1] + [self.cancelled_state]
        job.step += 1
        job.cancelled = True
        return job

    # --- serving

    def served_models(self) -> set[str]:
        return {
            j.tuned for j in self.server.jobs.values() if j.state == j.states[-1] and j.tuned and not j.failed
        }

    def chat(self, body: dict) -> dict:
        model = body.get("model")
        if model not in self.served_models():
            raise self.error("missing", f"The model `{model}` does not exist")
        question = body["messages"][-1]["content"]
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"tuned answer to {question} from {model}"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        }


def stream_of(answer: dict) -> Stream:
    """A chat answer the way OpenAI-compatible services stream it: text deltas, then finish_reason."""
    text = answer["choices"][0]["message"]["content"]
    base = {"id": answer["id"], "object": "chat.completion.chunk", "model": answer["model"]}
    events = [{**base, "choices": [{"index": 0, "delta": {"content": w + " "}, "finish_reason": None}]}
              for w in text.split(" ")]  # fmt: skip
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return Stream(events)


def _json_body(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise Refuse(400, {"error": {"message": "body is not JSON"}}) from None
    if not isinstance(value, dict):
        raise Refuse(400, {"error": {"message": "body is not an object"}})
    return value


class Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # dropped connections are on purpose
        pass


class StandIn:
    """`StandIn("openai")`: base URL in `.url`, the requests it got in `.log`, faults by `.fail()`."""

    def __init__(self, vendor: str) -> None:
        from tests.finetune.standins.vendors import VENDORS

        self.vendor: Vendor = VENDORS[vendor](self)
        self.files: dict[str, Upload] = {}
        self.jobs: dict[str, Job] = {}
        self.faults: dict[str, int] = {}
        self.log: list[dict] = []
        self.extra: dict[str, Any] = {}  # vendor state (datasets, deployments)
        self._lock = threading.Lock()
        self._httpd = Quiet(("127.0.0.1", 0), self._handler())
        self.port = self._httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The provider base URL lz is given (LAZYCLI_<NAME>_BASE_URL)."""
        return self.origin + self.vendor.provider_base

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def short_jobs(self) -> None:
        """Jobs made from now on go queued → running → succeeded: two status reads."""
        states = self.vendor.states
        self.vendor.states = [states[0], self.vendor.running, states[-1]]

    def fail(self, fault: str, times: int = 1) -> None:
        self.faults[fault] = times

    def check_fault(self, fault: str, make) -> None:
        if self.faults.get(fault):
            self.faults[fault] -= 1
            raise make()

    def take_fault(self, fault: str) -> bool:
        if self.faults.get(fault):
            self.faults[fault] -= 1
            return True
        return False

    def store_file(self, upload: Upload) -> str:
        file_id = f"file-{len(self.files) + 1:04d}"
        self.files[file_id] = upload
        return file_id

    def new_job(self, model: str, training: str, body: dict, states: list[str]) -> Job:
        job = Job(f"ftjob-{len(self.jobs) + 1:04d}", model, training, body, list(states))
        self.jobs[job.id] = job
        return job

    def requests(self, method: str | None = None, path_end: str = "") -> list[dict]:
        return [
            r for r in self.log if (method is None or r["method"] == method) and r["path"].endswith(path_end)
        ]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _handle(self, method: str) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                entry = {
                    "method": method,
                    "path": split.path,
                    "query": dict(parse_qsl(split.query)),
                    "auth": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type", ""),
                    "body": body,
                }
                with server._lock:
                    server.log.append(entry)
                    try:
                        answer = server._answer(method, split.path, entry["query"], self.headers, body)
                        status = 200
                    except Refuse as exc:
                        status, answer = exc.status, exc.body
                    except Drop:
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                if isinstance(answer, Stream):
                    lines = [f"data: {json.dumps(event)}\n\n" for event in answer] + ["data: [DONE]\n\n"]
                    data, kind = "".join(lines).encode(), "text/event-stream"
                else:
                    data, kind = json.dumps(answer, ensure_ascii=False).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        return Handler

    def _answer(self, method: str, path: str, query: dict, headers, body: bytes) -> Any:
        vendor = self.vendor
        if headers.get("Authorization") != f"Bearer {KEY}":
            raise vendor.error("auth", "Incorrect API key provided")
        if method == "POST" and path == vendor.chat_path:
            request = _json_body(body)
            answer = vendor.chat(request)
            return stream_of(answer) if request.get("stream") else answer
        is_upload = method == "POST" and path == vendor.upload_path
        if is_upload and self.take_fault("upload_drop"):
            raise Drop()
        if is_upload and self.take_fault("reject_file"):
            raise vendor.error("file", "The file is not valid JSONL for fine-tuning")
        answer = vendor.route(method, path, query, headers, body)
        if vendor.is_create(method, path) and self.take_fault("create_lost"):
            raise Drop()  # the job exists; the answer never arrives
        return answer
