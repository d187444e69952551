"""`lz config`: precedence, validation, unknown keys, corrupt files never overwritten."""

from __future__ import annotations

import json

from tests.conftest import lz


def _get(key, **env):
    return lz("config", "get", key, env=env, check=0).stdout.strip()


def test_set_get_unset_roundtrip(lz_home):
    lz("config", "set", "deploy_timeout", "600", check=0)
    assert _get("deploy_timeout") == "600.0"
    assert "deploy_timeout = 600" in (lz_home / "config" / "config.toml").read_text()
    lz("config", "unset", "deploy_timeout", check=0)
    assert _get("deploy_timeout") == "300.0"


def test_precedence_env_over_file_over_default():
    lz("config", "set", "llamacpp_threads", "3", check=0)
    assert _get("llamacpp_threads") == "3"
    assert _get("llamacpp_threads", LAZYCLI_LLAMACPP_THREADS="5") == "5"


def test_flag_beats_env(monkeypatch):
    from lazycli import settings

    monkeypatch.setenv("LAZYCLI_DEPLOY_TIMEOUT", "50")
    assert settings.load().deploy_timeout == 50
    assert settings.load(deploy_timeout=7).deploy_timeout == 7


def test_bad_value_names_key_and_form_and_writes_nothing(lz_home):
    lz("config", "set", "deploy_timeout", "600", check=0)
    before = (lz_home / "config" / "config.toml").read_text()
    proc = lz("config", "set", "deploy_timeout", "soon")
    assert proc.returncode == 2
    assert "'deploy_timeout'" in proc.stderr and "expected float" in proc.stderr
    assert (lz_home / "config" / "config.toml").read_text() == before


def test_unknown_key_suggests_closest():
    proc = lz("config", "set", "deploy_timout", "5")
    assert proc.returncode == 2
    assert "did you mean 'deploy_timeout'" in proc.stderr


def test_corrupt_file_is_reported_and_kept(lz_home):
    path = lz_home / "config" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("deploy_timeout = [\n")
    for args in (("config", "show"), ("config", "set", "deploy_timeout", "5")):
        proc = lz(*args)
        assert proc.returncode == 2, proc.stderr
        assert str(path) in proc.stderr and "not valid TOML" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert path.read_text() == "deploy_timeout = [\n"


def test_bad_env_value_names_the_variable():
    proc = lz("config", "show", env={"LAZYCLI_DEPLOY_TIMEOUT": "-1"})
    assert proc.returncode == 2
    assert "LAZYCLI_DEPLOY_TIMEOUT" in proc.stderr


def test_unknown_key_in_file_is_reported(lz_home):
    path = lz_home / "config" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("deploy_timout = 5\n")
    proc = lz("config", "show")
    assert proc.returncode == 2 and "deploy_timeout" in proc.stderr


def test_endpoint_tables_validate_and_show():
    lz("config", "set", "endpoints.mine.base_url", "http://127.0.0.1:9/v1", check=0)
    shown = json.loads(lz("config", "show", "--json", check=0).stdout)
    endpoints = next(r for r in shown["settings"] if r["key"] == "endpoints")
    assert endpoints["value"]["mine"]["base_url"] == "http://127.0.0.1:9/v1"
    assert endpoints["source"] == "file"


def test_config_path_honours_lazycli_home(lz_home):
    assert lz("config", "path", check=0).stdout.strip() == str(lz_home / "config" / "config.toml")
