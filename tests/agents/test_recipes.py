"""`lz run recipes/multi-agent.toml` and `recipes/agent.toml` end to end: the real `lz` process,
the recipe's provider (openai) pointed at the scripted stand-in, the recipe's own tools running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.chat.standin import call, reply
from tests.conftest import lz

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
QUESTION = "How many miles is 10 km, and how do I stop a deployment?"


@pytest.fixture
def openai_standin(standin, lz_home):
    server = standin("openai")
    env = {"OPENAI_API_KEY": "sk-test-0123456789", "LAZYCLI_OPENAI_BASE_URL": server.url}
    return server, env


def _script_multi_agent(server) -> None:
    server.play(
        "You are the router",
        reply(
            "Both specialists are needed.",
            [
                call("math", {"input": "How many miles is 10 km?"}),
                call("facts", {"input": "How to stop a deployment?"}),
            ],
        ),
        reply("DONE"),
    )
    server.play(
        "You are the math specialist",
        reply(calls=[call("convert_units", {"value": 10, "from_unit": "km", "to_unit": "mi"})]),
        reply("10 km is 6.2137 mi."),
    )
    server.play(
        "You are the facts specialist",
        reply(calls=[call("lookup", {"term": "deploy stop"})]),
        reply("Run `lz deploy stop NAME`."),
    )
    server.play(
        "You are the writer", reply("10 km is 6.2137 miles; stop a deployment with `lz deploy stop NAME`.")
    )


def test_multi_agent_recipe_runs_end_to_end_with_every_step_in_the_trace(openai_standin):
    server, env = openai_standin
    _script_multi_agent(server)
    proc = lz("run", str(RECIPES / "multi-agent.toml"), "--json", QUESTION, env=env, check=0, timeout=120)
    out = json.loads(proc.stdout)
    assert out["output"] == "10 km is 6.2137 miles; stop a deployment with `lz deploy stop NAME`."
    steps = out["steps"]
    by_agent = {}
    for step in steps:
        by_agent.setdefault(step["agent"], []).append(step)
    assert set(by_agent) == {"router", "math", "facts"}
    router_act = by_agent["router"][0]
    assert router_act["thought"] == "Both specialists are needed."
    assert [(c["name"], c["result"]) for c in router_act["calls"]] == [
        ("math", "10 km is 6.2137 mi."),
        ("facts", "Run `lz deploy stop NAME`."),
    ]
    assert by_agent["router"][-1]["kind"] == "answer"
    # The specialists' tools really ran: the converter computed, the lookup read data/kb/deploy.md.
    [convert] = by_agent["math"][0]["calls"]
    assert convert["name"] == "convert_units" and convert["result"] == "6.2137" and convert["ok"]
    [found] = by_agent["facts"][0]["calls"]
    assert "(deploy.md)" in found["result"] and "lz deploy stop NAME" in found["result"]
    # Every step of a specialist happens inside the router's act (the trace is in order of time).
    order = [(s["agent"], s["kind"]) for s in steps]
    assert order.index(("math", "answer")) < order.index(("router", "act"))
    # The writer merged what the specialists found (the router's output is {tool: result}).
    writer = next(r for r in server.requests if "You are the writer" in r["body"]["messages"][0]["content"])
    prompt = writer["body"]["messages"][-1]["content"]
    assert '"math": "10 km is 6.2137 mi."' in prompt and '"facts": "Run `lz deploy stop NAME`."' in prompt
    assert prompt.startswith(f"Question: {QUESTION}")
    # The steps are in the chat log too: `lz logs list` shows one exchange per step.
    logs = json.loads(lz("logs", "list", "-n", "50", "--json", env=env, check=0).stdout)["logs"]
    # One exchange for the run itself (its trace), and one per agent step.
    run_logs = [entry for entry in logs if entry["app"] == "multi-agent"]
    step_logs = [entry for entry in logs if entry["app"] != "multi-agent"]
    assert len(run_logs) == 1 and len(step_logs) == len(steps)


def test_multi_agent_recipe_shows_steps_on_stderr_without_json(openai_standin):
    server, env = openai_standin
    _script_multi_agent(server)
    proc = lz("run", str(RECIPES / "multi-agent.toml"), QUESTION, env=env, check=0, timeout=120)
    assert proc.stdout.startswith("10 km is 6.2137 miles")
    assert "math step 1: Call convert_units(" in proc.stderr
    assert "router step 1: Thought: Both specialists are needed. | Call math(" in proc.stderr


def test_agent_recipe_answers_with_its_two_tools(openai_standin):
    server, env = openai_standin
    server.play(
        "helpful assistant",
        reply(calls=[call("convert_units", {"value": 42.195, "from_unit": "km", "to_unit": "mi"})]),
        reply("A marathon is 26.2188 miles."),
    )
    proc = lz("run", str(RECIPES / "agent.toml"), "--json", "How many miles is a marathon?", env=env, check=0)
    out = json.loads(proc.stdout)
    assert out["output"] == "A marathon is 26.2188 miles."
    assert out["steps"][0]["calls"][0]["result"] == "26.2188"
    offered = [t["function"]["name"] for t in server.requests[0]["body"]["tools"]]
    assert offered == ["convert_units", "lookup"]


def test_a_service_error_inside_an_agent_is_one_line(openai_standin):
    server, env = openai_standin
    server.script("quota")
    proc = lz("run", str(RECIPES / "agent.toml"), "question", env=env, check=2)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lz: error: openai: quota or balance exhausted") and "Traceback" not in proc.stderr
