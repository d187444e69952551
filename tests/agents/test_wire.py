"""Tool calling on the wire: `tools` / `tool_choice` out, `tool_calls` back, streamed and not,
for every provider plugin (each against its vendor's stand-in) and for self-hosted OpenAI-compatible
servers; protocols without tool calling refuse in one line."""

from __future__ import annotations

import json

import pytest

from lazycli.agents import function_tool
from lazycli.client import ChatClient, ToolCallAssembler, ToolCallDelta
from lazycli.client.adapters import LightLLM
from lazycli.errors import LzError
from lazycli.targets import resolve_target
from tests.agents.tools_fixture import add, weather
from tests.chat.conftest import DEFAULT_MODELS, all_vendors
from tests.chat.standin import call, reply

TOOLS = [function_tool(add).schema(), function_tool(weather).schema()]
ASK = [{"role": "user", "content": "Add 2 and 3, and tell me the weather in Paris."}]
# Arguments long enough to arrive in many fragments, with characters JSON escapes.
LONG_ARGS = {"city": 'São Paulo, "the big one" — {not a brace problem}', "unit": "f"}


def _parallel_script(server):
    server.play("", reply(calls=[call("add", {"a": 2, "b": 3}), call("weather", LONG_ARGS)]))


@all_vendors
def test_provider_sends_tools_and_reads_parallel_tool_calls(vendor):
    name, server = vendor
    _parallel_script(server)
    done = resolve_target(name).complete(ASK, tools=TOOLS, tool_choice="auto", max_tokens=64)
    assert done.finish_reason == "tool_calls" and done.text == ""
    assert [(c.name, json.loads(c.arguments)) for c in done.tool_calls] == [
        ("add", {"a": 2, "b": 3}),
        ("weather", LONG_ARGS),
    ]
    assert done.tool_calls[0].id != done.tool_calls[1].id
    body = server.requests[-1]["body"]
    assert body["tools"] == TOOLS and body["tool_choice"] == "auto"
    assert body["model"] == DEFAULT_MODELS[name]
    assert body[server.vendor.max_tokens_name] == 64  # the vendor's option names still apply


@all_vendors
def test_provider_stream_assembles_argument_fragments_of_parallel_calls(vendor):
    name, server = vendor
    _parallel_script(server)
    client = resolve_target(name)
    text = list(client.complete(ASK, stream=True, tools=TOOLS))
    assert text == []  # a tool-call answer has no text deltas
    calls = client.last.tool_calls
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("add", {"a": 2, "b": 3}),
        ("weather", LONG_ARGS),
    ]
    assert client.last.finish_reason == "tool_calls"
    assert server.requests[-1]["body"]["stream"] is True


def test_tool_results_go_back_in_the_wire_shape(client, local):
    """The assistant message with tool_calls and `tool` messages answering its ids are accepted
    (the stand-in refuses a tool message that answers no call, as OpenAI does)."""
    local.play("", reply(calls=[call("add", {"a": 2, "b": 3}, id="call_a")]), reply("5"))
    first = client.complete(ASK, tools=TOOLS)
    messages = [*ASK, first.as_message(), {"role": "tool", "tool_call_id": "call_a", "content": "5"}]
    assert client.complete(messages, tools=TOOLS).text == "5"
    assert local.requests[-1]["body"]["messages"][1]["tool_calls"][0]["id"] == "call_a"
    wrong = [*ASK, {"role": "tool", "tool_call_id": "nope", "content": "5"}]
    with pytest.raises(LzError, match="must be a response to a preceding message"):
        client.complete(wrong, tools=TOOLS)


def test_no_tools_sends_no_tool_fields(client, local):
    client.complete(ASK, tools=None, tool_choice="auto")
    body = local.requests[-1]["body"]
    assert "tools" not in body and "tool_choice" not in body


def test_a_protocol_without_tool_calling_refuses_in_one_line():
    client = ChatClient(LightLLM("lightllm", "http://127.0.0.1:9"), target="lightllm+x", model="m")
    with pytest.raises(LzError) as err:
        client.complete(ASK, tools=TOOLS)
    assert "cannot call tools" in err.value.message and "\n" not in err.value.message
    assert "--agent react" in err.value.hint and 'kind = "react"' in err.value.hint


def test_assembler_places_fragments_without_index_and_interleaved():
    calls = ToolCallAssembler()
    for delta in [
        ToolCallDelta(0, "a", "add", ""),
        ToolCallDelta(1, "b", "weather", '{"ci'),
        ToolCallDelta(0, None, None, '{"a": '),
        ToolCallDelta(1, None, None, 'ty": "X"}'),
        ToolCallDelta(0, None, None, "1}"),
    ]:
        calls.add(delta)
    assert [(c.id, c.name, c.arguments) for c in calls.calls()] == [
        ("a", "add", '{"a": 1}'),
        ("b", "weather", '{"city": "X"}'),
    ]
    single = ToolCallAssembler()  # a server that sends no index for its one call
    for delta in [
        ToolCallDelta(-1, "z", "add", ""),
        ToolCallDelta(-1, None, None, '{"a":'),
        ToolCallDelta(-1, None, None, "2}"),
    ]:
        single.add(delta)
    assert [(c.id, c.arguments) for c in single.calls()] == [("z", '{"a":2}')]
