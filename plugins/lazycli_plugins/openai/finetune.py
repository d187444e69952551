"""OpenAI fine-tuning: POST /files (multipart purpose=fine-tune, file), POST /fine_tuning/jobs with
`method: {type: supervised, supervised: {hyperparameters}}`, GET …/{id}, …/{id}/events, …/{id}/cancel.

Job states: validating_files, queued → pending; running; succeeded → completed; failed; cancelled.
Each create carries `metadata: {lz_run: TOKEN}`, so a create whose answer was lost is found again
with GET /fine_tuning/jobs?metadata[lz_run]=TOKEN instead of being sent twice.
"""

from __future__ import annotations

from typing import Any

from lazycli.finetune.online_vendor import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    DataRules,
    HyperParam,
    OnlineTuner,
)
from lazycli.finetune.online_wire import WireRequest


class OpenAITuner(OnlineTuner):
    provider = "openai"
    # The cookbook's roles; at least 10 examples (the API refuses fewer).
    rules = DataRules(roles=("system", "user", "assistant", "tool"), min_examples=10)
    hyper = (
        HyperParam("n_epochs", "epochs", int, help="epochs (an integer, or auto)"),
        HyperParam("batch_size", "batch_size", int),
        HyperParam("learning_rate_multiplier", "lr", float, help="--lr is OpenAI's multiplier"),
    )
    options = {"seed": 0, "validation_file": ""}
    statuses = {
        "validating_files": PENDING,
        "queued": PENDING,
        "running": RUNNING,
        "succeeded": COMPLETED,
        "failed": FAILED,
        "cancelled": CANCELLED,
    }
    lookup = "metadata"

    def create(self, model: str, training_id: str, params: dict[str, Any], token: str, suffix: str):
        request = super().create(model, training_id, params, token, suffix)
        if params.get("seed"):
            request.json["seed"] = params["seed"]
        if params.get("validation_file"):
            request.json["validation_file"] = params["validation_file"]
        return request

    def find(self, token: str, training_id: str) -> WireRequest | None:
        return WireRequest(
            "GET", "/fine_tuning/jobs", query={"metadata[lz_run]": token, "limit": 10}, idempotent=True
        )

    def found(self, body: Any, token: str, training_id: str) -> list[str]:
        return [j["id"] for j in body.get("data") or [] if (j.get("metadata") or {}).get("lz_run") == token]
