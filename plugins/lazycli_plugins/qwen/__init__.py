"""Qwen (Alibaba Cloud DashScope / Model Studio): OpenAI-compatible mode for chat and embeddings,
DashScope's native text-rerank service for rerank.

Compatible-mode errors carry DashScope codes: InvalidApiKey, Arrearage, Throttling.*,
model_not_found, DataInspectionFailed, … Rerank: POST /api/v1/services/rerank/text-rerank/text-rerank
{model, input: {query, documents}, parameters} → output.results[{index, relevance_score}].
"""

from __future__ import annotations

from lazycli.hookspecs import ProviderSpec, hookimpl
from lazycli.providers import compat_factory
from lazycli_plugins.qwen.finetune import QwenTuner

ERROR_CODES = {
    "InvalidApiKey": "auth",
    "invalid_api_key": "auth",
    "AccessDenied": "auth",
    "Arrearage": "quota",
    "Throttling": "rate_limit",
    "Throttling.RateQuota": "rate_limit",
    "Throttling.AllocationQuota": "rate_limit",
    "limit_requests": "rate_limit",
    "ModelNotFound": "model_not_found",
    "model_not_found": "model_not_found",
    "DataInspectionFailed": "content_filter",
    "data_inspection_failed": "content_filter",
}


@hookimpl
def lazycli_providers():
    yield ProviderSpec(
        name="qwen",
        base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",
        default_model="qwen-plus",
        key_env_vars=("LAZYCLI_QWEN_API_KEY", "DASHSCOPE_API_KEY"),
        models=("qwen-plus", "qwen-turbo", "qwen-max", "qwen-long"),
        embed=True,
        default_embed_model="text-embedding-v3",
        rerank=True,
        default_rerank_model="gte-rerank",
        # "//" = from the origin of the base URL (the native API lives beside compatible-mode).
        rerank_path="//api/v1/services/rerank/text-rerank/text-rerank",
        client_factory=compat_factory(error_codes=ERROR_CODES, rerank_style="dashscope"),
        finetune=QwenTuner(),
        description="Alibaba Cloud DashScope, compatible mode (Bearer key)",
    )
