"""The default vector store of `lz index`: a LanceDB table on disk (vectors, text, metadata).

The store object lives in `lazycli_plugins.lancedb.store` and imports lancedb only when opened.
"""

from __future__ import annotations

from lazycli.hookspecs import StoreSpec, hookimpl


def _open(path, options=None):
    from lazycli_plugins.lancedb.store import LanceStore

    return LanceStore(path, options or {})


@hookimpl
def lazycli_stores():
    yield StoreSpec(name="lancedb", open=_open, description="LanceDB table on local disk (default)")
