"""The root command: help lists only working verbs, errors are one line with exit 2."""

from __future__ import annotations

import json

from tests.conftest import lz


def test_help_lists_verbs_and_examples():
    proc = lz("--help", check=0)
    for verb in ("plugins", "plugin", "config", "keys", "version"):
        assert verb in proc.stdout
    assert "Examples:" in proc.stdout


def test_help_does_not_import_heavy_libraries():
    import subprocess
    import sys

    code = (
        "import sys; from lazycli.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit: pass\n"
        "heavy = [m for m in ('pydantic', 'pydantic_settings', 'pluggy', 'torch', 'lancedb',"
        " 'transformers', 'fastapi', 'openai', 'rich', 'sentence_transformers', 'lazycli_plugins')"
        " if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY:", f"imported at --help: {out}"


def test_version_json():
    proc = lz("version", "--json", check=0)
    assert json.loads(proc.stdout)["lazycli"]


def test_global_json_flag_applies_to_verbs():
    proc = lz("--json", "version", check=0)
    assert "lazycli" in json.loads(proc.stdout)


def test_unknown_verb_exits_2():
    proc = lz("no-such-verb")
    assert proc.returncode == 2
    assert "No such command" in proc.stderr


def test_user_error_is_one_line_without_traceback():
    proc = lz("keys", "rm", "nobody")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("lz: error: no stored key for 'nobody'")
    assert "Traceback" not in proc.stderr


def test_debug_shows_traceback_for_user_error():
    proc = lz("--debug", "keys", "rm", "nobody")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr
