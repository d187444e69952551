"""`lz keys`: 0600 file, env wins, never printed in full."""

from __future__ import annotations

import json
import stat

from tests.conftest import lz

SECRET = "sk-test-0123456789abcdef"


def test_set_list_rm(lz_home):
    proc = lz("keys", "set", "openai", input=SECRET + "\n", check=0)
    assert SECRET not in proc.stdout + proc.stderr
    path = lz_home / "config" / "keys.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listing = lz("keys", "list", check=0).stdout
    assert "openai" in listing and SECRET not in listing and "cdef" in listing
    lz("keys", "rm", "openai", check=0)
    assert "openai" not in lz("keys", "list", "--json", check=0).stdout


def test_env_var_wins_over_file(monkeypatch):
    from lazycli import keys

    keys.set_key("qwen", "from-file-123456")
    assert keys.get_key("qwen", ("DASHSCOPE_API_KEY",))[0] == "from-file-123456"
    monkeypatch.setenv("DASHSCOPE_API_KEY", "from-vendor-env")
    assert keys.get_key("qwen", ("DASHSCOPE_API_KEY",)) == ("from-vendor-env", "env DASHSCOPE_API_KEY")
    monkeypatch.setenv("LAZYCLI_QWEN_API_KEY", "from-lz-env")
    assert keys.get_key("qwen", ("DASHSCOPE_API_KEY",))[0] == "from-lz-env"


def test_listing_json_is_masked():
    lz("keys", "set", "glm", input=SECRET, check=0)
    rows = json.loads(lz("keys", "list", "--json", check=0).stdout)["keys"]
    assert rows[0]["provider"] == "glm" and rows[0]["masked"] != SECRET and SECRET not in json.dumps(rows)


def test_empty_key_is_refused(lz_home):
    proc = lz("keys", "set", "openai", input="\n")
    assert proc.returncode == 2
    assert not (lz_home / "config" / "keys.toml").exists()
