"""Doubao (Volcengine Ark): OpenAI-compatible chat and embeddings at /api/v3.

Ark error codes: AuthenticationError, AccessDenied, AccountOverdueError, QuotaExceeded,
RateLimitExceeded, ModelAccountTpmRateLimitExceeded, InvalidEndpointOrModel.NotFound, ….
The model field takes a model id or an endpoint id (ep-…).
"""

from __future__ import annotations

from lazycli.hookspecs import ProviderSpec, hookimpl
from lazycli.providers import compat_factory

ERROR_CODES = {
    "AuthenticationError": "auth",
    "AccessDenied": "auth",
    "AccountOverdueError": "quota",
    "QuotaExceeded": "quota",
    "RateLimitExceeded": "rate_limit",
    "RateLimitExceeded.EndpointRPMExceeded": "rate_limit",
    "RateLimitExceeded.EndpointTPMExceeded": "rate_limit",
    "ModelAccountRpmRateLimitExceeded": "rate_limit",
    "ModelAccountTpmRateLimitExceeded": "rate_limit",
    "ServerOverloaded": "server",
    "InvalidEndpointOrModel.NotFound": "model_not_found",
    "InvalidEndpoint.NotFound": "model_not_found",
    "SensitiveContentDetected": "content_filter",
}


@hookimpl
def lazycli_providers():
    yield ProviderSpec(
        name="doubao",
        base_url="https://ark.cn-beijing.volces.com/api/v3",
        default_model="doubao-1-5-pro-32k-250115",
        key_env_vars=("LAZYCLI_DOUBAO_API_KEY", "ARK_API_KEY"),
        models=("doubao-1-5-pro-32k-250115", "doubao-1-5-lite-32k-250115", "doubao-seed-1-6-250615"),
        embed=True,
        default_embed_model="doubao-embedding-text-240715",
        client_factory=compat_factory(error_codes=ERROR_CODES),
        description="Volcengine Ark (Bearer key)",
    )
