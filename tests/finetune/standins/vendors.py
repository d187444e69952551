"""The vendors' own wires for the stand-in: Zhipu GLM, DashScope (Qwen), SenseNova; OpenAI is the base."""

from __future__ import annotations

import json
from typing import Any

from tests.finetune.standins.server import RUN_STEPS, Job, Refuse, Vendor, _json_body, parse_multipart


class GLM(Vendor):
    """Zhipu: OpenAI-shaped paths under /api/paas/v4; `request_id` names a job; business error codes."""

    name = "glm"
    base = provider_base = "/api/paas/v4"
    upload_path = "/api/paas/v4/files"
    chat_path = "/api/paas/v4/chat/completions"
    states = ["create", "validating_files", "queued", "running", "running", "running", "succeeded"]
    roles = ("system", "user", "assistant")

    def error(self, kind: str, message: str) -> Refuse:
        status, code = {
            "auth": (401, "1002"),
            "quota": (429, "1113"),
            "file": (400, "1214"),
            "bad": (400, "1210"),
            "missing": (404, "1211"),
        }[kind]
        return Refuse(status, {"error": {"code": code, "message": message}})

    def create(self, body: dict) -> dict:
        self.server.check_fault("quota", lambda: self.error("quota", "您的账户已欠费，请充值后重试。"))
        allowed = {"model", "training_file", "validation_file", "suffix", "request_id", "hyperparameters"}
        allowed.add("extra_hyperparameters")
        if set(body) - allowed or body.get("training_file") not in self.server.files:
            raise self.error("bad", f"bad create body: {sorted(body)}")
        hyper = body.get("hyperparameters") or {}
        ranges = {"learning_rate_multiplier": (0.0, 5.0), "batch_size": (1, 32), "n_epochs": (1, 10)}
        for key, value in hyper.items():
            low, high = ranges.get(key, (None, None))
            if low is None or not (
                low < value <= high if key == "learning_rate_multiplier" else low <= value <= high
            ):
                raise self.error("bad", f"hyperparameter {key}={value} out of range")
        job = self.server.new_job(body["model"], body["training_file"], body, self.states)
        job.tuned = f"{body['model']}:lz:{body.get('suffix') or 'ft'}:{job.id[-4:]}"
        return self.show(job)

    def list_jobs(self, query: dict) -> dict:
        return {
            "object": "list",
            "data": [self.show(j) for j in self.server.jobs.values()],
            "has_more": False,
        }

    def show(self, job: Job) -> dict:
        out = super().show(job)
        out.pop("metadata")
        out["request_id"] = job.body.get("request_id")
        return out

    def metric(self, job: Job, n: int) -> None:
        loss = round(2.0 / n, 4)
        job.events.append(
            {
                "id": f"ev-{job.id}-{len(job.events)}",
                "object": "fine_tuning.job.event",
                "type": "metrics",
                "created_at": 1700000000 + len(job.events),
                "level": "info",
                "message": f"step {n}",
                "data": {"current_steps": n, "total_steps": RUN_STEPS, "loss": loss, "learning_rate": 1e-4},
            }
        )

    def check_lines(self, content: bytes) -> None:
        super().check_lines(content)


class Qwen(Vendor):
    """DashScope's native API beside compatible mode: /api/v1/files, /api/v1/fine-tunes, deployments."""

    name = "qwen"
    base = "/api/v1"
    provider_base = "/compatible-mode/v1"
    upload_path = "/api/v1/files"
    chat_path = "/compatible-mode/v1/chat/completions"
    states = ["PENDING", "QUEUING", "RUNNING", "RUNNING", "RUNNING", "SUCCEEDED"]
    running = "RUNNING"
    failed_state = "FAILED"
    cancelled_state = "CANCELED"
    roles = ("system", "user", "assistant")
    hyper = (
        "n_epochs",
        "batch_size",
        "learning_rate",
        "lora_rank",
        "lora_alpha",
        "lora_dropout",
        "max_length",
    )

    def error(self, kind: str, message: str) -> Refuse:
        status, code = {
            "auth": (401, "InvalidApiKey"),
            "quota": (400, "Arrearage"),
            "file": (400, "InvalidFile"),
            "bad": (400, "InvalidParameter"),
            "missing": (404, "NotFound"),
        }[kind]
        return Refuse(status, {"code": code, "message": message, "request_id": "req-1"})

    def is_create(self, method: str, path: str) -> bool:
        return method == "POST" and path == "/api/v1/fine-tunes"

    def route(self, method: str, path: str, query: dict, headers, body: bytes) -> Any:
        if method == "POST" and path == "/api/v1/files":
            return self.upload(headers, body)
        if method == "POST" and path == "/api/v1/fine-tunes":
            return {"request_id": "req-c", "output": self.create(_json_body(body))}
        if method == "GET" and path == "/api/v1/fine-tunes":
            jobs = [self.show(j) for j in self.server.jobs.values()]
            return {"request_id": "req-l", "output": {"jobs": jobs, "total": len(jobs), "page_no": 1}}
        if method == "POST" and path == "/api/v1/deployments":
            return {"request_id": "req-d", "output": self.deploy(_json_body(body))}
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "deployments"] and len(parts) == 4 and method == "GET":
            return {"request_id": "req-ds", "output": self.deployment(parts[3])}
        if parts[:3] == ["api", "v1", "fine-tunes"] and len(parts) >= 4:
            job = self.job(parts[3])
            if method == "GET" and len(parts) == 4:
                return {"request_id": "req-g", "output": self.show(self.advance(job))}
            if method == "GET" and parts[4:] == ["logs"]:
                offset, line = int(query.get("offset", 1)), int(query.get("line", 1000))
                lines = [e["message"] for e in job.events]
                return {"request_id": "req-lg", "output": {"logs": lines[offset - 1 : offset - 1 + line],
                                                           "total": len(lines)}}  # fmt: skip
            if method == "POST" and parts[4:] == ["cancel"]:
                self.cancel(job)
                return {"request_id": "req-x", "output": {"status": "success"}}
        raise Refuse(404, {"code": "NotFound", "message": f"no route {method} {path}"})

    def upload(self, headers, body: bytes) -> dict:
        fields, files = parse_multipart(body, headers.get("Content-Type", ""))
        if set(fields) != {"descriptions"} or set(files) != {"files"}:
            raise self.error("bad", f"expected fields files and descriptions, got {fields} {list(files)}")
        self.check_lines(files["files"].content)
        file_id = self.server.store_file(files["files"])
        name = files["files"].filename
        return {"request_id": "req-u", "data": {"uploaded_files": [{"name": name, "file_id": file_id}],
                                                "failed_uploads": []}}  # fmt: skip

    def create(self, body: dict) -> dict:
        arrears = "Access denied, please make sure your account is in good standing."
        self.server.check_fault("quota", lambda: self.error("quota", arrears))
        allowed = {"model", "training_file_ids", "validation_file_ids", "training_type", "hyper_parameters"}
        ids = body.get("training_file_ids")
        if set(body) - allowed or not isinstance(ids, list) or not all(i in self.server.files for i in ids):
            raise self.error("bad", f"bad create body: {body}")
        if body.get("training_type", "sft") not in ("sft", "efficient_sft"):
            raise self.error("bad", "training_type must be sft or efficient_sft")
        if set(body.get("hyper_parameters") or {}) - set(self.hyper):
            raise self.error("bad", f"unknown hyper_parameters {body['hyper_parameters']}")
        job = self.server.new_job(body["model"], ids[0], body, self.states)
        job.tuned = f"{body['model']}-ft-{job.id[-4:]}"
        return self.show(job)

    def show(self, job: Job) -> dict:
        out = {
            "job_id": job.id,
            "status": job.state,
            "model": job.model,
            "training_file_ids": job.body["training_file_ids"],
            "training_type": job.body.get("training_type"),
            "hyper_parameters": job.body.get("hyper_parameters") or {},
        }
        if job.state == "SUCCEEDED":
            out["finetuned_output"] = job.tuned
        if job.failed:
            out["message"] = self.failure_text()
        return out

    def metric(self, job: Job, n: int) -> None:
        job.events.append({"message": f"step: {n}/{RUN_STEPS}, loss: {round(2.0 / n, 4)}, lr: 0.0001"})

    def message(self, job: Job, text: str) -> None:
        job.events.append({"message": text})

    def deploy(self, body: dict) -> dict:
        if set(body) - {"model_name", "capacity"} or body.get("model_name") not in self._tuned():
            raise self.error("bad", f"bad deployment {body}")
        deployed = f"{body['model_name']}-dep"
        self.server.extra.setdefault("deployments", {})[deployed] = {
            "reads": 0,
            "capacity": body.get("capacity"),
        }
        return {"deployed_model": deployed, "status": "PENDING", "model_name": body["model_name"]}

    def deployment(self, deployed: str) -> dict:
        row = self.server.extra.get("deployments", {}).get(deployed)
        if row is None:
            raise self.error("missing", f"no deployment {deployed}")
        row["reads"] += 1
        return {"deployed_model": deployed, "status": "RUNNING" if row["reads"] > 1 else "DEPLOYING"}

    def _tuned(self) -> set[str]:
        return {j.tuned for j in self.server.jobs.values() if j.state == "SUCCEEDED"}

    def served_models(self) -> set[str]:
        rows = self.server.extra.get("deployments", {})
        return {name for name, row in rows.items() if row["reads"] > 1}


class SenseNova(Vendor):
    """SenseNova: file service upload (scheme FINE_TUNE_2), a dataset, fine-tunes, servings."""

    name = "sensenova"
    base = provider_base = "/compatible-mode/v1"
    upload_path = "/v1/files"  # the file service (LAZYCLI_SENSENOVA_FILES_URL points here)
    chat_path = "/compatible-mode/v1/chat/completions"
    states = ["queued", "running", "running", "running", "succeeded"]
    roles = ("system", "knowledge", "user", "assistant")

    def error(self, kind: str, message: str) -> Refuse:
        status, code = {"auth": (401, 16), "quota": (402, 9), "file": (400, 3), "bad": (400, 3),
                        "missing": (404, 5)}[kind]  # fmt: skip
        return Refuse(status, {"error": {"code": code, "message": message, "details": []}})

    def is_create(self, method: str, path: str) -> bool:
        return method == "POST" and path == f"{self.base}/fine-tunes"

    def route(self, method: str, path: str, query: dict, headers, body: bytes) -> Any:
        b = self.base
        if method == "POST" and path == "/v1/files":
            return self.upload(headers, body)
        if method == "POST" and path == f"{b}/fine-tune/datasets":
            return {"dataset": self.new_dataset(_json_body(body))}
        if method == "POST" and path == f"{b}/fine-tunes":
            return {"job": self.create(_json_body(body))}
        if method == "POST" and path == f"{b}/fine-tune/servings":
            return {"job": self.serve(_json_body(body))}
        parts = path[len(b) :].strip("/").split("/")
        if parts[:2] == ["fine-tune", "datasets"] and len(parts) == 3 and method == "GET":
            return {"dataset": self.dataset(parts[2])}
        if parts[:2] == ["fine-tune", "servings"] and len(parts) == 3 and method == "GET":
            return {"job": self.serving(parts[2])}
        if parts[0] == "fine-tunes" and len(parts) >= 2:
            job = self.job(parts[1])
            if method == "GET" and len(parts) == 2:
                return {"job": self.show(self.advance(job))}
            if method == "POST" and parts[2:] == ["cancel"]:
                return {"job": self.show(self.cancel(job))}
        raise self.error("missing", f"no route {method} {path}")

    def upload(self, headers, body: bytes) -> dict:
        fields, files = parse_multipart(body, headers.get("Content-Type", ""))
        if (
            set(fields) != {"description", "scheme"}
            or fields["scheme"] != "FINE_TUNE_2"
            or set(files) != {"file"}
        ):
            raise self.error(
                "bad", f"expected description, scheme=FINE_TUNE_2 and file: {fields} {list(files)}"
            )
        self.check_lines(files["file"].content)
        return {"id": self.server.store_file(files["file"]), "file_name": files["file"].filename}

    def check_lines(self, content: bytes) -> None:
        for number, line in enumerate(content.decode("utf-8").splitlines(), start=1):
            value = json.loads(line)
            if not isinstance(value, list):
                raise self.error("file", f"line {number}: each line must be a JSON array of messages")
            self.check_messages(number, value)

    def new_dataset(self, body: dict) -> dict:
        if set(body) != {"description", "files"} or not all(f in self.server.files for f in body["files"]):
            raise self.error("bad", f"bad dataset {body}")
        sets = self.server.extra.setdefault("datasets", {})
        dataset_id = f"ds-{len(sets) + 1}"
        sets[dataset_id] = {"reads": 0, "files": body["files"]}
        return {"id": dataset_id, "status": "pending"}

    def dataset(self, dataset_id: str) -> dict:
        row = self.server.extra.get("datasets", {}).get(dataset_id)
        if row is None:
            raise self.error("missing", f"no dataset {dataset_id}")
        row["reads"] += 1
        return {"id": dataset_id, "status": "ready" if row["reads"] >= 1 else "pending"}

    def create(self, body: dict) -> dict:
        self.server.check_fault("quota", lambda: self.error("quota", "balance not enough"))
        if set(body) - {"model", "training_file", "suffix", "hyperparams"}:
            raise self.error("bad", f"bad create body {sorted(body)}")
        if body.get("training_file") not in self.server.extra.get("datasets", {}):
            raise self.error("bad", "training_file must be a ready dataset id")
        job = self.server.new_job(body["model"], body["training_file"], body, self.states)
        job.tuned = f"{body['model']}:{body.get('suffix') or 'ft'}"
        return self.show(job)

    def show(self, job: Job) -> dict:
        out = {"id": job.id, "model": job.model, "status": job.state, "training_file": job.training}
        if job.state == "succeeded":
            out["fine_tuned_model"] = job.tuned
        if job.failed:
            out["error"] = {"message": self.failure_text()}
        return out

    def metric(self, job: Job, n: int) -> None:
        pass  # SenseNova shows no events through its API

    def message(self, job: Job, text: str) -> None:
        pass

    def serve(self, body: dict) -> dict:
        tuned = {j.tuned for j in self.server.jobs.values() if j.state == "succeeded"}
        if body.get("model") not in tuned or body.get("config") != {"run_time": 0}:
            raise self.error("bad", f"bad serving {body}")
        rows = self.server.extra.setdefault("servings", {})
        serving_id = f"sv-{len(rows) + 1}"
        rows[serving_id] = {"reads": 0, "model": body["model"]}
        return {"id": serving_id, "status": "PENDING"}

    def serving(self, serving_id: str) -> dict:
        row = self.server.extra.get("servings", {}).get(serving_id)
        if row is None:
            raise self.error("missing", f"no serving {serving_id}")
        row["reads"] += 1
        return {"id": serving_id, "status": "RUNNING" if row["reads"] > 1 else "PENDING"}

    def served_models(self) -> set[str]:
        return {row["model"] for row in self.server.extra.get("servings", {}).values() if row["reads"] > 1}


VENDORS = {"openai": Vendor, "glm": GLM, "qwen": Qwen, "sensenova": SenseNova}
