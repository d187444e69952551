"""The agent loops. Each model turn is one `Step` (its thought, the tool calls with their arguments
and results, or the answer); the steps are the agent's trace, kept on `AgentResult.steps` and
written to the chat log (one exchange per step, the agent run's id as conversation id).

Every way a run can go wrong ends in a result, not an exception: an unknown tool, arguments that
are not JSON or do not match the schema, a tool that raises or outlives its timeout all come back
to the model as an error text it can act on; a reply that breaks the react protocol gets a repair
turn; running out of `max_steps` stops the loop with `stopped = "max_steps"` and says so. Only
errors of the model service itself (auth, connection…) propagate, as the one-line LzError they are.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from lazycli.agents.tools import Tool, ToolArgumentError, Toolbox, parse_arguments
from lazycli.errors import LzError

KINDS = ("function_call", "react", "plan_and_solve", "rewoo")
STOPS = ("answer", "stop_tool", "stop_contains", "max_steps")


@dataclass
class ToolRun:
    """One tool call of a step: what the model asked for and what came back."""

    id: str
    name: str
    arguments: str
    ok: bool
    result: str = ""
    error: str | None = None
    elapsed_s: float = 0.0

    def observation(self) -> str:
        """What the model reads back."""
        return self.result if self.ok else f"ERROR: {self.error}"


@dataclass
class Step:
    """One turn of an agent: a thought, tool calls (with results), or the answer.

    `kind`: act (tool calls) | answer | repair (a malformed reply and why) | plan (plan_and_solve's
    and rewoo's plans) | solve (the result of one plan_and_solve step) | stop (why the loop ended
    without an answer)."""

    n: int
    agent: str
    kind: str
    thought: str = ""
    calls: list[ToolRun] = field(default_factory=list)
    answer: str | None = None
    note: str | None = None
    latency_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        """Human-readable, for the chat log and the terminal."""
        lines = [f"Thought: {self.thought}"] if self.thought else []
        for run in self.calls:
            lines.append(f"Call {run.name}({run.arguments}) → {run.observation()}")
        if self.answer is not None:
            lines.append(f"Answer: {self.answer}")
        if self.note:
            lines.append(f"({self.kind}: {self.note})")
        return "\n".join(lines) or f"({self.kind})"


@dataclass
class AgentResult:
    agent: str
    kind: str
    answer: str
    stopped: str  # one of STOPS
    steps: list[Step] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    run_id: str = ""

    def tool_results(self) -> dict[str, Any]:
        """{tool name: result text} of every successful call (a second call of a tool: name_2)."""
        out: dict[str, Any] = {}
        for step in self.steps:
            for run in step.calls:
                if not run.ok:
                    continue
                key, i = run.name, 2
                while key in out:
                    key, i = f"{run.name}_{i}", i + 1
                out[key] = run.result
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "kind": self.kind,
            "answer": self.answer,
            "stopped": self.stopped,
            "steps": [s.as_dict() for s in self.steps],
            "usage": self.usage,
            "run_id": self.run_id,
        }


class Agent:
    """A model and its tools, run by one of the KINDS of loop."""

    def __init__(
        self,
        client: Any,
        tools: list[Tool],
        *,
        kind: str = "function_call",
        name: str = "agent",
        system: str | None = None,
        max_steps: int = 8,
        stop_contains: str | None = None,
        stop_tool: str | None = None,
        options: dict[str, Any] | None = None,
        json_mode: bool = False,
        log: bool | None = None,
        on_step: Callable[[Step], None] | None = None,
    ) -> None:
        if kind not in KINDS:
            raise LzError(f"unknown agent kind {kind!r}", hint=f"one of {', '.join(KINDS)}")
        if max_steps < 1:
            raise LzError("agent max_steps must be at least 1")
        self.toolbox = Toolbox.of(tools)
        if stop_tool and stop_tool not in self.toolbox.tools:
            raise LzError(
                f"agent {name!r}: stop_tool {stop_tool!r} is not one of its tools",
                hint=f"tools: {', '.join(self.toolbox.names()) or 'none'}",
            )
        self._client = client
        self._lock = threading.Lock()
        self.kind = kind
        self.name = name
        self.system = system
        self.max_steps = max_steps
        self.stop_contains = stop_contains
        self.stop_tool = stop_tool
        self.options = dict(options or {})
        self.json_mode = json_mode
        self.log = log
        self.on_step = on_step

    @property
    def client(self) -> Any:
        # A client, or a function making one (the first run resolves the target, not the recipe load).
        with self._lock:
            if not hasattr(self._client, "complete"):
                self._client = self._client()
            return self._client

    @client.setter
    def client(self, value: Any) -> None:
        with self._lock:
            self._client = value

    def run(
        self,
        question: str,
        *,
        history: list[dict] | None = None,
        ctx: Any = None,
        on_step: Callable[[Step], None] | None = None,
    ) -> AgentResult:
        """Answer `question` (after `history`); `ctx` is the flow context component tools run in,
        `on_step` sees each step as it is made (besides the agent's own `on_step`)."""
        run = _Run(self, ctx, on_step)
        loop = {
            "function_call": _function_call,
            "react": _react,
            "plan_and_solve": _plan_and_solve,
            "rewoo": _rewoo,
        }[self.kind]
        return loop(run, question, list(history or []))


# --- shared plumbing -----------------------------------------------------------------------------


class _Run:
    """One run of an agent: its client, step counter, usage, chat-log conversation."""

    def __init__(self, agent: Agent, ctx: Any, on_step: Callable[[Step], None] | None = None) -> None:
        self.agent = agent
        self.ctx = ctx
        self.watchers = [w for w in (agent.on_step, on_step) if w is not None]
        self.client = agent.client
        self.steps: list[Step] = []
        self.usage: dict[str, int] = {}
        self.turns = 0
        self.run_id = uuid.uuid4().hex[:12]
        self.log = _log_enabled() if agent.log is None else agent.log

    @property
    def left(self) -> int:
        return self.agent.max_steps - self.turns

    def complete(self, messages: list[dict], **extra: Any):
        self.turns += 1
        completion = self.client.complete(messages, **{**self.agent.options, **extra})
        for key, value in (completion.usage or {}).items():
            if isinstance(value, int) and not isinstance(value, bool):
                self.usage[key] = self.usage.get(key, 0) + value
        return completion

    def step(self, kind: str, messages: list[dict], completion: Any = None, **fields: Any) -> Step:
        step = Step(
            n=len(self.steps) + 1,
            agent=self.agent.name,
            kind=kind,
            latency_s=getattr(completion, "latency_s", None),
            **fields,
        )
        self.steps.append(step)
        if self.log:
            self._record(step, messages, completion)
        for watch in self.watchers:
            watch(step)
        return step

    def _record(self, step: Step, messages: list[dict], completion: Any) -> None:
        from lazycli import chatlog
        from lazycli.client import Completion

        entry = Completion(
            text=step.render(),
            model=getattr(completion, "model", None) or getattr(self.client, "model", ""),
            usage=dict(getattr(completion, "usage", None) or {}),
            finish_reason=getattr(completion, "finish_reason", None) or step.kind,
            latency_s=step.latency_s,
        )
        with contextlib.suppress(Exception):  # the trace must never cost the user the answer
            chatlog.record(
                conversation_id=self.run_id,
                target=getattr(self.client, "target", "?"),
                model=getattr(self.client, "model", "?"),
                messages=[dict(m) for m in messages],
                completion=entry,
                options={
                    "agent": self.agent.name,
                    "kind": self.agent.kind,
                    "step": step.n,
                    "type": step.kind,
                },
            )

    def result(self, answer: str, stopped: str, messages: list[dict]) -> AgentResult:
        return AgentResult(
            agent=self.agent.name,
            kind=self.agent.kind,
            answer=answer,
            stopped=stopped,
            steps=self.steps,
            messages=messages,
            usage=self.usage,
            run_id=self.run_id,
        )

    def out_of_steps(self, messages: list[dict], last_text: str = "") -> AgentResult:
        note = f"stopped after {self.agent.max_steps} steps (max_steps) without a final answer"
        self.step("stop", messages, note=note)
        answer = f"[agent {self.agent.name!r} {note}]"
        if last_text.strip():
            answer += f" Last thought: {last_text.strip()}"
        return self.result(answer, "max_steps", messages)

    def call_tools(self, calls: list[tuple[str, str, str | dict]]) -> list[ToolRun]:
        """Run (id, name, arguments) calls; several at once in parallel, each under its timeout."""
        runs: list[ToolRun | None] = [None] * len(calls)

        def one(i: int, call_id: str, name: str, arguments: str | dict) -> None:
            runs[i] = self.call_tool(call_id, name, arguments)

        if len(calls) == 1:
            one(0, *calls[0])
        else:
            threads = [
                threading.Thread(target=one, args=(i, *c), daemon=True, name=f"lz-agent-call-{i}")
                for i, c in enumerate(calls)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()  # each finishes within its tool's timeout: Tool.run never blocks longer
        return [r for r in runs if r is not None]

    def call_tool(self, call_id: str, name: str, arguments: str | dict) -> ToolRun:
        text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
        tool = self.agent.toolbox.get(name)
        if tool is None:
            known = ", ".join(self.agent.toolbox.names()) or "none"
            return ToolRun(call_id, name, text, False, error=f"unknown tool {name!r}; the tools are: {known}")
        outcome = tool.run(arguments, self.ctx)
        return ToolRun(call_id, name, text, outcome.ok, outcome.result, outcome.error, outcome.elapsed_s)

    def stop_hit(self, text: str, runs: list[ToolRun]) -> tuple[str, str] | None:
        """(answer, reason) when the stop condition holds after this step."""
        if self.agent.stop_tool:
            for run in runs:
                if run.name == self.agent.stop_tool and run.ok:
                    return run.result, "stop_tool"
        if self.agent.stop_contains and self.agent.stop_contains in (text or ""):
            return text.strip(), "stop_contains"
        return None


def _log_enabled() -> bool:
    try:
        from lazycli import settings

        return bool(settings.get().chat_log)
    except Exception:
        return False


def _start(agent: Agent, system: str | None, history: list[dict], question: str) -> list[dict]:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [m for m in history if m.get("role") != "system"]
    messages.append({"role": "user", "content": question})
    return messages


# --- function_call: native tool calls --------------------------------------------------------------


def _function_call(run: _Run, question: str, history: list[dict]) -> AgentResult:
    agent = run.agent
    messages = _start(agent, agent.system, history, question)
    return _tool_loop(run, messages, budget=agent.max_steps)


def _tool_loop(run: _Run, messages: list[dict], *, budget: int, answer_kind: str = "answer") -> AgentResult:
    """Ask with tools until the model answers without calling one (or a stop condition holds).
    `answer_kind` names the answering step (plan_and_solve's steps end in "solve", not "answer")."""
    tools = run.agent.toolbox.schemas()
    last_text = ""
    for _ in range(budget):
        extra = {"tools": tools, "tool_choice": "auto"} if tools else {}
        completion = run.complete(messages, **extra)
        last_text = completion.text or ""
        if not completion.tool_calls:
            messages.append({"role": "assistant", "content": last_text})
            run.step(answer_kind, messages, completion, answer=last_text)
            return run.result(last_text, "answer", messages)
        messages.append(completion.as_message())
        runs = run.call_tools([(c.id, c.name, c.arguments) for c in completion.tool_calls])
        for r in runs:
            messages.append({"role": "tool", "tool_call_id": r.id, "content": r.observation()})
        run.step("act", messages, completion, thought=last_text, calls=runs)
        hit = run.stop_hit(last_text, runs)
        if hit:
            return run.result(hit[0], hit[1], messages)
    return run.out_of_steps(messages, last_text)


# --- react: a text protocol, parsed strictly ----------------------------------------------------

REACT_FORMAT = """Use this format, exactly, one step per reply:
Thought: what you think about next
Action: the tool to use, one of [{names}]
Action Input: the tool's arguments as one JSON object
Then stop: the tool's result comes back as "Observation: ...". Repeat as needed. When you know the answer:
Thought: what you think
Final Answer: the answer

For example:
Thought: I need {example_tool}.
Action: {example_tool}
Action Input: {example_args}"""

REACT_JSON_FORMAT = """Reply with one JSON object per step, to call a tool:
{{"thought": "why", "action": "{example_tool}", "input": {example_args}}}
The tool's result comes back as "Observation: ...". When you know the answer:
{{"thought": "why", "action": "final_answer", "input": {{"answer": "the answer, from the observations"}}}}
Tools (action names): {names}"""

_EXAMPLE_VALUES = {"integer": 1, "number": 1.5, "string": "text", "boolean": True, "array": [], "object": {}}


def _example_arguments(tool: Tool) -> str:
    """Arguments of the right types for the format example (small models copy the example's shape)."""
    props = tool.parameters.get("properties", {})
    args = {}
    for key, prop in props.items():
        if "enum" in prop:
            args[key] = prop["enum"][0]
        else:
            args[key] = _EXAMPLE_VALUES.get(prop.get("type", "string"), "text")
    return json.dumps(args)


_ACTION = re.compile(r"^\s*Action\s*:\s*(.+?)\s*$", re.M)
_ACTION_INPUT = re.compile(r"^\s*Action\s*Input\s*:\s*", re.M)
_FINAL = re.compile(r"^\s*Final\s*Answer\s*:\s*", re.M)
_THOUGHT = re.compile(r"^\s*Thought\s*:\s*", re.M)


@dataclass
class ReactReply:
    thought: str
    action: str | None = None
    arguments: dict[str, Any] | None = None
    answer: str | None = None


class MalformedReply(ValueError):
    pass


def parse_react(text: str) -> ReactReply:
    """Strict: either `Action:` + `Action Input: {json object}`, or `Final Answer:`; not both."""
    final = _FINAL.search(text)
    action = _ACTION.search(text)
    if final and action and action.start() < final.start():
        raise MalformedReply("it has both an Action and a Final Answer")
    thought_match = _THOUGHT.search(text)
    head_end = min(m.start() for m in (final, action) if m) if (final or action) else len(text)
    thought = text[thought_match.end() if thought_match else 0 : head_end].strip()
    if final:
        answer = text[final.end() :].strip()
        if not answer:
            raise MalformedReply("the Final Answer is empty")
        return ReactReply(thought, answer=answer)
    if not action:
        raise MalformedReply("it has neither an Action nor a Final Answer")
    name = action.group(1).strip().strip("`'\"")
    given = _ACTION_INPUT.search(text, action.end())
    if not given:
        raise MalformedReply("the Action has no Action Input line")
    raw = _strip_fence(text[given.end() :].strip())
    try:
        value, end = json.JSONDecoder().raw_decode(raw)
    except ValueError as exc:
        raise MalformedReply(f"the Action Input is not valid JSON ({exc.args[0].split(':')[0]})") from None
    if not isinstance(value, dict):
        raise MalformedReply("the Action Input must be a JSON object")
    rest = raw[end:].strip()
    if rest and not rest.startswith("Observation"):
        raise MalformedReply("there is text after the Action Input")
    return ReactReply(thought, action=name, arguments=value)


def parse_react_json(text: str) -> ReactReply:
    try:
        value = json.loads(_strip_fence(text.strip()))
    except ValueError:
        raise MalformedReply("the reply is not one JSON object") from None
    if not isinstance(value, dict) or not isinstance(value.get("action"), str):
        raise MalformedReply('the reply needs "action" (a string)')
    thought = str(value.get("thought") or "")
    args = value.get("input", {})
    if value["action"] == "final_answer":
        answer = args.get("answer") if isinstance(args, dict) else args
        if answer in (None, ""):
            raise MalformedReply('final_answer needs input {"answer": "..."}')
        return ReactReply(thought, answer=answer if isinstance(answer, str) else json.dumps(answer))
    if not isinstance(args, dict):
        raise MalformedReply('"input" must be a JSON object of the tool\'s arguments')
    return ReactReply(thought, action=value["action"], arguments=args)


def _strip_fence(text: str) -> str:
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```\s*$", text, re.S)
    return fenced.group(1) if fenced else text


def react_schema(toolbox: Toolbox) -> dict[str, Any]:
    """The JSON schema of one react step (json_mode), for servers that constrain output by it: one
    alternative per tool, so the grammar ties each action to its own arguments."""

    def step(action: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "thought": {"type": "string"},
                "action": {"type": "string", "enum": [action]},
                "input": arguments,
            },
            "required": ["thought", "action", "input"],
            "additionalProperties": False,
        }

    answer = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    steps = [step(t.name, t.parameters) for t in toolbox.tools.values()]
    return {"anyOf": [*steps, step("final_answer", answer)]}


def _react_system(agent: Agent) -> str:
    tools = "\n".join(f"- {t.signature_text()}" for t in agent.toolbox.tools.values()) or "- (none)"
    names = ", ".join(agent.toolbox.names())
    first = next(iter(agent.toolbox.tools.values()), None)
    protocol = (REACT_JSON_FORMAT if agent.json_mode else REACT_FORMAT).format(
        names=names,
        example_tool=first.name if first else "a_tool",
        example_args=_example_arguments(first) if first else "{}",
    )
    head = (agent.system.strip() + "\n\n") if agent.system else ""
    return f"{head}You can use these tools:\n{tools}\n\n{protocol}"


def _react(run: _Run, question: str, history: list[dict]) -> AgentResult:
    agent = run.agent
    messages = _start(agent, _react_system(agent), history, question)
    extra: dict[str, Any] = {}
    if agent.json_mode:
        extra["response_format"] = {"type": "json_object", "schema": react_schema(agent.toolbox)}
    else:
        extra["stop"] = ["\nObservation:", "Observation:"]
    parse = parse_react_json if agent.json_mode else parse_react
    last_text = ""
    while run.left > 0:
        completion = run.complete(messages, **extra)
        text = (completion.text or "").strip()
        last_text = text
        messages.append({"role": "assistant", "content": text})
        try:
            reply = parse(text)
        except MalformedReply as exc:
            why = str(exc)
            fix = "one JSON object as described" if agent.json_mode else "the format: Thought / Action / "
            fix += "" if agent.json_mode else "Action Input (a JSON object), or Thought / Final Answer"
            messages.append(
                {
                    "role": "user",
                    "content": f"Your reply did not follow the format: {why}. Reply again with {fix}.",
                }
            )
            run.step("repair", messages, completion, thought=text, note=why)
            continue
        if reply.answer is not None:
            run.step("answer", messages, completion, thought=reply.thought, answer=reply.answer)
            return run.result(reply.answer, "answer", messages)
        runs = run.call_tools([(f"react_{run.turns}", reply.action or "", reply.arguments or {})])
        messages.append({"role": "user", "content": f"Observation: {runs[0].observation()}"})
        run.step("act", messages, completion, thought=reply.thought, calls=runs)
        hit = run.stop_hit(reply.thought, runs)
        if hit:
            return run.result(hit[0], hit[1], messages)
    return run.out_of_steps(messages, last_text)


# --- plan_and_solve: plan, solve each step with tool calls, answer -----------------------------

PLAN_PROMPT = """Make a short plan to answer the question below with the tools available.
Write at most {n} numbered steps, one per line, and nothing else.
Tools: {tools}
Question: {question}"""

SOLVE_PROMPT = """Question: {question}
Plan:
{plan}
Results so far:
{done}
Now carry out step {i}: {step}
Use the tools as needed, then reply with the result of this step only."""

ANSWER_PROMPT = """Question: {question}
Plan and results:
{done}
Answer the question from these results."""


def _plan_and_solve(run: _Run, question: str, history: list[dict]) -> AgentResult:
    agent = run.agent
    tools = ", ".join(t.signature_text() for t in agent.toolbox.tools.values()) or "none"
    ask = PLAN_PROMPT.format(n=max(1, agent.max_steps - 2), tools=tools, question=question)
    messages = _start(agent, agent.system, history, ask)
    completion = run.complete(messages)
    plan = _plan_lines(completion.text or "")[: max(1, agent.max_steps - 2)] or [question]
    messages.append({"role": "assistant", "content": completion.text or ""})
    run.step("plan", messages, completion, thought="\n".join(f"{i}. {p}" for i, p in enumerate(plan, 1)))
    done: list[str] = []
    for i, item in enumerate(plan, 1):
        if run.left <= 1:  # keep one turn for the answer
            return run.out_of_steps(messages, "\n".join(done))
        prompt = SOLVE_PROMPT.format(
            question=question,
            plan="\n".join(f"{j}. {p}" for j, p in enumerate(plan, 1)),
            done="\n".join(done) or "(none yet)",
            i=i,
            step=item,
        )
        sub = _start(agent, agent.system, [], prompt)
        asked = len(sub) - 1  # the step's own question onwards goes into the run's transcript
        outcome = _tool_loop(run, sub, budget=run.left - 1, answer_kind="solve")
        messages.extend(sub[asked:])
        if outcome.stopped in ("stop_tool", "stop_contains"):
            return outcome
        done.append(f"{i}. {item} → {outcome.answer}")
    if run.left <= 0:
        return run.out_of_steps(messages, "\n".join(done))
    final_messages = _start(
        agent, agent.system, history, ANSWER_PROMPT.format(question=question, done="\n".join(done))
    )
    completion = run.complete(final_messages)
    answer = (completion.text or "").strip()
    run.step("answer", final_messages, completion, answer=answer)
    return run.result(answer, "answer", messages + final_messages[-1:])


def _plan_lines(text: str) -> list[str]:
    from lazycli.flow import _clean_line

    return [line for line in (_clean_line(s) for s in text.splitlines()) if line]


# --- rewoo: plan the tool calls with #E variables, run them, answer from the evidence ----------

REWOO_PROMPT = """Plan how to answer the question with the tools below. For each step write a line
"Plan: <what and why>" followed by a line "#E<n> = <tool>[<arguments as a JSON object>]".
A later step may use an earlier result by writing #E<n> inside its arguments.
Write at most {n} steps and nothing else.
Tools:
{tools}
Question: {question}"""

SOLVER_PROMPT = """Answer the question from the evidence gathered by the plan.
{evidence}
Question: {question}
Answer:"""

_EVIDENCE = re.compile(r"^\s*#E(\d+)\s*=\s*([A-Za-z0-9_-]+)\s*\[(.*)\]\s*$")
_PLAN_LINE = re.compile(r"^\s*Plan\s*:\s*(.*)$", re.I)


@dataclass
class PlannedCall:
    var: str
    tool: str
    arguments: dict[str, Any]
    plan: str


def parse_rewoo(text: str) -> list[PlannedCall]:
    """Strict: every `#E<n> = tool[{json}]` line parses, variables count up from 1, references
    point backwards; other lines may only be `Plan:` lines or blank."""
    calls: list[PlannedCall] = []
    plan = ""
    for line in text.strip().splitlines():
        if not line.strip():
            continue
        plan_match = _PLAN_LINE.match(line)
        if plan_match:
            plan = plan_match.group(1).strip()
            continue
        match = _EVIDENCE.match(line)
        if not match:
            raise MalformedReply(f"line {line.strip()[:60]!r} is neither 'Plan: …' nor '#E<n> = tool[{{…}}]'")
        n, tool, raw = int(match.group(1)), match.group(2), match.group(3)
        if n != len(calls) + 1:
            raise MalformedReply(f"#E{n} is out of order (expected #E{len(calls) + 1})")
        try:
            args = parse_arguments(raw)
        except ToolArgumentError as exc:
            raise MalformedReply(f"#E{n}: the arguments are {exc}") from None
        for ref in re.findall(r"#E(\d+)", raw):
            if int(ref) >= n:
                raise MalformedReply(f"#E{n} uses #E{ref}, which is not computed before it")
        calls.append(PlannedCall(f"#E{n}", tool, args, plan))
    if not calls:
        raise MalformedReply("the plan has no '#E1 = tool[{…}]' line")
    return calls


def _substitute(value: Any, evidence: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"#E\d+", lambda m: evidence.get(m.group(0), m.group(0)), value)
    if isinstance(value, dict):
        return {k: _substitute(v, evidence) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, evidence) for v in value]
    return value


def _rewoo(run: _Run, question: str, history: list[dict]) -> AgentResult:
    agent = run.agent
    tools = "\n".join(f"- {t.signature_text()}" for t in agent.toolbox.tools.values()) or "- (none)"
    room = max(1, agent.max_steps - 2)
    messages = _start(
        agent, agent.system, history, REWOO_PROMPT.format(n=room, tools=tools, question=question)
    )
    calls: list[PlannedCall] | None = None
    while calls is None:
        if run.left <= 1:
            return run.out_of_steps(messages)
        completion = run.complete(messages)
        text = (completion.text or "").strip()
        messages.append({"role": "assistant", "content": text})
        try:
            calls = parse_rewoo(text)
        except MalformedReply as exc:
            messages.append(
                {
                    "role": "user",
                    "content": f"The plan did not follow the format: {exc}. Write it again: 'Plan: …' "
                    "lines, each followed by '#E<n> = tool[{JSON arguments}]'.",
                }
            )
            run.step("repair", messages, completion, thought=text, note=str(exc))
            continue
        run.step("plan", messages, completion, thought=text)
    note = None
    if len(calls) > room:
        note = f"the plan has {len(calls)} calls; ran the first {room} (max_steps)"
        calls = calls[:room]
    evidence: dict[str, str] = {}
    lines = []
    for planned in calls:
        args = _substitute(planned.arguments, evidence)
        result = run.call_tools([(planned.var, planned.tool, args)])[0]
        evidence[planned.var] = result.observation()
        lines.append(f"Plan: {planned.plan}\n{planned.var} = {planned.tool}: {result.observation()}")
        run.step("act", messages, None, thought=planned.plan, calls=[result])
        hit = run.stop_hit("", [result])
        if hit:
            return run.result(hit[0], hit[1], messages)
    solve = _start(
        agent, agent.system, [], SOLVER_PROMPT.format(evidence="\n".join(lines), question=question)
    )
    completion = run.complete(solve)
    answer = (completion.text or "").strip()
    run.step("answer", solve, completion, answer=answer, note=note)
    return run.result(answer, "answer", messages + solve[-1:])
