"""Cold-process retrieval: `lz rag --retrieve-only` from a fresh process, new path against old (issue 12).

    python benchmarks/bench_rag_cold.py                      # 7 runs each, baseline = git rev cede453
    python benchmarks/bench_rag_cold.py --runs 11 --baseline-rev main --json

Each run is a new `python -m lazycli rag --index docs --retrieve-only QUESTION` process (what a
user's shell starts), timed wall-clock and CPU (user + sys), for the default retrievers and for
`bm25_chinese` alone, with an English and a Chinese question. "old" is the same command with
`src/` and `plugins/` of `--baseline-rev` (extracted with `git archive`) first on PYTHONPATH,
against the same index (the old code reads the new index: the snapshot only gained files).
Runs alternate old/new so load on the shared CPU hits both alike; medians and new/old ratios are
printed. The target: the default retrievers ≤ 1.5 s wall from a fresh process.

The index is built once from the repository's docs/ plus two files of LazyLLM's Chinese API
reference when shared/ is beside the repository, under a temporary LAZYCLI_HOME.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = {
    "en": "How do I add an OpenAI-compatible endpoint without writing a plugin?",
    "zh": "用 vLLM 部署时怎么设置张量并行的卡数？",
}
CASES = {"default": [], "bm25_chinese": ["--retriever", "bm25_chinese"]}
TARGET_S = 1.5


def extract_rev(rev: str, dest: Path) -> Path:
    """src/ and plugins/ of `rev` under dest (no worktree, nothing in the repository touched)."""
    blob = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "src", "plugins"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def corpus(home: Path, quick: bool) -> Path:
    """docs/ plus LazyLLM's Chinese API reference (with --quick: its first 20 kB, so the one-off
    indexing with torch takes a minute or two instead of ten on a busy 2-core box)."""
    docs = home / "docs"
    shutil.copytree(REPO / "docs", docs)
    for up in (REPO.parent, REPO.parents[1]):
        api = up / "shared" / "corpus" / "lazyllm-api"
        if api.is_dir():
            for name in ("components.txt", "modules.txt"):
                text = (api / name).read_text(encoding="utf-8")
                (docs / f"lazyllm-{name}").write_text(text[:20_000] if quick else text, encoding="utf-8")
            break
    return docs


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline-rev", default="cede453", help="git revision of the old path")
    parser.add_argument("--quick", action="store_true", help="index a smaller corpus")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="lz-cold-") as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "LAZYCLI_HOME": str(home)}
        old_code = extract_rev(args.baseline_rev, Path(tmp) / "old")
        new_path = os.pathsep.join([str(REPO / "src"), str(REPO / "plugins")])
        old_path = os.pathsep.join([str(old_code / "src"), str(old_code / "plugins")])
        envs = {
            "new": {**env, "PYTHONPATH": new_path},
            "old": {**env, "PYTHONPATH": old_path},
        }
        lz = [sys.executable, "-m", "lazycli"]
        docs = corpus(home, args.quick)
        subprocess.run([*lz, "index", str(docs), "--name", "docs"], env=envs["new"], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        samples: dict[str, list[tuple[float, float]]] = {}
        for case, extra in CASES.items():
            for lang, question in QUESTIONS.items():
                command = [*lz, "rag", "--index", "docs", "--retrieve-only", *extra, question]
                for side in ("old", "new"):  # warm the page cache and .pyc files of both
                    timed(command, envs[side])
                for _ in range(args.runs):
                    for side in ("old", "new"):
                        samples.setdefault(f"{case}|{lang}|{side}", []).append(timed(command, envs[side]))
        python = [timed([sys.executable, "-c", "pass"], env) for _ in range(args.runs)]

    report = {
        "runs": args.runs,
        "baseline_rev": args.baseline_rev,
        "python_c_pass_wall_s": _median(python, 0),
    }
    rows = []
    for case in CASES:
        for lang in QUESTIONS:
            old, new = samples[f"{case}|{lang}|old"], samples[f"{case}|{lang}|new"]
            rows.append(
                {
                    "retrievers": case,
                    "question": lang,
                    "old_wall_s": _median(old, 0),
                    "new_wall_s": _median(new, 0),
                    "old_cpu_s": _median(old, 1),
                    "new_cpu_s": _median(new, 1),
                    "wall_ratio": round(_median(new, 0) / _median(old, 0), 3),
                }
            )
    report["rows"] = rows
    misses = [r for r in rows if r["retrievers"] == "default" and r["new_wall_s"] > TARGET_S]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"fresh-process `lz rag --retrieve-only`, median of {args.runs}; python -c pass "
              f"{report['python_c_pass_wall_s']} s wall")  # fmt: skip
        head = ("retrievers", "q", "old wall", "new wall", "ratio", "old cpu", "new cpu")
        print("{:<14}{:<4}{:>9}{:>9}{:>7}{:>9}{:>9}".format(*head))
        for r in rows:
            print(
                f"{r['retrievers']:<14}{r['question']:<4}{r['old_wall_s']:>9.2f}{r['new_wall_s']:>9.2f}"
                f"{r['wall_ratio']:>7.2f}{r['old_cpu_s']:>9.2f}{r['new_cpu_s']:>9.2f}"
            )
        print("target met" if not misses else f"target missed: default retrievers > {TARGET_S} s wall")
    return 0 if not misses else 1


def _median(samples: list[tuple[float, float]], i: int) -> float:
    return round(statistics.median(s[i] for s in samples), 3)


if __name__ == "__main__":
    sys.exit(main())
