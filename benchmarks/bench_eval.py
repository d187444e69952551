"""What `lz eval` costs and what its cache saves, against baselines measured in the same run.

Against the OpenAI-compatible stand-in of tests/eval/standin.py (127.0.0.1, in this process), which
plays the evaluated model and the judge:
  * baseline: `ChatClient.complete` over the rows at the same concurrency (the model calls alone);
  * deterministic metrics (all-facts, contains, f1), cold cache, then warm;
  * judged metrics (faithfulness, answer-relevancy, context-recall, context-precision), cold, then warm;
and the stand-in's request count on each warm run (the cache's effect: it must be 0).

    python benchmarks/bench_eval.py [--rows 300] [--jobs 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
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

    from lazycli.client.targets import for_url

    client = for_url(standin.url)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(lambda row: client.complete([{"role": "user", "content": row.q}]), rows))
    return round(len(rows) / (time.perf_counter() - started), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
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
