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
    expected = f"3 words in 'the quick fox': THE-QUICK-FOX (first the)!!! [lz {__version__}"
    assert out["output"].startswith(expected) and out["output"].endswith("]")
    assert out["results"]["steps"]["ver"]["returncode"] == 0
    assert [a["id"] for a in out["plan"]] == ["steps.ver"]


def test_human_output_plan_on_stderr_answer_on_stdout():
    proc = lz("run", str(DATA / "flows.toml"), "a b c d e f", check=0)
    assert proc.stdout.startswith(f"big: a b c d e f!!! [lz {__version__}") and proc.stdout.endswith("]\n")
    assert "plan:\n  1. steps.ver: run: lz version" in proc.stderr


def test_dry_run_starts_nothing_and_no_input_runs_only_the_steps(tmp_path):
    dry = lz("run", str(DATA / "flows.toml"), "--dry-run", check=0)
    assert "1. steps.ver: run: lz version" in dry.stdout and "then: app 'flows' (5 steps)" in dry.stdout
    only_steps = lz("run", str(DATA / "flows.toml"), "--json", check=0)
    assert json.loads(only_steps.stdout)["results"]["steps"]["ver"]["stdout"].startswith("lz ")


def test_stdin_input_and_llm_step_through_the_client(tmp_path):
    with standin() as url:
        proc = lz(
            "run", str(DATA / "llm_url.toml"), "-", input="cats\n", env={"LZ_TEST_ENGINE_URL": url}, check=0
        )
    assert proc.stdout.startswith("echo: Topic: cats w0")


def test_failing_python_step_is_one_line_error(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[app]\n[[app.steps]]\ntype = "python"\nfunction = "nowhere_mod:f"\n')
    proc = lz("run", str(recipe), "x")
    assert (
        proc.returncode == 2
        and "python module 'nowhere_mod' not found" in proc.stderr
        and "Traceback" not in proc.stderr
    )


def test_eval_scores_the_app_on_its_qa_set():
    report = json.loads(lz("run", str(DATA / "eval.toml"), "--eval", "--json", check=0).stdout)
    assert (report["n"], report["correct"], report["score"]) == (3, 2, 0.6667)
    assert [r["correct"] for r in report["rows"]] == [True, True, False]


def test_repl_on_a_terminal(tmp_path, lz_home):
    """Without input on a terminal, `lz run` opens a chat REPL (driven in a real tmux pane)."""
    import shutil
    import subprocess
    import sys
    import time

    import pytest

    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    session = f"lz-run-repl-{tmp_path.name}"
    command = f"LAZYCLI_HOME={lz_home} {sys.executable} -m lazycli run {DATA / 'flows.toml'}; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "30", command], check=True)

    def pane() -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-t", session, "-p"], capture_output=True, text=True
        ).stdout

    def wait_for(text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in (screen := pane()):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not on screen:\n{pane()}")

    try:
        wait_for("/exit or Ctrl-D quits")
        subprocess.run(["tmux", "send-keys", "-t", session, "one two", "Enter"], check=True)
        wait_for("2 words in 'one two': ONE-TWO (first one)!!!")
        subprocess.run(["tmux", "send-keys", "-t", session, "a b c d e f g", "Enter"], check=True)
        wait_for("big: a b c d e f g!!!")
        subprocess.run(["tmux", "send-keys", "-t", session, "/exit", "Enter"], check=True)
        deadline = time.monotonic() + 20
        while pane().rstrip().endswith(">") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not pane().rstrip().endswith(">")  # the REPL ended
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_provider_model_from_config_endpoint_and_named_key(lz_home, tmp_path):
    """`provider = ...` deploys nothing: the app calls the provider (an OpenAI-compatible endpoint
    added in the config file, served by the stand-in); a named key must exist, and is never echoed."""
    recipe = tmp_path / "provider.toml"
    recipe.write_text(
        '[models.llm]\nmodel = "standin"\nprovider = "localstandin"\nkey = "LZ_TEST_STANDIN_KEY"\n\n'
        '[app]\n[[app.steps]]\ntype = "llm"\nmodel = "llm"\nprompt = "Q: {input}"\n'
    )
    with standin() as url:
        (lz_home / "config").mkdir(exist_ok=True)
        (lz_home / "config" / "config.toml").write_text(f'[endpoints.localstandin]\nbase_url = "{url}"\n')
        missing = lz("run", str(recipe), "hi")
        assert missing.returncode == 2
        assert f"{recipe}:4: models.llm: no API key for localstandin" in missing.stderr
        assert "lz keys set LZ_TEST_STANDIN_KEY" in missing.stderr
        proc = lz("run", str(recipe), "--json", "hi", env={"LZ_TEST_STANDIN_KEY": "not-a-real-key"}, check=0)
    out = json.loads(proc.stdout)
    assert out["output"].startswith("echo: Q: hi w0")
    assert out["results"]["models"]["llm"]["target"] == "localstandin:standin"
    assert "not-a-real-key" not in proc.stdout + proc.stderr
    recipe.write_text('[models.llm]\nmodel = "x"\nprovider = "openai"\nkey = "sk-proj-abcdef123456"\n')
    leaked = lz("recipe", "validate", str(recipe))
    assert leaked.returncode == 2 and "secrets do not go in recipes" in leaked.stderr
    assert "abcdef123456" not in leaked.stderr
