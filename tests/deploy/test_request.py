"""One DeployRequest: what `lz deploy --dry-run` plans, the row the real deploy records, its restart
and a recipe's model table all ask for the same thing (engine, launcher, port, GPUs, nodes, engine
options and extra args), through the real CLI, the local launcher and the engine stand-ins."""

from __future__ import annotations

import dataclasses
import json
import socket
import sqlite3

import pytest

from tests.conftest import lz

pytestmark = pytest.mark.integration

# What a request decides, as the deployment row records it.
REQUEST_FIELDS = ("model", "engine", "launcher", "name", "port", "port_pinned", "gpus", "nodes")
REQUEST_FIELDS += ("options", "extra_args", "served_name", "argv")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def columns(lz_home) -> list[str]:
    """The deployments table's columns in order, JSON ones under their bare name (as --json shows)."""
    with sqlite3.connect(next(lz_home.rglob("state.db"))) as db:
        names = [row[1] for row in db.execute("PRAGMA table_info(deployments)")]
    return [name.removesuffix("_json") for name in names]


def test_dry_run_deploy_and_restart_carry_one_request(standin_env, hf_dir, lz_home):
    port = free_port()
    flags = [str(hf_dir), "--engine", "vllm", "--launcher", "local", "--name", "req", "--port", str(port)]
    flags += ["--gpus", "2", "--set", "max_model_len=2048", "--set", "enforce_eager=true", "--json"]
    extra = ["--", "--seed", "7"]
    planned = json.loads(lz("deploy", *flags, "--dry-run", *extra, env=standin_env, check=0).stdout)
    row = json.loads(lz("deploy", *flags, *extra, env=standin_env, check=0).stdout)
    try:
        assert (row["engine"], row["launcher"], row["gpus"], row["port"]) == (
            planned["engine"], planned["launcher"], planned["gpus"], planned["port"],
        )  # fmt: skip
        assert row["argv"] == planned["argv"]  # the exact engine command line the dry run printed
        assert row["options"] == {"max_model_len": 2048, "enforce_eager": True}  # checked, typed
        assert (row["extra_args"], row["port_pinned"], row["nodes"]) == (["--seed", "7"], 1, None)
        # The typed record changes nothing users see: --json is the table's columns, in order.
        status = json.loads(lz("deploy", "status", "req", "--json", check=0).stdout)
        assert list(status) == list(row) == columns(lz_home)

        again = json.loads(lz("deploy", "restart", "req", "--json", env=standin_env, check=0).stdout)
        assert {k: again[k] for k in REQUEST_FIELDS} == {k: row[k] for k in REQUEST_FIELDS}
        assert again["status"] == "running" and again["pid"] != row["pid"]

        # The request a restart rebuilds from the row plans what the first dry run planned.
        from lazycli import deployments

        request = deployments.DeployRequest.from_row(deployments.require("req"))
        assert deployments.plan(request).describe() == planned
    finally:
        lz("deploy", "stop", "req", env=standin_env, check=0)
    # ... and so does its `lz deploy` command line (what `lz run --dry-run` shows for a recipe).
    words = request.command()
    assert words[2:13] == flags[:11] and words[-3:] == extra  # model, engine, launcher, name, port, gpus
    cut = words.index("--")
    again = lz(*words[1:cut], "--dry-run", "--json", *words[cut:], env=standin_env, check=0)
    assert json.loads(again.stdout) == planned


def test_a_recipe_model_deploys_the_request_of_its_lz_deploy_command(standin_env, hf_dir, tmp_path):
    from lazycli import deployments, recipes
    from lazycli.recipes import runner

    port = free_port()
    recipe = tmp_path / "one-model.toml"
    recipe.write_text(
        f'[models.llm]\nmodel = "{hf_dir}"\nengine = "vllm"\nlauncher = "local"\nname = "rec"\n'
        f"port = {port}\ngpus = 2\ntimeout = 60\n"
        "options = { max_model_len = 2048, enforce_eager = true, gpu_memory_utilization = 0.5 }\n"
    )
    dry = lz("run", str(recipe), "--dry-run", "--json", env=standin_env, check=0)
    [action] = json.loads(dry.stdout)["plan"]
    command = action["command"]
    assert command[:2] == ["lz", "deploy"] and "--timeout" in command
    # The command line the plan shows, run as it is, plans what the recipe deploys.
    by_hand = json.loads(lz(*command[1:], "--dry-run", "--json", env=standin_env, check=0).stdout)
    spec = recipes.load(str(recipe)).spec.models["llm"]
    request = runner._deploy_request(spec)
    assert deployments.plan(request).describe() == by_hand
    assert (action["argv"], action["launcher"]) == (by_hand["argv"], by_hand["launcher"])

    # The real run records that request (what restart starts again), and the argv planned.
    lz("run", str(recipe), "--json", env=standin_env, check=0)
    try:
        row = deployments.require("rec")
        assert row.status == "running" and row.argv == by_hand["argv"]
        assert deployments.DeployRequest.from_row(row) == dataclasses.replace(request, force_set=True)
    finally:
        lz("deploy", "stop", "rec", env=standin_env, check=0)
