"""API keys: a 0600 TOML file under the config dir; environment variables always win.

Keys never reach argv, logs, state rows or error messages; only `mask()`ed forms are shown.
"""

from __future__ import annotations

import os
import re
import tomllib

from lazycli.errors import LzError
from lazycli.errors import mask as mask  # lz keys and the fine-tune dry run show keys masked
from lazycli.fsutil import atomic_write_text
from lazycli.paths import keys_path

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def env_var_for(provider: str) -> str:
    """lz's own env var for a provider: LAZYCLI_<NAME>_API_KEY."""
    return "LAZYCLI_" + re.sub(r"[^A-Z0-9]", "_", provider.upper()) + "_API_KEY"


def _read() -> dict[str, str]:
    path = keys_path()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError:
        raise LzError(
            f"keys file {path} is not valid TOML", hint="fix it, or remove it and `lz keys set` again"
        ) from None
    return {str(k): str(v) for k, v in data.items()}


def _write(keys: dict[str, str]) -> None:
    import tomli_w

    atomic_write_text(keys_path(), tomli_w.dumps(dict(sorted(keys.items()))), mode=0o600)


def _check_name(provider: str) -> None:
    if not _NAME.match(provider):
        raise LzError(f"bad provider name {provider!r}", hint="use letters, digits, '-', '_' or '.'")


def set_key(provider: str, secret: str) -> None:
    _check_name(provider)
    secret = secret.strip()
    if not secret:
        raise LzError(f"empty key for {provider!r}", hint="paste the key at the prompt or pipe it on stdin")
    keys = _read()
    keys[provider] = secret
    _write(keys)


def remove_key(provider: str) -> None:
    keys = _read()
    if provider not in keys:
        raise LzError(f"no stored key for {provider!r}", hint="`lz keys list` shows what is stored")
    del keys[provider]
    _write(keys)


def get_key(provider: str, env_vars: tuple[str, ...] | list[str] = ()) -> tuple[str | None, str | None]:
    """(key, where it came from): env vars first (lz's own, then the vendor's), then the file."""
    for var in (env_var_for(provider), *env_vars):
        value = os.environ.get(var)
        if value:
            return value.strip(), f"env {var}"
    stored = _read().get(provider)
    return (stored, f"file {keys_path()}") if stored else (None, None)


def _provider_env_vars() -> dict[str, tuple[str, ...]]:
    try:
        from lazycli.plugins import registry

        return {name: spec.key_env_vars for name, spec in registry().all("providers").items()}
    except Exception:  # listing keys must work even when plugins are broken
        return {}


def listing() -> list[dict[str, str | None]]:
    """Every provider with a key in the file or the environment, masked."""
    stored = _read()
    env_map = _provider_env_vars()
    rows = []
    for provider in sorted(set(stored) | set(env_map)):
        env = next(
            (v for v in (env_var_for(provider), *env_map.get(provider, ())) if os.environ.get(v)),
            None,
        )
        secret = os.environ[env] if env else stored.get(provider)
        if secret:
            rows.append(
                {"provider": provider, "masked": mask(secret), "env": env, "stored": provider in stored}
            )
    return rows
