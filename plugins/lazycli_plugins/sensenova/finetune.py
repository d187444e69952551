"""SenseNova fine-tuning (LazyLLM supplier/sensenova.py; no public SDK source was found to check it
against, so this follows LazyLLM's working client):

    POST https://file.sensenova.cn/v1/files   multipart description, scheme=FINE_TUNE_2, file → id
                                              (LAZYCLI_SENSENOVA_FILES_URL overrides the URL)
    POST {base}/fine-tune/datasets            {description, files: [id]} → dataset.id; GET …/{id}
                                              until dataset.status is ready
    POST {base}/fine-tunes                    {model, training_file: dataset id, suffix} → job.id
    GET  {base}/fine-tunes/{id}               → job.status, job.fine_tuned_model once succeeded
    POST {base}/fine-tune/servings            {model, config: {run_time: 0}} → job.id; GET …/{id}

Data: each line a JSON array of {role, content}, roles system, knowledge, user, assistant.
SenseNova lists no jobs by a client token, so a create whose answer was lost is never resent: lz
stops and says so. The cancel path and `hyperparams` body key are unverified guesses.
"""

from __future__ import annotations

import os
from typing import Any

from lazycli.finetune.online_vendor import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    DataRules,
    HyperParam,
    JobView,
    OnlineTuner,
)
from lazycli.finetune.online_wire import FilePart, WireRequest

FILES_URL = "https://file.sensenova.cn/v1/files"
FILES_URL_ENV = "LAZYCLI_SENSENOVA_FILES_URL"


class SenseNovaTuner(OnlineTuner):
    provider = "sensenova"
    rules = DataRules(
        roles=("system", "knowledge", "user", "assistant"), line_style="array", last_assistant=True
    )
    hyper = (
        HyperParam("n_epochs", "epochs", int),
        HyperParam("learning_rate", "lr", float),
        HyperParam("batch_size", "batch_size", int),
    )
    options = {"deploy": True}
    statuses = {
        "pending": PENDING,
        "queued": PENDING,
        "validating": PENDING,
        "running": RUNNING,
        "succeeded": COMPLETED,
        "failed": FAILED,
        "cancelled": CANCELLED,
        "canceled": CANCELLED,
    }
    trainable = ("nova-ptc-s-v2",)
    needs_deploy = True

    def upload(self, filename: str, content: bytes) -> WireRequest:
        return WireRequest(
            "POST",
            os.environ.get(FILES_URL_ENV) or FILES_URL,
            form={"description": "lz fine-tune training data", "scheme": "FINE_TUNE_2"},
            file=FilePart("file", filename, content, "application/json"),
            idempotent=True,
        )

    def prepare(self, file_id: str) -> WireRequest | None:
        body = {"description": "lz fine-tune dataset", "files": [file_id]}
        return WireRequest("POST", "fine-tune/datasets", json=body)

    def prepared_id(self, body: Any) -> tuple[str, bool]:
        dataset = body["dataset"]
        return dataset["id"], str(dataset.get("status") or "").lower() == "ready"

    def prepared_status(self, prepared_id: str) -> WireRequest:
        return WireRequest("GET", f"fine-tune/datasets/{prepared_id}", idempotent=True)

    def create(self, model: str, training_id: str, params: dict[str, Any], token: str, suffix: str):
        body: dict[str, Any] = {"model": model, "training_file": training_id, "suffix": suffix}
        hyper = self.hyperparameters(params)
        if hyper:
            body["hyperparams"] = hyper
        return WireRequest("POST", "fine-tunes", json=body)

    def created_id(self, body: Any) -> str:
        return body["job"]["id"]

    def get(self, job_id: str) -> WireRequest:
        return WireRequest("GET", f"fine-tunes/{job_id}", idempotent=True)

    def view(self, body: Any) -> JobView:
        job = body.get("job") or {}
        vendor = str(job.get("status") or "")
        error = job.get("error")
        return JobView(
            job_id=job.get("id", ""),
            status=self.status(vendor),
            vendor_status=vendor,
            model_id=job.get("fine_tuned_model") or None,
            error=(error.get("message") if isinstance(error, dict) else error) or None,
        )

    def events(self, job_id: str, cursor: Any) -> WireRequest | None:
        return None

    def cancel(self, job_id: str) -> WireRequest:
        return WireRequest("POST", f"fine-tunes/{job_id}/cancel")

    def deploy(self, model_id: str, params: dict[str, Any]) -> WireRequest | None:
        if params.get("deploy") is False:
            return None
        return WireRequest("POST", "fine-tune/servings", json={"model": model_id, "config": {"run_time": 0}})

    def deployed(self, body: Any, model_id: str) -> tuple[str, str]:
        return body["job"]["id"], model_id

    def deployment(self, deployment_id: str) -> WireRequest:
        return WireRequest("GET", f"fine-tune/servings/{deployment_id}", idempotent=True)

    def deployment_ready(self, body: Any) -> tuple[bool, str | None]:
        status = str((body.get("job") or {}).get("status") or "").upper()
        if status in ("FAILED", "STOPPED"):
            return False, f"serving {status}"
        return status == "RUNNING", None
