"""Retrieval quality on a mixed Chinese/English set over LazyLLM's API reference (issue 14).

    python benchmarks/bench_retrieval_quality.py                     # the default index and retrievers
    python benchmarks/bench_retrieval_quality.py --json
    python benchmarks/bench_retrieval_quality.py --corpus DIR --qa FILE --groups medium,fine

The corpus is the real LazyLLM API reference text in `shared/corpus/lazyllm-api/` (two pages,
mostly Chinese): it is cut into one file per documented API (a class with its methods, or a
function), so a question's source is a file, as in `lz index`. The questions
(`benchmarks/data/lazyllm_api_retrieval.jsonl`, 59 of them, 35 Chinese and 24 English, each with
the files that answer it) were written by reading those pages, not from any retriever's output.

Printed per retriever (cosine, bm25, bm25_chinese alone) and for the default fusion, overall and
per question language:
- hit@5: share of questions with at least one of their source files among the top 5 passages;
- MRR: mean of 1 / rank of the first passage from a source file (0 when none in the top 10);
- source recall@5: share of each question's source files found in the top 5, averaged.
The target: the default fusion ≥ its best single retriever on hit@5 and MRR, hit@5 ≥ 0.96,
MRR ≥ 0.90. Everything runs under a temporary LAZYCLI_HOME.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# shared/ sits beside the repository (CI, the main checkout); a worktree is one level deeper.
_CANDIDATES = [up / "shared" / "corpus" / "lazyllm-api" for up in (HERE.parent.parent, HERE.parents[2])]
DEFAULT_CORPUS = next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0])
DEFAULT_QA = HERE / "data" / "lazyllm_api_retrieval.jsonl"
DEPTH = 10

# A components.txt entry starts with its dotted name alone on a line (a function adds its
# signature); a modules.txt entry is a `backticked` name underlined with dashes.
_COMPONENT_HEAD = re.compile(r"^lazyllm\.[A-Za-z_][\w.]*(\(.*\))?$")
_MODULE_HEAD = re.compile(r"^`(lazyllm\.[\w.]+)`$")


def _component_entries(text: str) -> list[tuple[str, list[str]]]:
    entries: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if _COMPONENT_HEAD.match(line.strip()):
            name = line.strip().split("(")[0]
            if entries and name.startswith(entries[-1][0] + "."):  # a method of the current class
                entries[-1][1].append(line)
                continue
            entries.append((name, [line]))
        elif entries:
            entries[-1][1].append(line)
    return entries


def _module_entries(text: str) -> list[tuple[str, list[str]]]:
    lines = text.splitlines()
    entries: list[tuple[str, list[str]]] = []
    for i, line in enumerate(lines):
        head = _MODULE_HEAD.match(line)
        if head and i + 1 < len(lines) and lines[i + 1].startswith("---"):
            entries.append((head.group(1), [line]))
        elif entries:
            entries[-1][1].append(line)
    return entries


def split_corpus(corpus: Path, out: Path) -> int:
    """One `<dotted name>.txt` per documented API; an entry documented twice is kept once."""
    bodies: dict[str, list[str]] = {}
    for name, lines in _component_entries((corpus / "components.txt").read_text(encoding="utf-8")):
        bodies.setdefault(name, []).append("\n".join(lines))
    for name, lines in _module_entries((corpus / "modules.txt").read_text(encoding="utf-8")):
        bodies.setdefault(name, []).append("\n".join(lines))
    out.mkdir(parents=True, exist_ok=True)
    for name, parts in bodies.items():
        (out / f"{name}.txt").write_text("\n\n".join(dict.fromkeys(parts)) + "\n", encoding="utf-8")
    return len(bodies)


def load_qa(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(results: list[dict], sources: list[str], k: int = 5) -> dict[str, float]:
    files = [Path(r["source"]).name for r in results]
    ranks = [i for i, f in enumerate(files, start=1) if f in sources]
    found = {f for f in files[:k] if f in sources}
    return {
        f"hit@{k}": 1.0 if ranks and ranks[0] <= k else 0.0,
        "mrr": 1.0 / ranks[0] if ranks else 0.0,
        f"source_recall@{k}": len(found) / len(sources),
    }


def evaluate(opened, qa: list[dict], search: dict) -> dict:
    rows = []
    started = time.perf_counter()
    for record in qa:
        results = opened.search(record["q"], topk=DEPTH, **search)
        rows.append({"lang": record.get("lang", "?"), **score(results, record["sources"])})
    seconds = time.perf_counter() - started
    out: dict = {"n": len(rows), "ms_per_query": round(1000 * seconds / max(1, len(rows)), 1)}
    for lang in (None, "zh", "en"):
        part = [r for r in rows if lang is None or r["lang"] == lang]
        if not part:
            continue
        key = "all" if lang is None else lang
        out[key] = {
            m: round(sum(r[m] for r in part) / len(part), 4) for m in ("hit@5", "mrr", "source_recall@5")
        }
        out[key]["n"] = len(part)
    return out


CONFIGS = {
    "cosine": {"retrievers": ("cosine",)},
    "bm25": {"retrievers": ("bm25",)},
    "bm25_chinese": {"retrievers": ("bm25_chinese",)},
    "default fusion": {},
}


def run(corpus: Path, qa_path: Path, groups: list[str] | None) -> dict:
    from lazycli.rag import build_index
    from lazycli.rag.retrieval import DEFAULT_RETRIEVERS, Index

    qa = load_qa(qa_path)
    docs = Path(os.environ["LAZYCLI_HOME"]) / "docs"
    files = split_corpus(corpus, docs)
    started = time.perf_counter()
    build_index([docs], "lazyllm-api", progress=False)
    index_seconds = time.perf_counter() - started
    opened = Index("lazyllm-api")
    report: dict = {
        "files": files,
        "questions": len(qa),
        "index_seconds": round(index_seconds, 1),
        "default_retrievers": list(DEFAULT_RETRIEVERS),
        "groups": groups or opened.groups,
        "results": {},
    }
    for name, search in CONFIGS.items():
        report["results"][name] = evaluate(opened, qa, {**search, "groups": groups})
    return report


def check(report: dict) -> list[str]:
    """The targets of issue 14 that this run misses (empty when all are met)."""
    res = report["results"]
    fused = res["default fusion"]["all"]
    misses = []
    for metric in ("hit@5", "mrr"):
        best = max(res[r]["all"][metric] for r in ("cosine", "bm25", "bm25_chinese"))
        if fused[metric] < best:
            misses.append(f"fusion {metric} {fused[metric]} < best single retriever {best}")
    if fused["hit@5"] < 0.96:
        misses.append(f"fusion hit@5 {fused['hit@5']} < 0.96")
    if fused["mrr"] < 0.90:
        misses.append(f"fusion MRR {fused['mrr']} < 0.90")
    return misses


def _print(report: dict) -> None:
    print(
        f"{report['files']} files, {report['questions']} questions, groups {','.join(report['groups'])}, "
        f"indexed in {report['index_seconds']} s; default retrievers {','.join(report['default_retrievers'])}"
    )
    print(f"{'retrieval':<16}{'lang':<6}{'n':>4}{'hit@5':>8}{'MRR':>8}{'src R@5':>9}{'ms/q':>8}")
    for name, res in report["results"].items():
        for lang in ("all", "zh", "en"):
            if lang in res:
                r = res[lang]
                ms = f"{res['ms_per_query']:>8}" if lang == "all" else ""
                print(
                    f"{name:<16}{lang:<6}{r['n']:>4}{r['hit@5']:>8.3f}{r['mrr']:>8.3f}{r['source_recall@5']:>9.3f}{ms}"
                )
    misses = check(report)
    print("targets met" if not misses else "targets missed: " + "; ".join(misses))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help="folder with components.txt, modules.txt"
    )
    parser.add_argument("--qa", type=Path, default=DEFAULT_QA)
    parser.add_argument("--groups", default="", help="comma list of node groups to search (default: all)")
    parser.add_argument(
        "--home", type=Path, help="LAZYCLI_HOME to keep the index in (default: a temporary one)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not (args.corpus / "components.txt").is_file():
        print(f"no corpus at {args.corpus}: pass --corpus", file=sys.stderr)
        return 2
    groups = [g for g in args.groups.split(",") if g] or None
    if args.home:
        os.environ["LAZYCLI_HOME"] = str(args.home)
        report = run(args.corpus, args.qa, groups)
    else:
        with tempfile.TemporaryDirectory(prefix="lz-retrieval-") as home:
            os.environ["LAZYCLI_HOME"] = home
            report = run(args.corpus, args.qa, groups)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print(report)
    return 0 if not check(report) else 1


if __name__ == "__main__":
    sys.exit(main())
