"""Agents: a model that calls tools in a loop (LazyLLM's FunctionCall / React / PlanAndSolve / ReWOO).

    from lazycli.agents import Agent, load_tool
    from lazycli.targets import resolve_target

    agent = Agent(resolve_target("openai:gpt-4o-mini"), [load_tool("tools:add")], kind="function_call")
    result = agent.run("What is 2 + 3?")
    result.answer, result.stopped          # "5", "answer"
    for step in result.steps:              # thought, tool calls with arguments and results
        print(step.render())

Kinds: `function_call` (native tool calls, parallel ones run at once), `react` (a strictly parsed
text protocol for models without native tool calling, with a repair turn on a malformed reply;
`json_mode` asks the server for JSON constrained by a schema instead), `plan_and_solve` (a plan,
each step solved with tool calls, then an answer), `rewoo` (a plan of tool calls with #E
evidence variables, run without the model, then one answer from the evidence).
"""

from __future__ import annotations

from lazycli.agents.loop import KINDS, Agent, AgentResult, Step, ToolRun
from lazycli.agents.tools import Tool, ToolOutcome, function_tool, load_tool, node_tool

__all__ = [
    "KINDS",
    "Agent",
    "AgentResult",
    "Step",
    "Tool",
    "ToolOutcome",
    "ToolRun",
    "function_tool",
    "load_tool",
    "node_tool",
]
