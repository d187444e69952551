"""DashScope (Qwen) fine-tuning on the native API beside compatible mode (dashscope SDK
`FineTunes`, `Files`, `Deployments`; LazyLLM supplier/qwen.py):

    POST /api/v1/files              multipart files=@FILE, descriptions → data.uploaded_files[0].file_id
    POST /api/v1/fine-tunes         {model, training_file_ids, training_type, hyper_parameters}
                                    → output.job_id
    GET  /api/v1/fine-tunes/{id}    → output.status, output.finetuned_output once SUCCEEDED
    GET  /api/v1/fine-tunes/{id}/logs?offset=&line=   → output.logs (lines), output.total
    POST /api/v1/fine-tunes/{id}/cancel
    POST /api/v1/deployments        {model_name, capacity} → output.deployed_model
    GET  /api/v1/deployments/{id}   → output.status (RUNNING: chat with it in compatible mode)

States: PENDING, QUEUING → pending; RUNNING; SUCCEEDED → completed; FAILED; CANCELING, CANCELED →
cancelled. DashScope takes an absolute learning rate (--lr), sent as text the way LazyLLM does.
A lost create answer is looked up in GET /api/v1/fine-tunes by the run's own training file id.
"""

from __future__ import annotations

import re
from typing import Any

from lazycli.finetune.online_vendor import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    DataRules,
    EventPage,
    HyperParam,
    JobEvent,
    JobView,
    OnlineTuner,
)
from lazycli.finetune.online_wire import FilePart, WireRequest

# "//" = from the origin of the provider's base URL (compatible-mode/v1): the native API.
API = "//api/v1"
_STEP = re.compile(r"step\D{0,3}(\d+)(?:\s*/\s*(\d+))?", re.I)
_LOSS = re.compile(r"loss\D{0,3}([0-9]*\.?[0-9]+(?:e-?\d+)?)", re.I)
_LR = re.compile(r"\blr\b\D{0,3}([0-9]*\.?[0-9]+(?:e-?\d+)?)", re.I)


class QwenTuner(OnlineTuner):
    provider = "qwen"
    rules = DataRules(roles=("system", "user", "assistant"), last_assistant=True)
    hyper = (
        HyperParam("n_epochs", "epochs", int),
        HyperParam("batch_size", "batch_size", int),
        HyperParam("learning_rate", "lr", str, help="absolute learning rate"),
        HyperParam("lora_rank", "lora_rank", int),
        HyperParam("lora_alpha", None, int),
        HyperParam("lora_dropout", None, float),
        HyperParam("max_length", None, int),
    )
    options = {"training_type": "efficient_sft", "deploy": True, "capacity": 1}
    statuses = {
        "PENDING": PENDING,
        "QUEUING": PENDING,
        "RUNNING": RUNNING,
        "SUCCEEDED": COMPLETED,
        "FAILED": FAILED,
        "CANCELING": CANCELLED,
        "CANCELED": CANCELLED,
    }
    trainable = ("qwen-turbo", "qwen-plus", "qwen2.5-7b-instruct", "qwen2.5-14b-instruct")
    needs_deploy = True
    lookup = "training_file_ids"

    def upload(self, filename: str, content: bytes) -> WireRequest:
        return WireRequest(
            "POST",
            f"{API}/files",
            form={"descriptions": "lz fine-tune training data"},
            file=FilePart("files", filename, content),
            idempotent=True,
        )

    def file_id(self, body: Any) -> str:
        return body["data"]["uploaded_files"][0]["file_id"]

    def create(self, model: str, training_id: str, params: dict[str, Any], token: str, suffix: str):
        body = {
            "model": model,
            "training_file_ids": [training_id],
            "training_type": params.get("training_type") or "efficient_sft",
            "hyper_parameters": self.hyperparameters(params),
        }
        return WireRequest("POST", f"{API}/fine-tunes", json=body)

    def created_id(self, body: Any) -> str:
        return body["output"]["job_id"]

    def find(self, token: str, training_id: str) -> WireRequest | None:
        return WireRequest(
            "GET", f"{API}/fine-tunes", query={"page_no": 1, "page_size": 100}, idempotent=True
        )

    def found(self, body: Any, token: str, training_id: str) -> list[str]:
        jobs = (body.get("output") or {}).get("jobs") or []
        return [j["job_id"] for j in jobs if training_id in (j.get("training_file_ids") or [])]

    def get(self, job_id: str) -> WireRequest:
        return WireRequest("GET", f"{API}/fine-tunes/{job_id}", idempotent=True)

    def view(self, body: Any) -> JobView:
        out = body.get("output") or {}
        vendor = str(out.get("status") or "")
        return JobView(
            job_id=out.get("job_id", ""),
            status=self.status(vendor),
            vendor_status=vendor,
            model_id=out.get("finetuned_output") or None,
            error=out.get("message") or body.get("message") or None,
        )

    def events(self, job_id: str, cursor: Any) -> WireRequest | None:
        start = int(cursor or 0)
        return WireRequest(
            "GET",
            f"{API}/fine-tunes/{job_id}/logs",
            query={"offset": start + 1, "line": 1000},
            idempotent=True,
        )

    def parse_events(self, body: Any, cursor: Any) -> EventPage:
        start = int(cursor or 0)
        lines = (body.get("output") or {}).get("logs") or []
        events = [self._event(start + i, str(line)) for i, line in enumerate(lines)]
        return EventPage(events, start + len(lines))

    def _event(self, index: int, line: str) -> JobEvent:
        """A log line; where it names a step and a loss it is a progress row too."""
        step, loss, lr = _STEP.search(line), _LOSS.search(line), _LR.search(line)
        return JobEvent(
            id=f"log-{index}",
            created_at=None,
            level="info",
            message=line,
            step=int(step.group(1)) if step and loss else None,
            total=int(step.group(2)) if step and loss and step.group(2) else None,
            loss=float(loss.group(1)) if loss else None,
            lr=float(lr.group(1)) if lr else None,
        )

    def cancel(self, job_id: str) -> WireRequest:
        return WireRequest("POST", f"{API}/fine-tunes/{job_id}/cancel")

    def deploy(self, model_id: str, params: dict[str, Any]) -> WireRequest | None:
        if params.get("deploy") is False:
            return None
        body = {"model_name": model_id, "capacity": int(params.get("capacity") or 1)}
        return WireRequest("POST", f"{API}/deployments", json=body)

    def deployed(self, body: Any, model_id: str) -> tuple[str, str]:
        name = body["output"]["deployed_model"]
        return name, name

    def deployment(self, deployment_id: str) -> WireRequest:
        return WireRequest("GET", f"{API}/deployments/{deployment_id}", idempotent=True)

    def deployment_ready(self, body: Any) -> tuple[bool, str | None]:
        status = str((body.get("output") or {}).get("status") or "").upper()
        if status in ("FAILED", "DELETED", "STOPPED"):
            return False, f"deployment {status}"
        return status == "RUNNING", None
