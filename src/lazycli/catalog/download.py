"""Hub downloads: resumable, verified, atomic.

Hugging Face: the real `huggingface_hub` client asks the API for the commit and the file list
(`HfApi.model_info(files_metadata=True)`), resolves each file (`get_hf_file_metadata`: HEAD, the
CDN redirect, ETag/X-Linked-Size) and streams it (`http_get`: Range, retries). lz does not call
`hf_hub_download` because since huggingface_hub 1.x it writes each attempt to a fresh,
process-unique temp file: an interrupted 10 GB transfer would start again from zero. Instead:

- a plan first (hub ids, target dir), which `--dry-run` prints without any network;
- one file at a time, pinned to the resolved commit, into `.cache/lz-partial/<file>.<etag>.part`,
  kept across runs and continued with Range; a finished, verified file is never fetched again;
- every file is checked against what the hub publishes (size; sha256 for LFS files, hashed while
  streaming; the git blob sha1 for small files) before it is moved into place; a bad one is
  deleted so the next run fetches it afresh;
- a ready marker (`.lz-ready.json`) is written, atomically, only after every file is verified:
  a half download is never reported as a ready model.

ModelScope: the real `modelscope` client (`snapshot_download`, which resumes and checks sha256
itself) into the same cache layout; lz adds the ready marker.

Tokens come from `lazycli.keys.get_key(...)` and go to the clients as arguments, never to argv,
logs or error messages; a token is not sent to a CDN host (only to the hub's own origin).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from lazycli.catalog import local
from lazycli.catalog.model import ModelRef
from lazycli.catalog.sizes import format_bytes
from lazycli.console import note, options
from lazycli.errors import LzError
from lazycli.fsutil import atomic_write_text

DEFAULT_BRANCH = {"huggingface": "main", "modelscope": "master"}
MS_BOOKKEEPING = {local.READY_MARKER, ".cache", "._____temp", ".msc", ".mdl", ".mv"}
HF_TOKEN_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
MS_TOKEN_ENV = ("MODELSCOPE_API_TOKEN",)
PARTIAL_DIR = ".cache/lz-partial"  # part files kept across runs, so an interrupted transfer continues
VERIFIED_FILE = ".cache/lz-verified.json"  # per-file hashes already checked, so a resume skips them
TOKEN_HINT = "store a token with `lz keys set huggingface` (or set HF_TOKEN), and accept the model's licence"


# --- planning ---------------------------------------------------------------------------------------


def pick_source(ref: ModelRef, source: str | None) -> str:
    from lazycli.catalog.resolver import default_source

    hub = source or default_source()
    if hub not in local.HUBS:
        raise LzError(f"unknown hub {hub!r}", hint="use --source huggingface or --source modelscope")
    if hub not in ref.hub_ids:
        others = ", ".join(ref.hub_ids) or "none"
        raise LzError(f"model {ref.name!r} has no {hub} id", hint=f"hubs it is on: {others}")
    return hub


def plan(
    ref: ModelRef,
    *,
    source: str | None = None,
    revision: str | None = None,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
) -> dict:
    """What a download would do, without any network: hub ids, the chosen hub, the target dir."""
    hub = pick_source(ref, source)
    repo_id = ref.hub_ids[hub]
    target = local.cache_dir_for(hub, repo_id)
    return {
        "model": ref.name,
        "type": ref.type,
        "format": ref.format,
        "hub_ids": dict(ref.hub_ids),
        "source": hub,
        "repo_id": repo_id,
        "revision": revision or DEFAULT_BRANCH[hub],
        "include": list(include or ref.include),
        "exclude": list(exclude),
        "target_dir": str(target),
        "ready": ref.ready,
        "local_path": str(ref.path) if ref.path else None,
        "endpoint": _endpoint(hub),
    }


def _endpoint(hub: str) -> str:
    if hub == "huggingface":
        return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return os.environ.get("MODELSCOPE_ENDPOINT") or "https://" + os.environ.get(
        "MODELSCOPE_DOMAIN", "www.modelscope.cn"
    )


def select_files(names: list[str], include=(), exclude=()) -> list[str]:
    """Repo files kept by the include/exclude globs (include empty = all)."""
    kept = []
    for name in names:
        if include and not any(fnmatch.fnmatch(name, pat) for pat in include):
            continue
        if any(fnmatch.fnmatch(name, pat) for pat in exclude):
            continue
        kept.append(name)
    return kept


# --- verification -----------------------------------------------------------------------------------


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def git_blob_sha1(path: Path, chunk: int = 1 << 20) -> str:
    """The git object id of a file: sha1 of 'blob <size>\\0' + content (what the hub lists as blob id)."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected: dict, *, sha256: str | None = None) -> str | None:
    """None when the file matches the hub's size/hash, else a reason (`sha256`: already computed)."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if expected.get("size") is not None and size != expected["size"]:
        return f"size {size} != {expected['size']}"
    if expected.get("sha256"):
        actual = sha256 or sha256_file(path)
        if actual != expected["sha256"]:
            return f"sha256 {actual[:12]}… != {expected['sha256'][:12]}…"
    elif expected.get("blob_id"):
        actual = git_blob_sha1(path)
        if actual != expected["blob_id"]:
            return f"git sha1 {actual[:12]}… != {expected['blob_id'][:12]}…"
    return None


class _HashingWriter:
    """The part file, hashing bytes as they are written so verification needs no second read.

    The client rewinds and truncates when a server ignores Range; the running hash is then void and
    the file is hashed from disk instead.
    """

    def __init__(self, fh, digest) -> None:
        self.fh, self.digest, self.valid = fh, digest, True

    def write(self, data) -> int:
        self.digest.update(data)
        return self.fh.write(data)

    def seek(self, *args):
        self.valid = False
        return self.fh.seek(*args)

    def truncate(self, *args):
        self.valid = False
        return self.fh.truncate(*args)

    def __getattr__(self, name):
        return getattr(self.fh, name)


def _prefix_digest(path: Path, length: int):
    digest = hashlib.sha256()
    if length <= 0:
        return digest
    with open(path, "rb") as fh:
        while length > 0 and (block := fh.read(min(1 << 20, length))):
            digest.update(block)
            length -= len(block)
    return digest


def _load_verified(target: Path) -> dict:
    try:
        return json.loads((target / VERIFIED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_verified(target: Path, verified: dict) -> None:
    atomic_write_text(target / VERIFIED_FILE, json.dumps(verified, indent=1))


def _stat_key(path: Path) -> list:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


# --- progress ---------------------------------------------------------------------------------------


class _Progress:
    """A rich progress display (bytes, speed, ETA) on stderr, only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress = None
        self.total_task = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            from lazycli.console import err_console

            self.progress = Progress(
                TextColumn("{task.description}", justify="left"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=err_console(),
                transient=False,
            )
            self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def start_total(self, label: str, total: int, done: int) -> None:
        if self.progress is not None:
            self.total_task = self.progress.add_task(label, total=total, completed=done)

    def advance_total(self, n: int) -> None:
        if self.progress is not None and self.total_task is not None:
            self.progress.advance(self.total_task, n)

    def bar_class(self):
        """A tqdm-shaped class the hub clients drive; it forwards bytes to the rich bars."""
        outer = self

        class Bar:
            def __init__(self, *args, total=None, initial=0, desc=None, **kwargs) -> None:
                self.n = initial or 0
                self.total = total
                self.task = None
                if outer.progress is not None:
                    label = str(desc or "file")[-40:]
                    self.task = outer.progress.add_task(f"  {label}", total=total, completed=self.n)

            def update(self, n=1) -> None:
                self.n += n
                if self.task is not None:
                    outer.progress.advance(self.task, n)
                outer.advance_total(n)

            def close(self) -> None:
                if self.task is not None:
                    outer.progress.remove_task(self.task)
                    self.task = None

            def refresh(self, *a, **k) -> None:
                pass

            def set_description(self, *a, **k) -> None:
                pass

            def __enter__(self):
                return self

            def __exit__(self, *exc) -> None:
                self.close()

        return Bar


def _want_progress(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    import sys

    from lazycli.console import is_tty

    return is_tty(sys.stderr) and not options.quiet and not options.json


# --- the download -----------------------------------------------------------------------------------


def download(
    ref: ModelRef,
    *,
    source: str | None = None,
    revision: str | None = None,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    progress: bool | None = None,
    verify: bool = False,
) -> dict:
    """Download a model's files into the cache, verify them, mark it ready; returns a summary.

    `verify=True` re-hashes a model that is already marked ready (and repairs it if needed).
    """
    the_plan = plan(ref, source=source, revision=revision, include=include, exclude=exclude)
    if the_plan["source"] == "huggingface":
        return _download_hf(ref, the_plan, progress=_want_progress(progress), verify=verify)
    return _download_ms(ref, the_plan, progress=_want_progress(progress))


def _hf_token() -> str | None:
    from lazycli.keys import get_key

    token, _where = get_key("huggingface", HF_TOKEN_ENV)
    return token


def _hf_error(exc: Exception, the_plan: dict) -> LzError | None:
    """A user-facing error for what the hub client raised (None when it is a bug)."""
    from huggingface_hub import errors as hf_errors

    repo = f"{the_plan['repo_id']} on {the_plan['endpoint']}"
    if isinstance(exc, hf_errors.OfflineModeIsEnabled):
        return LzError(
            f"cannot download {repo}: HF_HUB_OFFLINE is set", hint="unset HF_HUB_OFFLINE to download"
        )
    if isinstance(exc, hf_errors.GatedRepoError):
        return LzError(f"{repo} is gated: access denied", hint=TOKEN_HINT)
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return LzError(f"revision {the_plan['revision']!r} not found in {repo}", hint="check --revision")
    if isinstance(exc, hf_errors.EntryNotFoundError):
        return LzError(
            f"a file listed by {repo} is missing on the hub", hint="try again later or pin --revision"
        )
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):
        return LzError(f"{repo}: not authorized (HTTP {status}), or the repo does not exist", hint=TOKEN_HINT)
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        return LzError(f"model repo {repo} not found", hint="check the id, or " + TOKEN_HINT)
    if isinstance(exc, hf_errors.HfHubHTTPError):
        return LzError(
            f"hub error for {repo}: HTTP {status}", hint="try again; downloads resume where they stopped"
        )
    if isinstance(exc, _network_errors()):
        return LzError(
            f"cannot reach {the_plan['endpoint']} ({type(exc).__name__})",
            hint="check the network or HF_ENDPOINT; run again to resume",
        )
    return None


def _network_errors() -> tuple[type[BaseException], ...]:
    """Connection-level errors of the HTTP libraries the hub clients use (httpx2 in huggingface_hub 2.x)."""
    import importlib

    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module in ("httpx2", "httpx", "requests"):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        errors.append(mod.HTTPError if module != "requests" else mod.ConnectionError)
    return tuple(errors)


def _hf_call(fn, the_plan: dict, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        err = _hf_error(exc, the_plan)
        if err is None:
            raise
        raise err from None


def _expected_files(info, the_plan: dict) -> dict[str, dict]:
    siblings = {s.rfilename: s for s in (info.siblings or [])}
    names = select_files(sorted(siblings), the_plan["include"], the_plan["exclude"])
    if not names:
        raise LzError(
            f"no files of {the_plan['repo_id']} match --include/--exclude",
            hint="repo files: " + ", ".join(sorted(siblings)[:8]),
        )
    out = {}
    for name in names:
        sib = siblings[name]
        lfs = sib.lfs
        out[name] = {
            "size": lfs.size if lfs else sib.size,
            "sha256": lfs.sha256 if lfs else None,
            "blob_id": None if lfs else sib.blob_id,
        }
    return out


def _download_hf(ref: ModelRef, the_plan: dict, *, progress: bool, verify: bool) -> dict:
    from huggingface_hub import HfApi

    target = Path(the_plan["target_dir"])
    token = _hf_token()
    api = HfApi(endpoint=the_plan["endpoint"])
    info = _hf_call(
        api.model_info,
        the_plan,
        the_plan["repo_id"],
        revision=the_plan["revision"],
        files_metadata=True,
        token=token,
    )
    commit = info.sha
    expected = _expected_files(info, the_plan)
    marker = local.read_marker(target)
    if (
        marker
        and marker.get("commit") == commit
        and set(expected) <= set(marker.get("files", {}))
        and not verify
    ):
        return _summary(ref, the_plan, target, commit, expected, downloaded=0, already=True)
    # From here on the dir is not ready until verified again.
    (target / local.READY_MARKER).unlink(missing_ok=True)
    target.mkdir(parents=True, exist_ok=True)
    verified = _load_verified(target)
    total = sum(e["size"] or 0 for e in expected.values())
    done = sum(_partial_bytes(target, name) for name in expected)
    started = time.monotonic()
    fetched = 0
    with _Progress(progress) as bars:
        bars.start_total(f"{ref.name} ({len(expected)} files)", total, done)
        for name, exp in expected.items():
            path = target / name
            if not verify and _already_verified(verified, name, path, exp):
                continue
            if path.is_file():
                problem = verify_file(path, exp)
                if problem is not None:
                    # Damaged since, or an older revision of the file: fetch it again.
                    note(f"{name}: local copy is damaged or outdated ({problem}); downloading it again")
                    path.unlink()
            if not path.is_file():
                fetched += _fetch_hf_file(the_plan, commit, name, exp, target, token, bars)
            verified[name] = {"commit": commit, "id": _content_id(exp), "stat": _stat_key(path)}
            _save_verified(target, verified)
    _write_marker(target, the_plan, commit, expected)
    summary = _summary(ref, the_plan, target, commit, expected, downloaded=fetched, already=False)
    summary["seconds"] = round(time.monotonic() - started, 3)
    return summary


def _partial_bytes(target: Path, name: str) -> int:
    path = target / name
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in _part_dir(target, name).glob(Path(name).name + ".*.part"))


def _part_dir(target: Path, name: str) -> Path:
    return (target / PARTIAL_DIR / name).parent


def _same_origin(url: str, other: str) -> bool:
    from urllib.parse import urlsplit

    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _fetch_hf_file(the_plan: dict, commit: str, name: str, exp: dict, target: Path, token, bars) -> int:
    """Fetch one file into a `.part` file (resumed with Range), verify it, then move it in place.

    huggingface_hub's own hf_hub_download writes to a fresh, process-unique temp file each run, so an
    interrupted transfer starts from zero; lz keeps the part file across runs instead and uses the
    client's HEAD (`get_hf_file_metadata`) and streaming (`http_get`, Range + retries) to continue it.
    Returns the bytes transferred in this run.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    endpoint = the_plan["endpoint"]
    url = hf_hub_url(the_plan["repo_id"], name, revision=commit, endpoint=endpoint)
    meta = _hf_call(get_hf_file_metadata, the_plan, url, token=token, endpoint=endpoint)
    headers = build_hf_headers(token=token)
    if not _same_origin(meta.location, endpoint):
        # A signed CDN URL: the token must not leave the hub (the client does the same).
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    tag = (meta.etag or exp.get("sha256") or exp.get("blob_id") or "noetag")[:16]
    part = target / PARTIAL_DIR / f"{name}.{tag}.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    for stale in part.parent.glob(Path(name).name + ".*.part"):
        if stale != part:
            stale.unlink()  # bytes of an older version of this file
    resume = part.stat().st_size if part.exists() else 0
    size = meta.size if meta.size is not None else exp.get("size")
    if size is not None and resume > size:
        part.unlink()
        resume = 0
    digest = _prefix_digest(part, resume) if exp.get("sha256") else None
    with open(part, "ab") as fh:
        sink = _HashingWriter(fh, digest) if digest is not None else fh
        _hf_call(
            http_get,
            the_plan,
            meta.location,
            sink,
            resume_size=resume,
            headers=headers,
            expected_size=size,
            displayed_filename=name,
            tqdm_class=bars.bar_class(),
        )
    streamed = digest.hexdigest() if digest is not None and sink.valid else None
    problem = verify_file(part, exp, sha256=streamed)
    if problem:
        part.unlink(missing_ok=True)
        raise LzError(
            f"downloaded {name} of {the_plan['repo_id']} failed verification ({problem}); deleted it",
            hint="run the same command again to fetch it afresh; if it repeats, the hub or mirror "
            "serves bad data",
        )
    final = target / name
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, final)
    return (size or 0) - resume


def _content_id(exp: dict) -> str | None:
    return exp.get("sha256") or exp.get("blob_id")


def _already_verified(verified: dict, name: str, path: Path, exp: dict) -> bool:
    """A file verified in an earlier run, with the same content id on the hub and untouched since."""
    rec = verified.get(name)
    if not rec or not path.is_file() or _content_id(exp) is None:
        return False
    return rec.get("id") == _content_id(exp) and rec.get("stat") == _stat_key(path)


def _write_marker(target: Path, the_plan: dict, commit: str, expected: dict) -> None:
    marker = {
        "hub": the_plan["source"],
        "repo_id": the_plan["repo_id"],
        "model": the_plan["model"],
        "revision": the_plan["revision"],
        "commit": commit,
        "include": the_plan["include"],
        "exclude": the_plan["exclude"],
        "files": expected,
        "verified_at": time.time(),
    }
    atomic_write_text(target / local.READY_MARKER, json.dumps(marker, indent=1))


def _summary(ref, the_plan, target, commit, expected, *, downloaded: int, already: bool) -> dict:
    path = local.model_file(target, ref.format, tuple(the_plan["include"]))
    return {
        "model": ref.name,
        "source": the_plan["source"],
        "repo_id": the_plan["repo_id"],
        "commit": commit,
        "path": str(path),
        "dir": str(target),
        "files": len(expected),
        "bytes": sum(e["size"] or 0 for e in expected.values()),
        "downloaded_bytes": downloaded,
        "already_present": already,
        "verified": True,
    }


# --- ModelScope -------------------------------------------------------------------------------------


def _ms_token() -> str | None:
    from lazycli.keys import get_key

    token, _where = get_key("modelscope", MS_TOKEN_ENV)
    return token


def ms_snapshot_kwargs(the_plan: dict, target: Path) -> dict:
    """The exact keyword arguments lz passes to `modelscope.snapshot_download` (tested as such)."""
    kwargs = {
        "model_id": the_plan["repo_id"],
        "revision": None if the_plan["revision"] == DEFAULT_BRANCH["modelscope"] else the_plan["revision"],
        "local_dir": str(target),
    }
    if the_plan["include"]:
        kwargs["allow_patterns"] = list(the_plan["include"])
    if the_plan["exclude"]:
        kwargs["ignore_patterns"] = list(the_plan["exclude"])
    return kwargs


def _download_ms(ref: ModelRef, the_plan: dict, *, progress: bool) -> dict:
    """ModelScope through its own client (which verifies sha256 per file itself); lz adds the marker."""
    import importlib.util

    if importlib.util.find_spec("modelscope") is None:
        raise LzError("the modelscope client is not installed", hint="pip install 'lazycli[modelscope]'")
    target = Path(the_plan["target_dir"])
    if local.read_marker(target):
        return _ms_summary(ref, the_plan, target, already=True)
    _check_reachable(the_plan["endpoint"])  # the client retries for half a minute before it says
    from modelscope.hub.snapshot_download import snapshot_download  # slow: only once it can be used

    (target / local.READY_MARKER).unlink(missing_ok=True)
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        with _quiet_client(not progress):
            # The token goes as an argument (never argv or logs); MODELSCOPE_ENDPOINT picks the server.
            snapshot_download(**ms_snapshot_kwargs(the_plan, target), token=_ms_token())
    except Exception as exc:  # the client raises plain exceptions; name the repo and keep the cause
        if created and not _ms_files(target):  # nothing to resume from: leave no empty model dir
            shutil.rmtree(target, ignore_errors=True)
        if isinstance(exc, LzError):
            raise
        raise LzError(
            f"modelscope download of {the_plan['repo_id']} failed: {_ms_reason(exc)}",
            hint="run again to resume; for private models `lz keys set modelscope`",
        ) from None
    files = {name: {"size": size} for name, size in _ms_files(target).items()}
    _write_marker(target, the_plan, "", files)
    return _ms_summary(ref, the_plan, target, already=False)


def _ms_files(target: Path) -> dict[str, int]:
    """The model's files in a ModelScope download dir (not the client's bookkeeping): name → size."""
    return {
        str(p.relative_to(target)): p.stat().st_size
        for p in sorted(target.rglob("*"))
        if p.is_file() and p.relative_to(target).parts[0] not in MS_BOOKKEEPING
    }


def _check_reachable(endpoint: str, timeout: float = 5.0) -> None:
    """Fail in seconds when the hub's host does not resolve or take a connection (offline, a typo
    in MODELSCOPE_DOMAIN). Behind a proxy the client's own connection is the only test."""
    import socket
    from urllib.parse import urlsplit

    if any(os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")):
        return
    parts = urlsplit(endpoint)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname or "", port), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise LzError(
            f"cannot reach {endpoint} ({why})",
            hint="check the network (or MODELSCOPE_DOMAIN / MODELSCOPE_ENDPOINT); run again to resume",
        ) from None


def _ms_reason(exc: Exception) -> str:
    """The client's error, naming the files that failed and why (e.g. a sha256 mismatch)."""
    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    failed = getattr(exc, "failed_files", None) or {}
    details = [f"{name}: {str(err).splitlines()[0][:120]}" for name, err in list(failed.items())[:3]]
    return reason + (f" ({'; '.join(details)})" if details else "")


@contextlib.contextmanager
def _quiet_client(quiet: bool):
    """Silence the ModelScope client's own tqdm bars and INFO lines when lz shows no progress."""
    if not quiet:
        yield
        return
    import logging

    logger = logging.getLogger("modelscope_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)  # its retry warnings too: lz reports the outcome in one line
    try:
        # tqdm resolves sys.stderr when a bar is created (TQDM_DISABLE is read only at tqdm's import).
        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
            yield
    finally:
        logger.setLevel(level)


def _ms_summary(ref, the_plan, target, *, already: bool) -> dict:
    marker = local.read_marker(target) or {}
    files = marker.get("files", {})
    return {
        "model": ref.name,
        "source": "modelscope",
        "repo_id": the_plan["repo_id"],
        "commit": marker.get("commit") or None,
        "path": str(local.model_file(target, ref.format, tuple(the_plan["include"]))),
        "dir": str(target),
        "files": len(files),
        "bytes": sum((f.get("size") or 0) for f in files.values()),
        "already_present": already,
        "verified": True,
    }


# --- removal ----------------------------------------------------------------------------------------


def remove_download(directory: Path) -> int:
    """Delete a download dir (verified or partial); returns the bytes freed."""
    from lazycli.catalog.sizes import tree_size

    if not directory.exists():
        return 0
    freed = tree_size(directory)
    shutil.rmtree(directory)
    return freed


__all__ = ["download", "plan", "select_files", "verify_file", "remove_download", "format_bytes"]
