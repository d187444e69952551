"""Zhipu GLM fine-tuning (zhipuai SDK v4: api_resource/fine_tuning/jobs): POST /files (multipart
purpose=fine-tune, file), POST /fine_tuning/jobs {model, training_file, hyperparameters:
{learning_rate_multiplier, batch_size, n_epochs}, suffix, request_id}, GET …/{id}, …/{id}/events
(data: current_steps, total_steps, loss, learning_rate), POST …/{id}/cancel.

States: create, validating_files, queued → pending; running; succeeded → completed; failed;
cancelled. `request_id` carries the run's token: a create whose answer was lost is found in
GET /fine_tuning/jobs by it. `--set fine_tuning_method=lora|full` sends LazyLLM's
extra_hyperparameters (not in the SDK; Zhipu's console documents it).
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


class GLMTuner(OnlineTuner):
    provider = "glm"
    rules = DataRules(roles=("system", "user", "assistant"), last_assistant=True)
    hyper = (
        HyperParam("n_epochs", "epochs", int, help="1-10"),
        HyperParam("batch_size", "batch_size", int, help="1-32"),
        HyperParam("learning_rate_multiplier", "lr", float, help="(0, 5]: --lr is the multiplier"),
    )
    options = {"fine_tuning_method": "", "max_sequence_length": 0}
    statuses = {
        "create": PENDING,
        "validating_files": PENDING,
        "queued": PENDING,
        "running": RUNNING,
        "succeeded": COMPLETED,
        "failed": FAILED,
        "cancelled": CANCELLED,
    }
    lookup = "request_id"

    def create(self, model: str, training_id: str, params: dict[str, Any], token: str, suffix: str):
        body: dict[str, Any] = {"model": model, "training_file": training_id}
        hyper = self.hyperparameters(params)
        if hyper:
            body["hyperparameters"] = hyper
        if params.get("fine_tuning_method"):
            extra: dict[str, Any] = {"fine_tuning_method": params["fine_tuning_method"]}
            if params.get("max_sequence_length"):
                extra["fine_tuning_parameters"] = {"max_sequence_length": params["max_sequence_length"]}
            body["extra_hyperparameters"] = extra
        body["suffix"] = suffix
        body["request_id"] = token
        return WireRequest("POST", "/fine_tuning/jobs", json=body)

    def find(self, token: str, training_id: str) -> WireRequest | None:
        return WireRequest("GET", "/fine_tuning/jobs", query={"limit": 20}, idempotent=True)

    def found(self, body: Any, token: str, training_id: str) -> list[str]:
        return [j["id"] for j in body.get("data") or [] if j.get("request_id") == token]
