"""`lz serve` passes tools through for a model (the real `openai` client against `lz serve`, which
forwards to the scripted stand-in) and runs agents for a recipe app."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai

from tests.agents.test_recipes import QUESTION, _script_multi_agent
from tests.chat.standin import call, reply
from tests.serve.conftest import lz_serve

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "Weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
ARGS = {"city": 'Zürich, "the one in Switzerland"'}


def test_model_serving_passes_tools_and_tool_calls_through(local, lz_home):
    local.play(
        "",
        reply(calls=[call("weather", ARGS, id="c1"), call("weather", {"city": "Bern"}, id="c2")]),
        reply(calls=[call("weather", ARGS, id="c3")]),
        reply("It is sunny in both."),
    )
    with lz_serve(local.url, home=lz_home) as (base, _proc):
        api = openai.OpenAI(base_url=base + "/v1", api_key="none")
        ask = [{"role": "user", "content": "Weather in Zürich and Bern?"}]
        first = api.chat.completions.create(
            model="local-model", messages=ask, tools=TOOLS, tool_choice="auto"
        )
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert [
            (c.id, c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls
        ] == [
            ("c1", "weather", ARGS),
            ("c2", "weather", {"city": "Bern"}),
        ]
        sent = local.requests[-1]["body"]
        assert sent["tools"] == TOOLS and sent["tool_choice"] == "auto"

        # Streamed: the client assembles the tool-call deltas lz serve sends.
        calls: dict[int, dict] = {}
        finish = None
        for chunk in api.chat.completions.create(model="local-model", messages=ask, tools=TOOLS, stream=True):
            delta = chunk.choices[0].delta if chunk.choices else None
            for tc in (delta.tool_calls or []) if delta else []:
                entry = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                entry["id"] = tc.id or entry["id"]
                entry["name"] += tc.function.name or ""
                entry["arguments"] += tc.function.arguments or ""
            finish = (chunk.choices[0].finish_reason if chunk.choices else None) or finish
        assert finish == "tool_calls"
        assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
            ("c3", "weather", ARGS)
        ]

        # The tool results go back through lz serve in the wire shape the upstream checks.
        follow = [
            *ask,
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "c2", "content": "sunny"},
        ]
        done = api.chat.completions.create(model="local-model", messages=follow, tools=TOOLS)
        assert done.choices[0].message.content == "It is sunny in both."
        upstream = local.requests[-1]["body"]["messages"]
        assert [m["role"] for m in upstream] == ["user", "assistant", "tool", "tool"]
        assert upstream[1]["tool_calls"][0]["id"] == "c1"


def test_recipe_app_runs_its_agents_behind_serve(standin, lz_home):
    server = standin("openai")
    env = {"OPENAI_API_KEY": "sk-test-0123456789", "LAZYCLI_OPENAI_BASE_URL": server.url}
    _script_multi_agent(server)
    with lz_serve(str(RECIPES / "multi-agent.toml"), home=lz_home, env=env) as (base, _proc):
        out = httpx.post(f"{base}/v1/apps/multi-agent/invoke", json={"input": QUESTION}, timeout=60).json()
        assert out["output"].startswith("10 km is 6.2137 miles")
        assert {s["agent"] for s in out["steps"]} == {"router", "math", "facts"}
        _script_multi_agent(server)
        api = openai.OpenAI(base_url=base + "/v1", api_key="none")
        answer = api.chat.completions.create(
            model="multi-agent", messages=[{"role": "user", "content": QUESTION}]
        )
        assert answer.choices[0].message.content.startswith("10 km is 6.2137 miles")
