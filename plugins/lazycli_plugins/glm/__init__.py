"""GLM (Zhipu AI BigModel): OpenAI-compatible chat, embeddings and rerank under /api/paas/v4.

Zhipu reports business codes in {"error": {"code": "1113", "message": ...}}: 1000-1004 auth,
1113 arrears, 1211 unknown model, 1261 prompt too long, 1301 content filter, 1302/1303/1305 rate
limits. Rerank: POST /rerank {model, query, documents, top_n} → results[{index, relevance_score}].
"""

from __future__ import annotations

from lazycli.hookspecs import ProviderSpec, hookimpl
from lazycli.providers import compat_factory
from lazycli_plugins.glm.finetune import GLMTuner

ERROR_CODES = {
    "1000": "auth",
    "1001": "auth",
    "1002": "auth",
    "1003": "auth",
    "1004": "auth",
    "1113": "quota",
    "1211": "model_not_found",
    "1261": "context_length",
    "1301": "content_filter",
    "1302": "rate_limit",
    "1303": "rate_limit",
    "1305": "rate_limit",
}


@hookimpl
def lazycli_providers():
    yield ProviderSpec(
        name="glm",
        base_url="https://open.bigmodel.cn/api/paas/v4",
        default_model="glm-4-flash",
        key_env_vars=("LAZYCLI_GLM_API_KEY", "ZHIPUAI_API_KEY"),
        models=("glm-4-flash", "glm-4-plus", "glm-4-air", "glm-4"),
        embed=True,
        default_embed_model="embedding-3",
        rerank=True,
        default_rerank_model="rerank",
        rerank_path="/rerank",
        client_factory=compat_factory(error_codes=ERROR_CODES),
        finetune=GLMTuner(),
        description="Zhipu AI BigModel (Bearer key)",
    )
