"""`lz sweep` end to end, as a user runs it: real `lz` processes, the real SQLite store, a toy
recipe whose python step answers well or badly depending on the swept value (tests/sweep/data),
and recipes/rag-sweep.toml on the embedded default (MiniLM embeddings, BM25) for retrieval."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import lz, pid_alive

DATA = Path(__file__).parent / "data"
TOY = str(DATA / "toy.toml")
REPO = Path(__file__).resolve().parents[2]


def sweep_json(*args: str, check: int = 0) -> dict:
    return json.loads(lz("sweep", *args, "--json", check=check).stdout)


def store_rows(home: Path, name: str) -> list[dict]:
    db = sqlite3.connect(home / "data" / "sweeps" / name / "sweep.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM trials ORDER BY id")]
    except sqlite3.OperationalError:  # the sweep has created the file but not its tables yet
        return []
    finally:
        db.close()


def max_running(rows: list[dict]) -> int:
    """The most trials whose [started, ended] intervals overlap at one moment."""
    events = sorted([(r["started"], 1) for r in rows] + [(r["ended"], -1) for r in rows])
    peak = now = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def test_ranking_follows_the_metric_and_a_second_run_adds_no_trial(lz_home):
    first = sweep_json(TOY)
    ranked = [
        (r["params"]["app.steps.0.args.style"], r["metrics"]["contains"]["mean"]) for r in first["ranking"]
    ]
    # long answers both rows, short the first only, wrong none: the ranking is that order.
    assert ranked == [("long", 1.0), ("short", 0.5), ("wrong", 0.0)]
    assert (first["added"], first["ran"], first["done"]) == (3, 3, 3)
    trial = first["trials"][0]
    assert trial["config_hash"] and trial["seed"] == 0 and trial["duration_s"] > 0 and trial["rows"] == 2
    # The trial's recipe is written out in full with its value.
    assert 'style = "' + trial["params"]["app.steps.0.args.style"] + '"' in Path(trial["recipe"]).read_text()
    second = sweep_json(TOY)
    assert (second["added"], second["ran"]) == (0, 0)
    assert second["ranking"] == first["ranking"]
    assert len(store_rows(lz_home, "toy")) == 3
    # Exports of the stored sweep carry the same ranking.
    csv_lines = lz("sweep", "show", "toy", "--csv", check=0).stdout.splitlines()
    assert csv_lines[0].startswith("rank,app.steps.0.args.style,contains mean,contains std")
    assert [line.split(",")[1] for line in csv_lines[1:]] == ["long", "short", "wrong"]
    md = lz("sweep", "show", "toy", "--md", check=0).stdout
    assert "| 1 | long | 1.000 |" in md
    diff = json.loads(lz("sweep", "compare", "toy", "1", "3", "--json", check=0).stdout)
    assert diff["differ"] == {"app.steps.0.args.style": ["long", "wrong"]}
    assert diff["metrics"]["contains"]["delta"] == 1.0


def test_failing_trial_is_recorded_and_the_sweep_goes_on(lz_home):
    out = sweep_json(TOY, "--grid", "app.steps.0.args.fail=false,true", "--name", "withfail")
    by_status = {}
    for t in out["trials"]:
        by_status.setdefault(t["status"], []).append(t)
    assert len(by_status["done"]) == 3 and len(by_status["failed"]) == 3
    assert all("the toy app was asked to fail" in t["error"] for t in by_status["failed"])
    assert [r["done"] for r in out["ranking"]] == [1, 1, 1, 0, 0, 0]  # failed configurations last
    # --retry-failed runs exactly the failed ones again.
    again = sweep_json(
        TOY, "--grid", "app.steps.0.args.fail=false,true", "--name", "withfail", "--retry-failed"
    )
    assert (again["retried"], again["ran"]) == (3, 3)


def test_repeat_budget_and_min_score(lz_home):
    out = sweep_json(TOY, "--repeat", "2", "--name", "rep")
    assert len(out["trials"]) == 6 and {t["seed"] for t in out["trials"]} == {0, 1}
    best = out["ranking"][0]
    assert best["done"] == 2 and best["metrics"]["contains"] == {"mean": 1.0, "std": 0.0}
    capped = sweep_json(TOY, "--budget", "trials=2", "--name", "capped")
    assert capped["ran"] == 2 and capped["stopped"] == "budget: 2 trials"
    # time: the first trial (2 rows × 0.3 s) outlasts 0.2 s, so no second one starts.
    timed = sweep_json(
        TOY, "--grid", "app.steps.0.args.delay=0.3", "--budget", "time=0.2", "-j", "1", "--name", "t"
    )
    assert timed["ran"] == 1 and timed["stopped"] == "budget: 0.2 s"
    assert [t["status"] for t in timed["trials"]].count("pending") == 2  # left for a later run
    # CI gate: exit 1 and one line when the best score is below --min-score.
    proc = lz(
        "sweep", TOY, "--name", "gate", "--grid", "app.steps.0.args.style=short,wrong", "--min-score", "0.9"
    )
    assert proc.returncode == 1 and "best contains 0.5000 < --min-score 0.9" in proc.stderr
    assert "short" in proc.stdout  # the table is still printed
    lz("sweep", TOY, "--name", "gate", "--min-score", "0.9", check=0)  # long reaches 1.0
    # Early stop: with -j 1 the grid's second configuration (long) reaches the target; wrong never runs.
    early = sweep_json(TOY, "--name", "early", "--target", "1.0", "-j", "1")
    assert early["ran"] == 2 and early["stopped"] == "target: contains 1 >= 1"


def test_a_running_trial_is_stale_only_when_its_worker_is_gone(tmp_path):
    from lazycli.sweep import store

    db = store.Store(tmp_path / "sweep.sqlite")
    db.add([(f"h{i}", 0, {"i": i}, 0) for i in range(3)])
    ids = db.ids_of([(f"h{i}", 0) for i in range(3)])
    for trial_id in ids:
        db.claim([trial_id], "elsewhere:1:t")  # a worker on another host: only its heartbeat tells
    now = time.time()
    with db._write() as conn:
        conn.execute("UPDATE trials SET heartbeat = ? WHERE id = ?", (now - store.STALE_S - 5, ids[0]))
        conn.execute(
            "UPDATE trials SET heartbeat = ?, owner = ? WHERE id = ?", (now, "elsewhere:2:u", ids[1])
        )
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()  # a pid on this host that has exited: stale at once, heartbeat or not
        conn.execute(
            "UPDATE trials SET owner = ? WHERE id = ?", (f"{os.uname().nodename}:{dead.pid}:v", ids[2])
        )
    assert db.reset(stale_for=store.owner_id(), retry_failed=False) == 2
    assert [t.status for t in db.trials(ids)] == ["pending", "running", "pending"]
    assert db.claim(ids, "me:3:w").id == ids[0] and db.claim([ids[1]], "me:3:w") is None
    db.close()


def test_bad_input_is_one_line_and_exit_2_before_any_trial(lz_home):
    for args, says in [
        (["--grid", "app.steps.0.argz.style=a,b"], "did you mean app.steps.0.args?"),
        (["--eval", "missing.jsonl"], "eval set missing.jsonl not found"),
    ]:
        proc = lz("sweep", TOY, *args)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and says in proc.stderr and "Traceback" not in proc.stderr
    assert not (lz_home / "data" / "sweeps").exists()  # nothing ran, no store


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"grid": ["app.steps.0.args.delay=fast,slow"]}, "'fast' is not a number like the recipe's 0.0"),
        ({"grid": ["app.steps.0.tpye=a"]}, "did you mean 'type'?"),
        ({"grid": ["app.steps.0.args.style="]}, "no values"),
        ({"grid": ["app.steps.3.topk=1"]}, "app.steps is a list of 1, no item '3'"),
        ({"budget": ["trials=0"]}, "budget trials=0: nothing could run"),
        ({"budget": ["steps=3"]}, "unknown budget 'steps'"),
        ({"metric": ["mrrr"]}, "did you mean 'mrr'?"),
        ({"metric": ["faithfulness"]}, "faithfulness need a judge (hint: add --judge TARGET"),
    ],
)
def test_bad_values_are_refused_while_planning(lz_home, kw, says):
    from lazycli.errors import LzError
    from lazycli.sweep import plan

    with pytest.raises(LzError) as err:
        plan.build(Path(TOY), **kw)
    assert says in f"{err.value.message} (hint: {err.value.hint})"
    assert not (lz_home / "data" / "sweeps").exists()


def test_empty_grid_is_refused(lz_home, tmp_path):
    from lazycli.errors import LzError
    from lazycli.sweep import plan

    recipe = tmp_path / "plain.toml"
    recipe.write_text((DATA / "toy.toml").read_text().split("[sweep.grid]")[0].replace('"qa.jsonl"', '"x"'))
    (tmp_path / "x").write_text((DATA / "qa.jsonl").read_text())
    (tmp_path / "toy.py").write_text((DATA / "toy.py").read_text())
    with pytest.raises(LzError, match="nothing to sweep"):
        plan.build(recipe)


def test_jobs_bound_is_never_exceeded(lz_home):
    args = ("--grid", "app.steps.0.args.delay=0.3,0.31,0.32", "--name", "par", "-j", "2")
    out = sweep_json(TOY, *args)
    rows = store_rows(lz_home, "par")
    assert len(rows) == 9 and all(r["status"] == "done" for r in rows) and out["ran"] == 9
    assert max_running(rows) == 2  # observed in the store: two at once, never three


def test_kill_9_then_rerun_equals_an_uninterrupted_sweep(lz_home):
    args = [TOY, "--grid", "app.steps.0.args.delay=0.25,0.26", "-j", "1"]
    env = {**os.environ}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lazycli", "sweep", *args, "--name", "killed", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    store = lz_home / "data" / "sweeps" / "killed" / "sweep.sqlite"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = store_rows(lz_home, "killed") if store.exists() else []
        if sum(r["status"] == "done" for r in rows) >= 2 and any(r["status"] == "running" for r in rows):
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = store_rows(lz_home, "killed")
    assert any(r["status"] == "running" for r in before) and any(r["status"] == "pending" for r in before)
    resumed = sweep_json(*args, "--name", "killed")
    assert resumed["retried"] == 1 and resumed["added"] == 0  # the stale running trial, taken again
    assert resumed["ran"] == sum(r["status"] != "done" for r in before)
    clean = sweep_json(*args, "--name", "clean")

    def outcome(out):
        return sorted(
            (json.dumps(t["params"], sort_keys=True), t["repeat"], t["status"], json.dumps(t["metrics"]))
            for t in out["trials"]
        )

    assert outcome(resumed) == outcome(clean) and len(resumed["trials"]) == 6
    assert len(store_rows(lz_home, "killed")) == 6  # no duplicate rows


def test_space_products_pairs_and_random_draws():
    from lazycli.sweep import space

    s = space.build({"a": [1, 2, 3], "b": {"c": ["x", "y"]}}, [{"p": [1, 2], "q": ["u", "v"]}], "t")
    grid = s.grid()
    assert len(grid) == s.size() == len(list(itertools.product([1, 2, 3], "xy", [(1, "u"), (2, "v")])))
    assert all((g["p"], g["q"]) in {(1, "u"), (2, "v")} for g in grid) and "b.c" in grid[0]
    draw = s.sample(5, seed=7)
    assert len({json.dumps(d, sort_keys=True) for d in draw}) == 5 and draw == s.sample(5, seed=7)
    assert space.split_values('1,"a,b",[1,2],{x=1,y=2}') == ["1", '"a,b"', "[1,2]", "{x=1,y=2}"]


@pytest.mark.slow
def test_rag_sweep_on_the_embedded_default_and_its_best_recipe_runs(lz_home, tmp_path):
    recipe = str(REPO / "recipes" / "rag-sweep.toml")
    out = sweep_json(recipe)
    assert len(out["ranking"]) == 4 and out["done"] == 4
    means = [r["metrics"]["mrr"]["mean"] for r in out["ranking"]]
    assert means == sorted(means, reverse=True)
    seen = {(r["params"]["app.steps.0.retriever"], r["params"]["app.steps.0.topk"]) for r in out["ranking"]}
    assert seen == {("cosine", 1), ("cosine", 3), ("bm25_chinese", 1), ("bm25_chinese", 3)}
    # top-k 1 retrieves one passage: recall@3 of a two-source question cannot reach top-k 3's.
    recall = {
        (r["params"]["app.steps.0.retriever"], r["params"]["app.steps.0.topk"]): r["metrics"]["recall@3"][
            "mean"
        ]
        for r in out["ranking"]
    }
    assert recall[("cosine", 1)] < recall[("cosine", 3)]
    assert sweep_json(recipe)["ran"] == 0
    # The four trials differ only in the app: they share one index, built once.
    indexes = json.loads(lz("index", "ls", "--json", check=0).stdout)["indexes"]
    assert [i["name"] for i in indexes] == ["rag-sweep-kb"]
    best = tmp_path / "best.toml"
    lz("sweep", "best", "rag-sweep", "--write", str(best), check=0)
    run = json.loads(lz("run", str(best), "--json", "How do I list deployments?", check=0).stdout)
    top = out["ranking"][0]["params"]
    assert len(run["sources"]) == top["app.steps.0.topk"]
    table = lz("sweep", "show", "rag-sweep", check=0).stdout
    assert table.splitlines()[2].split()[1:3] == [top["app.steps.0.retriever"], str(top["app.steps.0.topk"])]


def test_workers_on_the_local_launcher_share_one_store(lz_home):
    args = (
        "--grid",
        "app.steps.0.args.delay=0.2,0.21",
        "--name",
        "workers",
        "--launcher",
        "local",
        "-j",
        "2",
    )
    out = sweep_json(TOY, *args)
    rows = store_rows(lz_home, "workers")
    assert out["ran"] == 6 and len(rows) == 6 and all(r["status"] == "done" for r in rows)
    owners = {r["owner"].split(":")[1] for r in rows}
    assert len(owners) == 2  # two worker processes claimed trials, none ran twice
    assert max_running(rows) <= 2
    assert [r["params"]["app.steps.0.args.style"] for r in out["ranking"]][:2] == ["long", "long"]
    workers = worker_jobs("workers")
    assert sorted(workers) == ["sweep-workers-0", "sweep-workers-1"]
    assert all(j["status"] == "completed" and j["launcher"] == "local" for j in workers.values())
    assert sweep_json(TOY, *args)["ran"] == 0  # nothing left: no worker is even started
    assert len(worker_jobs("workers")) == 2


def worker_jobs(sweep: str) -> dict[str, dict]:
    """The sweep's workers as `lz jobs ls` lists them (kind sweep-worker, owned by the sweep)."""
    listed = json.loads(lz("jobs", "ls", "--kind", "sweep-worker", "--json", check=0).stdout)["jobs"]
    return {j["name"]: j for j in listed if j["owner"] == sweep and j["kind"] == "sweep-worker"}


def test_cancelling_a_sweep_cancels_its_workers_and_a_rerun_finishes_it(lz_home):
    args = (
        "--grid",
        "app.steps.0.args.delay=1.5,1.6",
        "--name",
        "stoppable",
        "--launcher",
        "local",
        "-j",
        "2",
    )
    argv = [sys.executable, "-m", "lazycli", "sweep", TOY, *args, "--json"]
    first = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    deadline = time.monotonic() + 120
    store = lz_home / "data" / "sweeps" / "stoppable" / "sweep.sqlite"
    while not (store.exists() and any(r["status"] == "done" for r in store_rows(lz_home, "stoppable"))):
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.2)
    workers = worker_jobs("stoppable")
    assert len(workers) == 2 and all(j["status"] == "running" for j in workers.values())

    out = json.loads(lz("sweep", "cancel", "stoppable", "--json", check=0).stdout)
    assert sorted(j["name"] for j in out["cancelled"]) == sorted(workers)
    assert all(j["status"] == "cancelled" for j in worker_jobs("stoppable").values())
    assert not any(pid_alive(j["job"]["pid"]) for j in workers.values())
    stdout, _ = first.communicate(timeout=60)  # the submitting lz sweep stops waiting, and says why
    assert "the workers ended with" in json.loads(stdout)["stopped"]
    rows = store_rows(lz_home, "stoppable")
    assert all(r["status"] in ("done", "pending") for r in rows) and any(
        r["status"] == "pending" for r in rows
    )

    again = sweep_json(TOY, *args)  # the rerun starts new workers and runs only what was left
    assert again["ran"] == sum(r["status"] == "pending" for r in rows)
    assert all(r["status"] == "done" for r in store_rows(lz_home, "stoppable"))
    assert all(j["status"] == "completed" for j in worker_jobs("stoppable").values())


def test_ctrl_c_of_a_sweep_on_a_launcher_cancels_its_workers(lz_home):
    args = (
        "--grid",
        "app.steps.0.args.delay=1.5,1.6",
        "--name",
        "interrupted",
        "--launcher",
        "local",
        "-j",
        "2",
    )
    argv = [sys.executable, "-m", "lazycli", "sweep", TOY, *args]
    first = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    deadline = time.monotonic() + 120
    while len(worker_jobs("interrupted")) < 2 or not any(r["status"] == "running" for r in _rows(lz_home)):
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.2)
    workers = worker_jobs("interrupted")
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=60)
    assert first.returncode != 0
    assert all(j["status"] == "cancelled" for j in worker_jobs("interrupted").values())
    assert not any(pid_alive(j["job"]["pid"]) for j in workers.values())


def _rows(home: Path) -> list[dict]:
    path = home / "data" / "sweeps" / "interrupted" / "sweep.sqlite"
    return store_rows(home, "interrupted") if path.exists() else []


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.slurm
def test_trials_run_as_a_slurm_array_job(slurm_cluster, lz_home):
    args = (
        "--grid",
        "app.steps.0.args.delay=0.2,0.21",
        "--name",
        "onslurm",
        "--launcher",
        "slurm",
        "-j",
        "2",
    )
    out = sweep_json(TOY, *args)
    rows = store_rows(lz_home, "onslurm")
    assert out["ran"] == 6 and all(r["status"] == "done" for r in rows) and max_running(rows) <= 2
    script = (lz_home / "data" / "sweeps" / "onslurm" / "workers.sbatch").read_text()
    assert "#SBATCH --array=0-1" in script and "sweep run" in script
    [job] = worker_jobs("onslurm").values()  # the two workers: one array job
    assert job["name"] == "sweep-onslurm" and job["launcher"] == "slurm" and job["status"] == "completed"
    assert job["resources"]["extra"] == {"array": "0-1"} and job["log_path"].endswith("workers.log")
    assert [r["params"]["app.steps.0.args.style"] for r in out["ranking"]][:2] == ["long", "long"]


def test_llm_prompt_sweep_counts_tokens_and_stops_at_the_token_budget(lz_home):
    from tests.eval.standin import EvalStandIn

    standin = EvalStandIn({"What is the capital of France?": "Paris.", "Who wrote Hamlet?": "Shakespeare."})
    try:
        env = {"LZ_SWEEP_LLM_URL": standin.url}
        recipe = str(DATA / "llm.toml")
        out = json.loads(lz("sweep", recipe, "--json", "-j", "1", env=env, check=0).stdout)
        by_prompt = {}
        for r in out["ranking"]:
            by_prompt.setdefault(r["params"]["app.steps.0.prompt"], set()).add(
                r["metrics"]["contains"]["mean"]
            )
        # The stand-in answers only what follows "Question: ": the other template scores 0.
        assert by_prompt == {"Question: {input}": {1.0}, "Q: {input}": {0.0}}
        assert [t["tokens"] for t in out["trials"]] == [30] * 4  # 2 rows × 15 tokens the server reported
        assert standin.count("model") == 8
        # A warm rerun is answered from the cache: no trial, no model call, no token.
        assert json.loads(lz("sweep", recipe, "--json", env=env, check=0).stdout)["ran"] == 0
        assert standin.count("model") == 8
        capped = lz(
            "sweep", recipe, "--name", "tok", "--repeat", "2", "--budget", "tokens=40", "--json", env=env
        )
        capped = json.loads(capped.stdout)
        assert capped["ran"] == 2 and capped["stopped"] == "budget: 40 tokens"
        # Judged metrics: the stand-in judge supports a claim its row's context states ("Paris."),
        # not one it does not ("Shakespeare." against "Hamlet is a play."); "I do not know." claims
        # nothing (1).
        judged = lz(
            "sweep", recipe, "--name", "judged", "--metric", "faithfulness,contains", "--judge", standin.url,
            "--eval", str(DATA / "qa_context.jsonl"), "--grid", "app.steps.0.options.temperature=0.0",
            "--json", env=env, check=0,
        )  # fmt: skip
        scores = {
            r["params"]["app.steps.0.prompt"]: r["metrics"]["faithfulness"]["mean"]
            for r in json.loads(judged.stdout)["ranking"]
        }
        assert scores == {"Question: {input}": 0.5, "Q: {input}": 1.0} and standin.count("judge") == 4
    finally:
        standin.close()


def test_dry_run_lists_the_configurations_and_stores_nothing(lz_home):
    out = sweep_json(
        TOY, "--grid", "app.steps.0.args.delay=0,0.1", "--random", "4", "--seed", "3", "--dry-run"
    )
    assert len(out["configs"]) == 4 and len({c["config_hash"] for c in out["configs"]}) == 4
    assert (
        out["configs"]
        == sweep_json(
            TOY, "--grid", "app.steps.0.args.delay=0,0.1", "--random", "4", "--seed", "3", "--dry-run"
        )["configs"]
    )  # same seed, same draw
    assert not (lz_home / "data" / "sweeps").exists()


def test_a_swept_index_setting_gets_one_index_per_value():
    from lazycli.sweep.trial import overrides

    raw = {"indexes": {"kb": {"paths": ["docs"], "name": "kb"}}}
    small = overrides({"indexes.kb.groups": ["s:64:8"], "app.steps.0.topk": 1}, raw)
    small_k3 = overrides({"indexes.kb.groups": ["s:64:8"], "app.steps.0.topk": 3}, raw)
    big = overrides({"indexes.kb.groups": ["b:256:32"], "app.steps.0.topk": 1}, raw)

    def name(sets):
        return next(s.split("=", 1)[1] for s in sets if s.startswith("indexes.kb.name="))

    assert name(small) == name(small_k3) != name(big) and name(small).startswith('"kb-')
    assert small[0] == 'indexes.kb.groups=["s:64:8"]'
    assert not any(s.startswith("indexes.") for s in overrides({"app.steps.0.topk": 1}, raw))
