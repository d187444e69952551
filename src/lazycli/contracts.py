"""What core calls on the objects plugins hand it, as Protocols, and the one contract suite.

A record (`lazycli.hookspecs`) is data plus callables; some callables return objects that core
then drives for a long time: a store (`StoreSpec.open`), an embedder, a reranker, a launcher. Their
methods are listed here once. Core checks an object against its Protocol when it gets one
(`conform`), so a plugin missing a method fails on first use with a line that names the method,
not with an AttributeError deep inside indexing.

`check(kind, record, workdir)` is the contract suite: it drives a record the way the verbs do, with
real data, and raises `ContractError` naming what broke. The same function runs for every built-in
plugin (tests/plugins/test_contracts.py, parametrized over the registry) and in the test that
`lz plugin new` writes into every scaffold, so the two cannot drift apart.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload, runtime_checkable

from lazycli.errors import LzError
from lazycli.launchers import OPTIONAL, TRAITS, Launcher, arity_error, feature_members, trait

if TYPE_CHECKING:  # records and results named in signatures only; importing them here would be a circle
    from lazycli.client.http import Provider
    from lazycli.finetune.runs import FinetuneJob, Prepared
    from lazycli.hookspecs import EngineRequest, ProviderSpec

# --- the objects core drives ----------------------------------------------------------------------


@runtime_checkable
class ChunkStore(Protocol):
    """A table of chunk rows (pyarrow in, pyarrow or dicts out) with versions, for `lz index`/`lz rag`.

    Rows carry the columns the indexer writes (`source`, `group`, `text`, `text_hash`, `tokens`,
    `meta`, `seq`, `segment`, `start`, `end`, …) and `vector` (fixed-size list of float32). Storage
    order is stable between writes: `take` offsets index into what `scan` returned. Every write makes
    a new version; `checkout(v)` reads an older one (False when it is gone).
    """

    def fingerprint(self) -> str: ...  # changes with every committed write; cheap (no table open)
    def version(self) -> int: ...  # 0 for a store with no table yet
    def checkout(self, version: int) -> bool: ...
    def count(self) -> int: ...
    def scan(self, columns: list[str]) -> Any: ...  # a pyarrow Table, or None with no table yet
    def take(self, offsets: list[int], columns: list[str]) -> list[dict]: ...  # in the order asked
    def rows_for_sources(self, sources: list[str], columns: list[str]) -> list[dict]: ...
    def delete_sources(self, sources: list[str]) -> None: ...
    def add(self, rows: Any) -> None: ...  # a pyarrow Table; the first add creates the table
    def compact(self) -> None: ...
    def clean_temp(self) -> int: ...  # bytes of interrupted writes removed (the index lock is held)
    def drop(self) -> None: ...


@runtime_checkable
class Embedder(Protocol):
    """`embed(texts)` → one vector per text: a 2-D array-like (len(texts) × dim) of floats."""

    def embed(self, texts: list[str]) -> Any: ...


@runtime_checkable
class KnowsLanguages(Protocol):
    """Optional on an Embedder: the languages its model was trained for (ISO 639-1 codes), None when
    unknown. `lz rag` drops the cosine vote on a Chinese query for an embedder without "zh"."""

    languages: tuple[str, ...] | None


@runtime_checkable
class Reranker(Protocol):
    """`rerank(query, texts)` → one relevance score per text, higher is better."""

    def rerank(self, query: str, texts: list[str]) -> Sequence[float]: ...


# --- the callables records carry -------------------------------------------------------------------
# A record field typed with one of these is called by core with exactly these arguments; a plain
# function with the same parameters satisfies it (positional-only: parameter names are the plugin's).


class EngineCommand(Protocol):
    """`EngineSpec.argv`: the engine's exact command line for a request (a list, no shell, no secret)."""

    def __call__(self, request: EngineRequest, /) -> list[str]: ...


class StoreOpener(Protocol):
    """`StoreSpec.open`: the store at `path` (created on first write), with the index's options."""

    def __call__(self, path: Path, options: Mapping[str, Any], /) -> ChunkStore: ...


class EmbedderFactory(Protocol):
    """`EmbedderSpec.factory`: an embedder for `model` (None: the plugin's own default)."""

    def __call__(self, model: str | None, options: Mapping[str, Any], /) -> Embedder: ...


class RerankerFactory(Protocol):
    """`RerankerSpec.factory`: a reranker for `model` (None: the plugin's own default)."""

    def __call__(self, model: str | None, options: Mapping[str, Any], /) -> Reranker: ...


class LoadDocument(Protocol):
    """`LoaderSpec.load`: one file as `(text, metadata)` pairs in reading order (a page, a section…)."""

    def __call__(self, path: Path, /) -> Iterable[tuple[str, dict[str, Any]]]: ...


class ClientFactory(Protocol):
    """`ProviderSpec.client_factory`: a ready client (`lazycli.providers.connect` calls it with the key
    it found and the base URL after LAZYCLI_<NAME>_BASE_URL); None on the record: OpenAI-compatible."""

    def __call__(
        self,
        spec: ProviderSpec,
        /,
        *,
        base_url: str,
        api_key: str | None,
        key_source: str | None,
        announce: Callable[[str], None] | None = None,
    ) -> Provider: ...


class PrepareFinetune(Protocol):
    """`FinetunerSpec.prepare`: the config files and argv of one run; writes nothing (a dry run shows
    them, the real run writes `files` under `job.run_dir` and submits `argv` to the launcher)."""

    def __call__(self, job: FinetuneJob, /) -> Prepared: ...


class FinetuneArgv(Protocol):
    """`FinetunerSpec.argv`: the trainer's command line for `job` (its config at `config`)."""

    def __call__(self, job: FinetuneJob, config: Path | None = None, /) -> list[str]: ...


class FinishFinetune(Protocol):
    """`FinetunerSpec.finish`: after the trainer exited 0, the model to register: {"path": …,
    "format": "gguf"|"hf", …}; an LzError when the run left none."""

    def __call__(self, run_dir: Path, record: dict[str, Any], /) -> dict[str, Any]: ...


PROTOCOLS: dict[str, type] = {
    "stores": ChunkStore,
    "embedders": Embedder,
    "rerankers": Reranker,
    "launchers": Launcher,
}


class ContractError(LzError):
    """A plugin does not do what core needs from it."""


def members(protocol: type) -> list[str]:
    """The methods and attributes a Protocol asks for, in the order they are declared."""
    names = [n for n, v in vars(protocol).items() if not n.startswith("_") and inspect.isfunction(v)]
    return [*getattr(protocol, "__annotations__", {}), *names]


def missing(obj: Any, protocol: type) -> list[str]:
    """Members of `protocol` that `obj` lacks (a method that is there but not callable counts)."""
    out = []
    for name in members(protocol):
        value = getattr(obj, name, None)
        wanted_method = inspect.isfunction(vars(protocol).get(name))
        if value is None or (wanted_method and not callable(value)):
            out.append(name)
    return out


# Typed per kind, so what core gets back (`backends.open_store`, `jobs._launcher`, …) is the Protocol.
@overload
def conform(obj: Any, kind: Literal["stores"], name: str) -> ChunkStore: ...
@overload
def conform(obj: Any, kind: Literal["embedders"], name: str) -> Embedder: ...
@overload
def conform(obj: Any, kind: Literal["rerankers"], name: str) -> Reranker: ...
@overload
def conform(obj: Any, kind: Literal["launchers"], name: str) -> Launcher: ...
def conform(obj: Any, kind: str, name: str) -> Any:
    """`obj` if it has every member core calls for `kind` ("stores", …), else one clear line."""
    protocol = PROTOCOLS[kind]
    lacks = missing(obj, protocol)
    if lacks:
        raise ContractError(
            f"{kind[:-1]} plugin {name!r} ({type(obj).__name__}) lacks {', '.join(lacks)}, "
            f"which lz calls (lazycli.contracts.{protocol.__name__})",
            hint=f"`lz plugin new NAME --kind {kind[:-1]}` writes a complete, tested example",
        )
    if kind == "launchers":
        _conform_optional(obj, name)
    return obj


def _conform_optional(launcher: Any, name: str) -> None:
    """A launcher's optional members (lazycli.launchers.OPTIONAL, TRAITS), when it has them, must be
    what lz would call or read: a wrong one fails here in one line, not silently skipped later."""
    required = set(members(Launcher))  # checked above
    for feature in OPTIONAL:
        for member, wanted in feature_members(feature).items():
            present = getattr(launcher, member, None)
            if present is None or member in required:
                continue
            why = arity_error(present, wanted) if callable(present) else "it is not callable"
            if why:
                raise ContractError(
                    f"launcher plugin {name!r}: {member} cannot be called as lz calls it "
                    f"(lazycli.launchers.{feature.__name__}): {why}",
                    hint=f"{member} is optional: give it the Protocol's parameters, or remove it",
                )
    for member, declared in TRAITS.items():
        value = trait(launcher, member)
        if not isinstance(value, declared.kind) or (declared.kind is not bool and isinstance(value, bool)):
            raise ContractError(
                f"launcher plugin {name!r}: {member} is {value!r}, lz reads it as {declared.help} "
                f"({_kind_name(declared.kind)}, default {declared.default!r})",
                hint=f"set {member} to a {_kind_name(declared.kind)} or remove it",
            )


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__


# --- the contract suite ---------------------------------------------------------------------------


def check(kind: str, record: Any, workdir: Path, *, model: str | None = None) -> None:
    """Drive `record` (a record of `kind`: "stores", "embedders", …) as the verbs do; raises
    ContractError naming what broke. `workdir` is an empty folder it may write in; `model` is what an
    embedder's or reranker's factory gets (None: its own default)."""
    checks = {
        "engines": _check_engine,
        "launchers": _check_launcher,
        "providers": _check_provider,
        "finetuners": _check_finetuner,
        "stores": _check_store,
        "loaders": _check_loader,
        "embedders": _check_embedder,
        "rerankers": _check_reranker,
    }
    if kind not in checks:
        raise ContractError(f"no contract for plugin kind {kind!r}", hint=f"one of {', '.join(checks)}")
    if kind in ("embedders", "rerankers"):
        checks[kind](record, Path(workdir), model)
    else:
        checks[kind](record, Path(workdir))


def call(record: Any, field: str, protocol: type | None, *args: Any) -> Any:
    """`record.<field>(*args)`, refused first in one line when its parameters cannot take them (a
    callable written for another signature fails here, naming the plugin, the field and `protocol`,
    not with a TypeError deep inside). Core calls plugin callables through this."""
    function = getattr(record, field)
    try:
        inspect.signature(function).bind(*args)
    except TypeError as exc:
        _refuse(record, field, protocol, str(exc))
    except ValueError:  # no signature to read (some builtins): call it and see
        pass
    return function(*args)


def require(record: Any, field: str, protocol: type) -> None:
    """Refuse `record.<field>` now when it cannot be called as `protocol` says, for a callable core
    calls only later (a fine-tune's `finish`, after hours of training)."""
    why = arity_error(getattr(record, field), vars(protocol)["__call__"])
    if why:
        _refuse(record, field, protocol, why)


def _refuse(record: Any, field: str, protocol: type | None, why: str) -> None:
    wanted = f" (lazycli.contracts.{protocol.__name__})" if protocol else ""
    kind = type(record).__name__.removesuffix("Spec").lower()  # StoreSpec → store
    raise ContractError(
        f"{kind} plugin {record.name!r}: {field} cannot be called as lz calls it{wanted}: {why}",
        hint=f"`lz plugin new NAME --kind {kind}` writes one with the right signature",
    ) from None


def _expect(ok: bool, record: Any, what: str) -> None:
    if not ok:
        raise ContractError(f"plugin {getattr(record, 'name', record)!r}: {what}")


def _check_engine(record: Any, workdir: Path) -> None:
    from lazycli.hookspecs import EngineRequest

    request = EngineRequest(model_path=workdir / "model", served_name="m", port=8123, host="127.0.0.1")
    argv = call(record, "argv", EngineCommand, request)
    _expect(isinstance(argv, list) and argv, record, "argv(request) must return a non-empty list")
    _expect(all(isinstance(a, str) for a in argv), record, f"argv items must all be str: {argv!r}")
    _expect(any("8123" in a for a in argv), record, f"argv must carry the request's port: {argv!r}")
    _expect(bool(record.model_types), record, "model_types is empty")
    _expect(isinstance(record.is_installed(), bool), record, "is_installed() must answer True or False")


def _check_launcher(record: Any, workdir: Path) -> None:
    from lazycli.launchers import Resources

    launcher = conform(call(record, "factory", None), "launchers", record.name)
    secret = "contract-secret-value-9f3a"
    text = launcher.describe(["python", "-c", "print(42)"], Resources(), {"LZ_CONTRACT_KEY": secret})
    _expect(isinstance(text, str) and text.strip(), record, "describe() must return the job as text")
    _expect(secret not in text, record, "describe() printed an environment value (it may be a secret)")


def _check_provider(record: Any, workdir: Path) -> None:
    _expect(record.base_url.startswith(("https://", "http://")), record, "base_url must be an http(s) URL")
    _expect(bool(record.default_model), record, "default_model is empty")
    _expect(all(isinstance(v, str) and v for v in record.key_env_vars), record, "key_env_vars: names")
    _expect(record.client_factory is None or callable(record.client_factory), record, "client_factory")


def _check_finetuner(record: Any, workdir: Path) -> None:
    """`prepare(job)` as `lz finetune` calls it, on a job of the plugin's first model type with its own
    default options: a Prepared (files relative to the run folder, a str argv), nothing written."""
    from lazycli.finetune.data import FORMATS
    from lazycli.finetune.runs import FinetuneJob, Prepared

    _expect(callable(record.prepare) and callable(record.argv), record, "prepare and argv must be callables")
    _expect(callable(record.finish), record, "finish(run_dir, record) must name the model a run made")
    require(record, "finish", FinishFinetune)
    unknown = [f for f in record.dataset_formats if f not in FORMATS]
    _expect(not unknown, record, f"dataset_formats {unknown} are not formats lz knows ({', '.join(FORMATS)})")
    _expect(record.data_target in FORMATS, record, f"data_target {record.data_target!r} is not a format")
    run_dir = workdir / "run"
    job = FinetuneJob(
        name="contract-run",
        method=record.name,
        model="contract-base",
        base_path=workdir / "base",
        base_format="hf",
        template=None,
        model_type=record.model_types[0],
        data_file=run_dir / "data" / "train.jsonl",
        data_format=record.data_target,
        run_dir=run_dir,
        params=dict(record.options),
        cache_dir=workdir / "cache",
    )
    prepared = call(record, "prepare", PrepareFinetune, job)
    _expect(isinstance(prepared, Prepared), record, f"prepare(job) must return a Prepared, not {prepared!r}")
    _expect(bool(prepared.argv) and all(isinstance(a, str) for a in prepared.argv), record,
            f"prepare(job).argv must be a non-empty list of str: {prepared.argv!r}")  # fmt: skip
    for rel, text in prepared.files.items():
        _expect(not Path(rel).is_absolute() and ".." not in Path(rel).parts, record,
                f"prepare(job).files key {rel!r} must be a path inside the run folder")  # fmt: skip
        _expect(isinstance(text, str), record, f"prepare(job).files[{rel!r}] must be text")
    _expect(not run_dir.exists(), record, "prepare(job) wrote files: lz writes them, and only for a real run")
    argv = call(record, "argv", FinetuneArgv, job)
    _expect(bool(argv) and all(isinstance(a, str) for a in argv), record, f"argv(job) gave {argv!r}")


SAMPLE = "Tides follow the Moon."
# What a one-line document looks like in formats that are not plain text; binary ones (pdf, docx)
# are fed real files by their own tests.
_JSON = f'{{"text": "{SAMPLE}"}}'
_HTML = f"<html><body><p>{SAMPLE}</p></body></html>"
_SAMPLES = {".json": _JSON, ".jsonl": _JSON, ".ndjson": _JSON, ".html": _HTML, ".htm": _HTML, ".xhtml": _HTML}
_BINARY = (".pdf", ".docx", ".doc", ".pptx", ".xlsx", ".epub")


def _check_loader(record: Any, workdir: Path) -> None:
    _expect(all(e.startswith(".") for e in record.extensions), record, "extensions start with '.'")
    readable = [e for e in record.extensions if e not in _BINARY]
    if not readable:
        return
    doc = workdir / f"contract{readable[0]}"
    doc.write_text(_SAMPLES.get(readable[0], SAMPLE + "\n"), encoding="utf-8")
    parts = list(call(record, "load", LoadDocument, doc))
    _expect(bool(parts), record, f"load() of a one-line {readable[0]} file yielded nothing")
    for part in parts:
        _expect(isinstance(part, tuple) and len(part) == 2, record, "load() must yield (text, meta) pairs")
        _expect(isinstance(part[0], str) and isinstance(part[1], dict), record, "(str, dict) pairs")
    _expect("Tides" in "".join(t for t, _ in parts), record, "load() lost the file's text")


def _check_embedder(record: Any, workdir: Path, model: str | None = None) -> None:
    import numpy as np

    embedder = conform(call(record, "factory", EmbedderFactory, model, {}), "embedders", record.name)
    vectors = np.asarray(embedder.embed(["the red apple", "a blue sky", "the red apples"]), dtype=np.float32)
    _expect(vectors.ndim == 2 and vectors.shape[0] == 3 and vectors.shape[1] > 0, record,
            f"embed(3 texts) must give a 3 × dim array, got shape {vectors.shape}")  # fmt: skip
    _expect(bool(np.isfinite(vectors).all()), record, "embed() gave NaN or infinite values")


def _check_reranker(record: Any, workdir: Path, model: str | None = None) -> None:
    reranker = conform(call(record, "factory", RerankerFactory, model, {}), "rerankers", record.name)
    scores = [float(s) for s in reranker.rerank("red apple", ["a red apple on a table", "the blue sky"])]
    _expect(len(scores) == 2, record, "rerank(query, 2 texts) must give 2 scores")
    _expect(scores[0] > scores[1], record, f"rerank ranked the matching text lower: {scores}")


def _check_store(record: Any, workdir: Path) -> None:
    """Rows written by the real indexer's arrow conversion; every method core calls, then a reopen."""
    store = conform(call(record, "open", StoreOpener, workdir / "store", {}), "stores", record.name)
    _expect(store.version() == 0 and store.count() == 0, record, "a new store must be empty at version 0")
    _expect(store.scan(["source"]) is None or store.scan(["source"]).num_rows == 0, record, "scan of empty")
    before = store.fingerprint()
    store.add(_rows([("a.txt", "Tides follow the Moon."), ("a.txt", "Spring tides"), ("b.txt", "Tea")]))
    first = store.version()
    _expect(first > 0 and store.count() == 3, record, "after add(3 rows): count 3 and a version above 0")
    _expect(store.fingerprint() != before, record, "fingerprint() must change with a write")
    sources = store.scan(["source", "text"]).column("source").to_pylist()
    _expect(sorted(sources) == ["a.txt", "a.txt", "b.txt"], record, f"scan(['source']) gave {sources}")
    texts = store.scan(["text"]).column("text").to_pylist()
    taken = store.take([2, 0], ["text", "source"])
    _expect([r["text"] for r in taken] == [texts[2], texts[0]], record, "take() must follow the offsets")
    old = store.rows_for_sources(["a.txt"], ["text", "vector"])
    _expect(len(old) == 2 and len(old[0]["vector"]) == DIM, record, "rows_for_sources(['a.txt']) → 2 rows")
    store.delete_sources(["a.txt"])
    _expect(
        store.count() == 1 and store.version() > first, record, "delete_sources: 1 row left, a new version"
    )
    store.compact()
    _expect(isinstance(store.clean_temp(), int), record, "clean_temp() must return the bytes it freed")
    reopened = record.open(workdir / "store", {})
    _expect(
        reopened.count() == 1, record, "rows must persist: a store opened again on the same path sees them"
    )
    reopened.drop()


DIM = 4


def _rows(pairs: list[tuple[str, str]]):
    import hashlib

    import numpy as np

    from lazycli.rag.indexer import _to_arrow

    rows = [
        {
            "id": f"{source}:{i}",
            "source": source,
            "file_hash": "0" * 16,
            "group": "CoarseChunk",
            "text": text,
            "text_hash": hashlib.sha1(text.encode()).hexdigest(),
            "tokens": text.lower(),
            "meta": "{}",
            "seq": i,
            "segment": 0,
            "start": 0,
            "end": len(text),
        }
        for i, (source, text) in enumerate(pairs)
    ]
    vectors = np.arange(len(rows) * DIM, dtype=np.float32).reshape(len(rows), DIM)
    return _to_arrow(rows, vectors)
