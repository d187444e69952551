"""`lz run` on recipes that need no model server: flows compiled from TOML, steps, references,
plan output, an llm step through the real client against the engine stand-in."""

from __future__ import annotations

import json
from pathlib import Path

from lazycli import __version__
from tests.conftest import lz
from tests.serve.conftest import standin

DATA = Path(__file__).resolve().parent / "data"


def test_every_combinator_from_toml_runs_end_to_end():
    proc = lz("run", str(DATA / "flows.toml"), "--json", "the quick fox", check=0)
    out = json.loads(proc.stdout)
    # words → parallel(count, warp upper) as dict → switch on size → loop until "!!!" → if → stamp with
    # the `lz version` step's stdout, bound by ${steps.ver.stdout}.
    assert out["output"] == f"3 words in 'the quick fox': THE-QUICK-FOX (first the)!!! [lz {__version__}]"
    assert out["results"]["steps"]["ver"]["returncode"] == 0
    assert [a["id"] for a in out["plan"]] == ["steps.ver"]


def test_human_output_plan_on_stderr_answer_on_stdout():
    proc = lz("run", str(DATA / "flows.toml"), "a b c d e f", check=0)
    assert proc.stdout == "big: a b c d e f!!! [lz " + __version__ + "]\n"
    assert "plan:\n  1. steps.ver: run: lz version" in proc.stderr


def test_dry_run_starts_nothing_and_no_input_runs_only_the_steps(tmp_path):
    dry = lz("run", str(DATA / "flows.toml"), "--dry-run", check=0)
    assert "1. steps.ver: run: lz version" in dry.stdout and "then: app 'flows' (5 steps)" in dry.stdout
    only_steps = lz("run", str(DATA / "flows.toml"), "--json", check=0)
    assert json.loads(only_steps.stdout)["results"]["steps"]["ver"]["stdout"].startswith("lz ")


def test_stdin_input_and_llm_step_through_the_client(tmp_path):
    with standin() as url:
        proc = lz("run", str(DATA / "llm_url.toml"), "-", input="cats\n", env={"LZ_TEST_ENGINE_URL": url}, check=0)
    assert proc.stdout.startswith("echo: Topic: cats w0")


def test_failing_python_step_is_one_line_error(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[app]\n[[app.steps]]\ntype = "python"\nfunction = "nowhere_mod:f"\n')
    proc = lz("run", str(recipe), "x")
    assert proc.returncode == 2 and "cannot import 'nowhere_mod'" in proc.stderr and "Traceback" not in proc.stderr
