"""What a provider plugin declares to fine-tune online: an `OnlineTuner` (set as `ProviderSpec.finetune`).

The base class speaks the OpenAI shape (files + fine_tuning/jobs + events); a vendor overrides the
calls that differ. Each call returns a `WireRequest` (so --dry-run can print it) or parses a JSON
answer into a typed record (`JobView`, `JobEvent`). Kept free of heavy imports: plugins import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lazycli.finetune.online_wire import FilePart, WireRequest
from lazycli.launchers import Status

# lz's job states: the one enum of every job (a local run's, a deployment's), by short names here.
PENDING, RUNNING, COMPLETED = Status.PENDING, Status.RUNNING, Status.COMPLETED
FAILED, CANCELLED = Status.FAILED, Status.CANCELLED


@dataclass(frozen=True)
class HyperParam:
    """One vendor hyper-parameter: its wire name, the lz flag that sets it (if any), its type."""

    wire: str
    flag: str | None = None
    type: type = float
    default: Any = None
    help: str = ""


@dataclass
class JobView:
    """A vendor job as lz sees it: lz status, the vendor's own status, the result model, the error."""

    job_id: str
    status: str
    vendor_status: str
    model_id: str | None = None
    error: str | None = None
    trained_tokens: int | None = None


@dataclass
class JobEvent:
    """One vendor event or log line; metrics (step, total, loss, lr) when it carries them."""

    id: str
    created_at: float | None
    level: str
    message: str
    step: int | None = None
    total: int | None = None
    loss: float | None = None
    lr: float | None = None
    eta: float | None = None


@dataclass
class EventPage:
    events: list[JobEvent]
    cursor: Any = None  # where the next read starts (vendor specific)


@dataclass(frozen=True)
class DataRules:
    """The vendor's data format: allowed roles, line shape, minimum examples."""

    roles: tuple[str, ...] = ("system", "user", "assistant")
    line_style: str = "messages"  # "messages": {"messages": [...]}; "array": [...] per line (SenseNova)
    min_examples: int = 1
    last_assistant: bool = False  # the last message must be the assistant's answer


class OnlineTuner:
    """The OpenAI-shaped fine-tuning API; subclasses override what their vendor does differently."""

    provider = "openai"
    rules = DataRules()
    hyper: tuple[HyperParam, ...] = ()
    options: dict[str, Any] = {}  # other --set keys (typed by their default)
    statuses: dict[str, str] = {}
    trainable: tuple[str, ...] = ()
    needs_deploy = False
    # How a create whose answer was lost is found again ("" = it cannot be: lz stops instead).
    lookup = ""

    # --- files

    def upload(self, filename: str, content: bytes) -> WireRequest:
        return WireRequest(
            "POST",
            "/files",
            form={"purpose": "fine-tune"},
            file=FilePart("file", filename, content),
            idempotent=True,
        )

    def file_id(self, body: Any) -> str:
        return body["id"]

    def prepare(self, file_id: str) -> WireRequest | None:
        """A request turning the uploaded file into what `create` takes (SenseNova's dataset)."""
        return None

    def prepared_id(self, body: Any) -> tuple[str, bool]:
        raise NotImplementedError

    def prepared_status(self, prepared_id: str) -> WireRequest:
        raise NotImplementedError

    # --- jobs

    def hyperparameters(self, params: dict[str, Any]) -> dict[str, Any]:
        return {h.wire: params[h.wire] for h in self.hyper if params.get(h.wire) is not None}

    def create(self, model: str, training_id: str, params: dict[str, Any], token: str, suffix: str):
        body: dict[str, Any] = {"model": model, "training_file": training_id}
        hyper = self.hyperparameters(params)
        body["method"] = {"type": "supervised", "supervised": {"hyperparameters": hyper}}
        body["suffix"] = suffix
        body["metadata"] = {"lz_run": token}
        return WireRequest("POST", "/fine_tuning/jobs", json=body)

    def created_id(self, body: Any) -> str:
        return body["id"]

    def find(self, token: str, training_id: str) -> WireRequest | None:
        """A request listing jobs that may include one an earlier, unanswered create made."""
        return None

    def found(self, body: Any, token: str, training_id: str) -> list[str]:
        """Ids of the listed jobs that an earlier create of this run may have made."""
        return []

    def get(self, job_id: str) -> WireRequest:
        return WireRequest("GET", f"/fine_tuning/jobs/{job_id}", idempotent=True)

    def view(self, body: Any) -> JobView:
        vendor = str(body.get("status") or "")
        error = body.get("error") or None
        message = None
        if isinstance(error, dict) and (error.get("message") or error.get("code")):
            message = f"{error.get('code') or 'error'}: {error.get('message') or ''}".strip()
        return JobView(
            job_id=body.get("id", ""),
            status=self.status(vendor),
            vendor_status=vendor,
            model_id=body.get("fine_tuned_model") or None,
            error=message,
            trained_tokens=body.get("trained_tokens"),
        )

    def status(self, vendor: str) -> str:
        # An unknown vendor state is passed through as "running": the job exists and is not over.
        return self.statuses.get(vendor, self.statuses.get(vendor.lower(), RUNNING))

    def events(self, job_id: str, cursor: Any) -> WireRequest | None:
        return WireRequest("GET", f"/fine_tuning/jobs/{job_id}/events", query={"limit": 100}, idempotent=True)

    def parse_events(self, body: Any, cursor: Any) -> EventPage:
        events = []
        for item in body.get("data") or []:
            data = item.get("data") if isinstance(item.get("data"), dict) else {}
            events.append(
                JobEvent(
                    id=str(item.get("id")),
                    created_at=item.get("created_at"),
                    level=item.get("level") or "info",
                    message=item.get("message") or "",
                    step=_int(data.get("step", data.get("current_steps"))),
                    total=_int(data.get("total_steps")),
                    loss=_float(data.get("train_loss", data.get("loss"))),
                    lr=_float(data.get("learning_rate")),
                )
            )
        events.sort(key=lambda e: (e.created_at or 0, e.id))  # vendors list newest first
        return EventPage(events, cursor)

    def cancel(self, job_id: str) -> WireRequest:
        return WireRequest("POST", f"/fine_tuning/jobs/{job_id}/cancel")

    # --- serving the result (DashScope, SenseNova)

    def deploy(self, model_id: str, params: dict[str, Any]) -> WireRequest | None:
        return None

    def deployed(self, body: Any, model_id: str) -> tuple[str, str]:
        """(deployment id, chat model name) from the deploy answer."""
        raise NotImplementedError

    def deployment(self, deployment_id: str) -> WireRequest:
        raise NotImplementedError

    def deployment_ready(self, body: Any) -> tuple[bool, str | None]:
        """(ready, failure reason) from a deployment status answer."""
        raise NotImplementedError


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


number = _float
integer = _int
__all__ = [
    "CANCELLED",
    "COMPLETED",
    "DataRules",
    "EventPage",
    "FAILED",
    "HyperParam",
    "JobEvent",
    "JobView",
    "OnlineTuner",
    "PENDING",
    "RUNNING",
]
