"""The agent loops against the scripted stand-in: what goes on the wire each turn, what the tools
get, and how every failure ends (a clear result, never a hang or a traceback)."""

from __future__ import annotations

import threading
import time

import pytest

from lazycli import chatlog
from lazycli.agents import Agent, function_tool
from lazycli.agents.loop import MalformedReply, parse_react, parse_rewoo
from lazycli.errors import LzError
from tests.agents.tools_fixture import add, broken, sleepy, weather
from tests.chat.standin import call, reply

QUESTION = "What is 2 + 3, and the weather in Paris?"


def tools(*fns, timeout=None):
    return [function_tool(fn, timeout=timeout) for fn in fns]


def tool_messages(request) -> list[dict]:
    return [m for m in request["body"]["messages"] if m["role"] == "tool"]


# --- tools from functions -----------------------------------------------------------------------


def test_schema_comes_from_signature_hints_and_docstring():
    google = function_tool(add).schema()["function"]
    assert google["name"] == "add" and google["description"] == "Add two integers."
    assert google["parameters"] == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "the first number"},
            "b": {"type": "integer", "default": 0, "description": "the second number"},
        },
        "required": ["a"],
        "additionalProperties": False,
    }
    rest = function_tool(weather).schema()["function"]["parameters"]["properties"]
    assert rest["city"] == {"type": "string", "description": "the city's name"}
    assert rest["unit"]["enum"] == ["c", "f"] and rest["unit"]["description"] == "c or f"


def test_arguments_are_validated_against_the_schema():
    tool = function_tool(add)
    assert tool.run('{"a": 2, "b": 3}').result == "5"
    assert "a: Input should be a valid integer" in tool.run('{"a": "two"}').error
    assert "c: unexpected argument" in tool.run('{"a": 1, "c": 2}').error
    assert "a: Field required" in tool.run("{}").error
    assert "not valid JSON" in tool.run('{"a": 2').error
    assert "expected a JSON object" in tool.run("[2, 3]").error


# --- function_call ------------------------------------------------------------------------------


def test_parallel_calls_run_at_once_and_results_answer_their_ids(client, local):
    barrier = threading.Barrier(2, timeout=3)  # only passes when both calls run at the same time

    def left(x: str) -> str:
        """Left."""
        barrier.wait()
        return f"left {x}"

    def right(x: str) -> str:
        """Right."""
        barrier.wait()
        return f"right {x}"

    local.play(
        "",
        reply("Let me ask both.", [call("left", {"x": "1"}, id="c_l"), call("right", {"x": "2"}, id="c_r")]),
        reply("left 1 and right 2"),
    )
    result = Agent(client, tools(left, right)).run(QUESTION)
    assert (result.answer, result.stopped) == ("left 1 and right 2", "answer")
    assert [(m["tool_call_id"], m["content"]) for m in tool_messages(local.requests[-1])] == [
        ("c_l", "left 1"),
        ("c_r", "right 2"),
    ]
    act = result.steps[0]
    assert act.kind == "act" and act.thought == "Let me ask both."
    assert [(r.name, r.arguments, r.ok) for r in act.calls] == [
        ("left", '{"x": "1"}', True),
        ("right", '{"x": "2"}', True),
    ]
    sent = local.requests[0]["body"]
    assert [t["function"]["name"] for t in sent["tools"]] == ["left", "right"]
    assert sent["tool_choice"] == "auto"


def test_a_tool_that_raises_returns_the_error_to_the_model(client, local):
    local.play("", reply(calls=[call("broken", {"text": "x"})]), reply("Sorry, the tool is down."))
    result = Agent(client, tools(broken)).run(QUESTION)
    assert result.stopped == "answer" and result.answer == "Sorry, the tool is down."
    [message] = tool_messages(local.requests[-1])
    assert message["content"] == "ERROR: broken failed: RuntimeError: the backend is down for 'x'"
    assert result.steps[0].calls[0].ok is False


def test_a_tool_that_hangs_is_abandoned_at_its_timeout(client, local):
    local.play("", reply(calls=[call("sleepy", {"seconds": 30})]), reply("It timed out."))
    started = time.monotonic()
    result = Agent(client, tools(sleepy, timeout=0.3)).run(QUESTION)
    assert time.monotonic() - started < 5
    assert result.answer == "It timed out."
    [message] = tool_messages(local.requests[-1])
    assert message["content"] == "ERROR: sleepy did not finish within 0.3s"


def test_unknown_tool_and_bad_arguments_are_told_to_the_model(client, local):
    local.play(
        "",
        reply(
            calls=[
                call("unknown_tool", {}),
                call("add", '{"a": 2,'),
                call("add", {"a": "two"}),
                call("weather", {"city": "Paris", "unit": "kelvin"}),
            ]
        ),
        reply("done"),
    )
    result = Agent(client, tools(add, weather)).run(QUESTION)
    contents = [m["content"] for m in tool_messages(local.requests[-1])]
    assert contents[0] == "ERROR: unknown tool 'unknown_tool'; the tools are: add, weather"
    assert contents[1].startswith("ERROR: bad arguments for add: not valid JSON")
    assert contents[2].startswith("ERROR: bad arguments for add: a: Input should be a valid integer")
    assert contents[3].startswith("ERROR: bad arguments for weather: unit: Input should be 'c' or 'f'")
    assert result.stopped == "answer"


def test_max_steps_ends_the_loop_with_a_clear_result(client, local):
    local.play("", *[reply(f"try {i}", [call("add", {"a": i})]) for i in range(5)])
    result = Agent(client, tools(add), max_steps=3, name="looper").run(QUESTION)
    assert result.stopped == "max_steps"
    assert result.answer.startswith(
        "[agent 'looper' stopped after 3 steps (max_steps) without a final answer]"
    )
    assert "try 2" in result.answer
    assert len(local.requests) == 3
    assert [s.kind for s in result.steps] == ["act", "act", "act", "stop"]


def test_stop_tool_makes_its_result_the_answer(client, local):
    local.play("", reply(calls=[call("add", {"a": 40, "b": 2})]))
    result = Agent(client, tools(add, weather), stop_tool="add").run(QUESTION)
    assert (result.answer, result.stopped) == ("42", "stop_tool")
    assert len(local.requests) == 1


def test_an_unknown_stop_tool_is_a_user_error(client):
    with pytest.raises(LzError, match="stop_tool 'nope' is not one of its tools"):
        Agent(client, tools(add), stop_tool="nope")


def test_each_step_is_logged_as_one_exchange_of_the_run(client, local):
    local.play("", reply(calls=[call("add", {"a": 2, "b": 3})]), reply("It is 5."))
    result = Agent(client, tools(add), log=True, name="calc").run(QUESTION)
    rows = list(reversed(chatlog.list_logs(conversation=result.run_id)))
    assert [r["response"] for r in rows] == ['Call add({"a": 2, "b": 3}) → 5', "Answer: It is 5."]
    full = chatlog.get_log(result.run_id)
    assert full[0]["options"] == {
        "agent": "calc",
        "kind": "function_call",
        "step": 1,
        "type": "act",
    }
    assert full[1]["messages"][-1] == {"role": "assistant", "content": "It is 5."}


def test_streamed_tool_calls_drive_the_same_loop(client, local):
    """The stream path assembles the same calls (the stand-in splits arguments into fragments)."""
    local.play("", reply(calls=[call("weather", {"city": "Paris", "unit": "f"})]))
    schema = [function_tool(weather).schema()]
    list(client.complete([{"role": "user", "content": QUESTION}], stream=True, tools=schema))
    [tc] = client.last.tool_calls
    assert function_tool(weather).run(tc.arguments).value == {"city": "Paris", "temp": 70, "unit": "f"}


# --- react --------------------------------------------------------------------------------------


def test_react_parses_strictly_and_repairs_a_malformed_step(client, local):
    local.play(
        "",
        reply("I think I should add them."),  # neither Action nor Final Answer
        reply('Thought: add them\nAction: add\nAction Input: {"a": 2, "b": 3}'),
        reply("Thought: I know it\nFinal Answer: 5"),
    )
    result = Agent(client, tools(add), kind="react").run(QUESTION)
    assert (result.answer, result.stopped) == ("5", "answer")
    assert [s.kind for s in result.steps] == ["repair", "act", "answer"]
    assert result.steps[0].note == "it has neither an Action nor a Final Answer"
    second = local.requests[1]["body"]
    assert second["messages"][-1]["content"].startswith("Your reply did not follow the format")
    assert "tools" not in second and "Observation:" in "".join(second["stop"])
    assert "add(a: integer, b?: integer) - Add two integers." in second["messages"][0]["content"]
    assert local.requests[2]["body"]["messages"][-1] == {"role": "user", "content": "Observation: 5"}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('Action: add\nAction Input: {"a": 2', "not valid JSON"),
        ("Action: add\nAction Input: [2, 3]", "must be a JSON object"),
        ("Action: add", "no Action Input"),
        ('Action: add\nAction Input: {"a": 1}\nFinal Answer: 1', "both an Action and a Final Answer"),
        ("Final Answer:   ", "empty"),
    ],
)
def test_react_parser_rejects(text, why):
    with pytest.raises(MalformedReply, match=why):
        parse_react(text)


def test_react_json_mode_asks_for_schema_constrained_json(client, local):
    local.play(
        "",
        reply('{"thought": "add", "action": "add", "input": {"a": 2, "b": 3}}'),
        reply('{"thought": "done", "action": "final_answer", "input": {"answer": "5"}}'),
    )
    result = Agent(client, tools(add), kind="react", json_mode=True).run(QUESTION)
    assert result.answer == "5"
    fmt = local.requests[0]["body"]["response_format"]
    assert fmt["type"] == "json_object"
    actions = [alt["properties"]["action"]["enum"] for alt in fmt["schema"]["anyOf"]]
    assert actions == [["add"], ["final_answer"]]
    assert fmt["schema"]["anyOf"][0]["properties"]["input"]["required"] == ["a"]


def test_react_out_of_steps_while_repairing(client, local):
    local.play("", *[reply("no format at all") for _ in range(3)])
    result = Agent(client, tools(add), kind="react", max_steps=3).run(QUESTION)
    assert result.stopped == "max_steps" and len(local.requests) == 3


# --- plan_and_solve and rewoo -------------------------------------------------------------------


def test_plan_and_solve_plans_solves_each_step_with_tools_then_answers(client, local):
    local.play(
        "",
        reply("1. Add 2 and 3\n2. Look up the weather in Paris"),
        reply(calls=[call("add", {"a": 2, "b": 3})]),
        reply("2 + 3 = 5"),
        reply(calls=[call("weather", {"city": "Paris"})]),
        reply("21 C in Paris"),
        reply("5, and it is 21 C in Paris."),
    )
    result = Agent(client, tools(add, weather), kind="plan_and_solve").run(QUESTION)
    assert result.answer == "5, and it is 21 C in Paris."
    assert [s.kind for s in result.steps] == ["plan", "act", "solve", "act", "solve", "answer"]
    last = local.requests[-1]["body"]["messages"][-1]["content"]
    assert "1. Add 2 and 3 → 2 + 3 = 5" in last and "→ 21 C in Paris" in last


def test_rewoo_runs_the_planned_calls_with_evidence_then_solves(client, local):
    local.play(
        "",
        reply('Plan: add\n#E1 = add[{"a": 2, "b": 3}]\nPlan: weather\n#E2 = weather[{"city": "#E1 Paris"}]'),
        reply("5; 21 degrees"),
    )
    result = Agent(client, tools(add, weather), kind="rewoo").run(QUESTION)
    assert result.answer == "5; 21 degrees"
    assert len(local.requests) == 2  # tools ran without the model
    assert result.steps[2].calls[0].arguments == '{"city": "5 Paris"}'
    evidence = local.requests[1]["body"]["messages"][-1]["content"]
    assert "#E1 = add: 5" in evidence and '"city": "5 Paris"' in evidence


def test_rewoo_repairs_a_malformed_plan(client, local):
    local.play("", reply("I will add them."), reply('#E1 = add[{"a": 1}]'), reply("1"))
    result = Agent(client, tools(add), kind="rewoo").run(QUESTION)
    assert result.answer == "1" and result.steps[0].kind == "repair"
    with pytest.raises(MalformedReply, match="#E2 uses #E2"):
        parse_rewoo('#E1 = add[{"a": 1}]\n#E2 = add[{"a": "#E2"}]')
