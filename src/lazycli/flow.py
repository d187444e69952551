"""Flow combinators that recipe apps compile to (LazyLLM's flows, as plain Python objects).

A flow is a tree of `Node`s. Each node takes one value and returns one value; a `Context` travels
with a run and carries the original input, the chat history, named outputs (for `bind`) and the
sources that retrievers found (shown by `lz run` and `lz serve`).

    from lazycli import flow
    app = flow.pipeline(
        flow.parallel(flow.retriever("kb", "cosine"), flow.retriever("kb", "bm25_chinese"), merge="stack"),
        flow.rerank(topk=3),
        flow.prompt("Answer from these sources:\\n{context}\\nQuestion: {query}"),
        flow.llm("smollm2-135m-instruct"),
    )
    app("What is lazycli?")

Combinators: pipeline, parallel (merge: stack | tuple | sum | dict | join), diverter, if_, switch,
loop (stop condition + max turns), warp (one step mapped over a list in parallel) and bind (give a
step an earlier output, e.g. the original query, as a keyword). Components: llm, retriever, rerank,
prompt, python, agent (a model calling tools in a loop, `lazycli.agents`), and fn for any
callable. Heavy libraries (the client, rag) are imported only when a component runs.
"""

from __future__ import annotations

import copy
import functools
import importlib
import importlib.util
import json
import operator
import re
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lazycli import trace
from lazycli.errors import LzError


class FlowError(LzError):
    """A flow that cannot go on with the value it got (bad reference, bad JSON from an LLM, …)."""


class StepError(FlowError):
    """A recipe's own python code raised: one line for `lz run`, a 500 from `lz serve`."""


@dataclass
class Context:
    """What one run of a flow shares between its steps."""

    input: Any = None
    history: list[dict] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    sources: list[dict] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # LLM options of this request (temperature…)
    steps: list[Any] = field(default_factory=list)  # agent steps (lazycli.agents.Step), in order
    local_files: bool = True  # False in `lz serve`: file inputs come as data URLs, never as paths
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def lookup(self, ref: str) -> Any:
        """`input`, `input.key`, `NAME` or `NAME.key`: the original input or a named earlier output."""
        head, *rest = ref.split(".")
        if head == "input":
            value = self.input
        elif head in self.results:
            value = self.results[head]
        else:
            known = ["input", *self.results]
            raise FlowError(f"bind refers to {ref!r}, which no earlier step produced", hint=f"known: {known}")
        for part in rest:
            value = _get(value, part, ref)
        return value

    def record(self, name: str, value: Any) -> None:
        with self.lock:
            self.results[name] = value

    def add_steps(self, steps: list[Any]) -> None:
        with self.lock:
            self.steps.extend(steps)

    def set_sources(self, docs: list[dict], *, replace: bool) -> None:
        with self.lock:
            if replace:
                self.sources = list(docs)
                return
            seen = {_doc_key(d) for d in self.sources}
            self.sources.extend(d for d in docs if _doc_key(d) not in seen)


def _get(value: Any, part: str, ref: str) -> Any:
    if isinstance(value, dict) and part in value:
        return value[part]
    if isinstance(value, list | tuple) and part.isdigit() and int(part) < len(value):
        return value[int(part)]
    if hasattr(value, part):
        return getattr(value, part)
    raise FlowError(f"bind {ref!r}: no {part!r} in {type(value).__name__}")


def _doc_key(doc: Any) -> tuple:
    if isinstance(doc, dict):
        return (doc.get("source"), doc.get("text"))
    return (str(doc),)


# --- nodes --------------------------------------------------------------------------------------


class Node:
    """One step of a flow. Subclasses implement `apply(value, ctx, **bound)`."""

    name: str | None = None
    binds: dict[str, str]

    def __init__(self, *, name: str | None = None, binds: dict[str, str] | None = None) -> None:
        self.name = name
        self.binds = dict(binds or {})

    def __call__(self, value: Any = None, ctx: Context | None = None) -> Any:
        return self.run(value, ctx or Context(input=value))

    def run(self, value: Any, ctx: Context) -> Any:
        kind = type(self).__name__.lower()
        with trace.span(self.name or kind, kind, input=value) as sp:  # a step of the current trace
            out = sp.output = self.apply(value, ctx, **self._bound(ctx))
        if self.name:
            ctx.record(self.name, out)
        return out

    def stream(self, value: Any, ctx: Context) -> Iterator[str]:
        """Text pieces of this node's output; only an LLM at the end of a flow truly streams."""
        out = self.run(value, ctx)
        yield out if isinstance(out, str) else to_text(out)

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _bound(self, ctx: Context) -> dict[str, Any]:
        return {key: ctx.lookup(ref) for key, ref in self.binds.items()}

    def __or__(self, other: Bind) -> Node:  # `node | bind(query="input")`, LazyLLM's spelling
        if not isinstance(other, Bind):
            return NotImplemented
        self.binds.update(other.refs)
        return self


@dataclass
class Bind:
    refs: dict[str, str]


def bind(node: Node | None = None, /, **refs: str) -> Any:
    """Pass earlier outputs to a step as keywords: `bind(step, query="input")` or `step | bind(...)`."""
    if node is None:
        return Bind(refs)
    node.binds.update(refs)
    return node


def as_node(obj: Any) -> Node:
    if isinstance(obj, Node):
        return obj
    if callable(obj):
        return Fn(obj)
    raise TypeError(f"not a flow step: {obj!r}")


class Fn(Node):
    """Any callable `f(value, **bound)`."""

    def __init__(self, fn: Callable[..., Any], **kw: Any) -> None:
        super().__init__(**kw)
        self.fn = fn

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        return self.fn(value, **bound)


class Pipeline(Node):
    def __init__(self, steps: list[Node], **kw: Any) -> None:
        super().__init__(**kw)
        self.steps = [as_node(s) for s in steps]

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        for step in self.steps:
            value = step.run(value, ctx)
        return value

    def stream(self, value: Any, ctx: Context) -> Iterator[str]:
        if not self.steps or self.binds:
            yield from super().stream(value, ctx)
            return
        for step in self.steps[:-1]:
            value = step.run(value, ctx)
        pieces = []
        for piece in self.steps[-1].stream(value, ctx):
            pieces.append(piece)
            yield piece
        if self.name:
            ctx.record(self.name, "".join(pieces))


MERGES = ("stack", "tuple", "sum", "dict", "join")


def _merge(outputs: list[Any], names: list[str | None], how: str, sep: str) -> Any:
    if how in ("stack", "tuple"):
        return list(outputs)
    if how == "sum":
        if not outputs:
            return []
        return functools.reduce(operator.add, outputs)
    if how == "join":
        return sep.join(o if isinstance(o, str) else to_text(o) for o in outputs)
    if how == "dict":
        merged: dict[str, Any] = {}
        for i, (name, out) in enumerate(zip(names, outputs, strict=True)):
            if name is None and isinstance(out, dict):
                merged.update(out)
            else:
                merged[name or str(i)] = out
        return merged
    raise FlowError(f"unknown merge {how!r}", hint=f"one of {', '.join(MERGES)}")


def _run_all(calls: list[Callable[[], Any]], max_workers: int | None = None) -> list[Any]:
    """Run thunks in threads (the work is I/O: HTTP to engines, index reads); keep order."""
    if len(calls) <= 1:
        return [c() for c in calls]
    with ThreadPoolExecutor(max_workers=max_workers or len(calls), thread_name_prefix="lz-flow") as pool:
        futures = [pool.submit(copy_context().run, c) for c in calls]  # each branch sees the trace
        return [f.result() for f in futures]


class Parallel(Node):
    """Every step gets the same value; outputs merged (stack = list, sum = a + b…, dict, join)."""

    def __init__(self, steps: list[Node], merge: str = "stack", sep: str = "\n", **kw: Any) -> None:
        super().__init__(**kw)
        if merge not in MERGES:
            raise FlowError(f"unknown merge {merge!r}", hint=f"one of {', '.join(MERGES)}")
        self.steps = [as_node(s) for s in steps]
        self.merge = merge
        self.sep = sep

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        outputs = _run_all([functools.partial(s.run, value, ctx) for s in self.steps])
        return _merge(outputs, [s.name for s in self.steps], self.merge, self.sep)


class Diverter(Parallel):
    """Step i gets item i of a list input (in parallel); outputs merged like `parallel`."""

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        if not isinstance(value, list | tuple) or len(value) != len(self.steps):
            raise FlowError(
                f"diverter{_label(self)} has {len(self.steps)} branches but got {_describe(value)}",
                hint="give it a list with one item per branch (e.g. from a parallel step)",
            )
        outputs = _run_all([functools.partial(s.run, v, ctx) for s, v in zip(self.steps, value, strict=True)])
        return _merge(outputs, [s.name for s in self.steps], self.merge, self.sep)


class If(Node):
    def __init__(self, cond: Node, then: Node, otherwise: Node | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.cond, self.then = as_node(cond), as_node(then)
        self.otherwise = as_node(otherwise) if otherwise is not None else None

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        if truthy(self.cond.run(value, ctx)):
            return self.then.run(value, ctx)
        return self.otherwise.run(value, ctx) if self.otherwise else value

    def stream(self, value: Any, ctx: Context) -> Iterator[str]:
        if self.binds or self.name:
            yield from super().stream(value, ctx)
        elif truthy(self.cond.run(value, ctx)):
            yield from self.then.stream(value, ctx)
        elif self.otherwise:
            yield from self.otherwise.stream(value, ctx)
        else:
            yield to_text(value)


class Switch(Node):
    """`on(value)` picks a case by its string form; `default` when none matches."""

    def __init__(self, cases: dict[str, Node], on: Node | None = None, default: Node | None = None, **kw):
        super().__init__(**kw)
        self.cases = {str(k): as_node(v) for k, v in cases.items()}
        self.on = as_node(on) if on is not None else None
        self.default = as_node(default) if default is not None else None

    def pick(self, value: Any, ctx: Context) -> Node:
        key = self.on.run(value, ctx) if self.on else value
        key = key.strip() if isinstance(key, str) else str(key)
        if key in self.cases:
            return self.cases[key]
        if self.default is not None:
            return self.default
        raise FlowError(f"switch{_label(self)}: no case for {key!r}", hint=f"cases: {sorted(self.cases)}")

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        return self.pick(value, ctx).run(value, ctx)


class Loop(Node):
    """Feed `body` its own output until `until(output)` is true or `max_turns` turns ran."""

    def __init__(self, body: Node, until: Node | None = None, max_turns: int = 4, **kw: Any) -> None:
        super().__init__(**kw)
        if max_turns < 1:
            raise FlowError("loop max_turns must be at least 1")
        self.body = as_node(body)
        self.until = as_node(until) if until is not None else None
        self.max_turns = max_turns

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        for _ in range(self.max_turns):
            value = self.body.run(value, ctx)
            if self.until is not None and truthy(self.until.run(value, ctx)):
                break
        return value


class Warp(Node):
    """Map one step over every item of a list, in parallel (at most `max_workers` at once)."""

    def __init__(self, body: Node, max_workers: int = 4, **kw: Any) -> None:
        super().__init__(**kw)
        self.body = as_node(body)
        self.max_workers = max(1, max_workers)

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise FlowError(f"warp{_label(self)} needs a list, got {_describe(value)}")
        return _run_all([functools.partial(self.body.run, v, ctx) for v in value], self.max_workers)


# --- components ---------------------------------------------------------------------------------


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(template: str, value: Any, ctx: Context, bound: dict[str, Any]) -> str:
    """Fill `{name}` placeholders: input (this step's value), query (the flow's input), context
    (retrieved documents as numbered sources), the keys of a dict value, and bound names. Other
    braces (JSON examples in a prompt) are left alone."""
    variables: dict[str, Any] = {"input": value, "query": ctx.input}
    if isinstance(value, dict):
        variables.update(value)
    if _is_docs(value):
        variables["context"] = format_sources(value)
    variables.update(bound)
    for key, val in list(variables.items()):
        if _is_docs(val) and key != "context":
            variables[key] = format_sources(val)

    def fill(match: re.Match) -> str:
        key = match.group(1)
        if key not in variables:
            raise FlowError(f"prompt placeholder {{{key}}} has no value", hint=f"known: {sorted(variables)}")
        val = variables[key]
        return val if isinstance(val, str) else to_text(val)

    return _PLACEHOLDER.sub(fill, template)


def _is_docs(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(d, dict) and "text" in d for d in value)


def format_sources(docs: list[dict]) -> str:
    return "\n".join(
        f"[{i}] ({d.get('source', '?')}) {d.get('text', '').strip()}" for i, d in enumerate(docs, 1)
    )


class Prompt(Node):
    def __init__(self, template: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.template = template

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        return render(self.template, value, ctx, bound)


FORMATTERS = ("text", "strip", "json", "lines")


def format_output(text: str, how: str) -> Any:
    if how == "text":
        return text
    if how == "strip":
        return text.strip()
    if how == "json":
        return extract_json(text)
    if how == "lines":
        return [line for line in (_clean_line(s) for s in text.splitlines()) if line]
    raise FlowError(f"unknown formatter {how!r}", hint=f"one of {', '.join(FORMATTERS)}")


def _clean_line(line: str) -> str:
    # "1. Intro", "- Intro", "* Intro", "Chapter 2: …" stay readable; list markers go.
    return re.sub(r"^\s*(?:[-*•]+|\d+[.)]|#+)\s*", "", line).strip()


def extract_json(text: str) -> Any:
    """The first JSON object or array in an LLM's answer (code fences and chatter around it ignored)."""
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(text)
    decoder = json.JSONDecoder()
    for chunk in candidates:
        for i, ch in enumerate(chunk):
            if ch in "{[":
                try:
                    return decoder.raw_decode(chunk[i:])[0]
                except json.JSONDecodeError:
                    continue
    raise FlowError("the LLM's answer holds no JSON", hint=f"answer began: {text[:80]!r}")


class LLM(Node):
    """A chat model (deployment, model name, provider:model or URL via `lazycli.client`)."""

    def __init__(
        self,
        target: str | None,
        *,
        prompt: str | None = None,
        system: str | None = None,
        formatter: str = "text",
        options: dict[str, Any] | None = None,
        history: bool = False,
        client_factory: Callable[[str | None], Any] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        if formatter not in FORMATTERS:
            raise FlowError(f"unknown formatter {formatter!r}", hint=f"one of {', '.join(FORMATTERS)}")
        self.target = target
        self.prompt = prompt
        self.system = system
        self.formatter = formatter
        self.options = dict(options or {})
        self.history = history
        self._factory = client_factory
        self._client = None
        self._client_lock = threading.Lock()

    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                if self._factory is not None:
                    self._client = self._factory(self.target)
                else:
                    from lazycli.targets import resolve_target

                    # A step that names a model (not a [models] key) asks for it to run.
                    self._client = resolve_target(self.target, start=True)
            return self._client

    def messages(self, value: Any, ctx: Context, bound: dict[str, Any]) -> list[dict]:
        text = (
            render(self.prompt, value, ctx, bound)
            if self.prompt
            else (value if isinstance(value, str) else to_text(value))
        )
        messages = [{"role": "system", "content": self.system}] if self.system else []
        if self.history:
            messages.extend(m for m in ctx.history if m.get("role") != "system" or not self.system)
        messages.append({"role": "user", "content": text})
        return messages

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        options = {**self.options, **ctx.options}
        messages = self.messages(value, ctx, bound)
        trace.annotate(target=self.target, messages=messages, options=options)
        completion = self.client().complete(messages, **options)
        trace.llm_result(completion)
        return format_output(completion.text, self.formatter)

    def stream(self, value: Any, ctx: Context) -> Iterator[str]:
        if self.formatter != "text":
            yield from super().stream(value, ctx)
            return
        options = {**self.options, **ctx.options}
        pieces = []
        messages = self.messages(value, ctx, self._bound(ctx))
        with trace.span(self.name or "llm", "llm", input=value, target=self.target, messages=messages) as sp:
            client = copy.copy(self.client())  # its own `.last` (usage) when requests run at once
            for piece in client.complete(messages, stream=True, **options):
                pieces.append(piece)
                yield piece
            sp.output = "".join(pieces)
            trace.llm_result(getattr(client, "last", None))
        if self.name:
            ctx.record(self.name, "".join(pieces))


AGENT_OUTPUTS = ("answer", "tool_results")


class AgentStep(Node):
    """An agent (`lazycli.agents.Agent`): its model calls `tools` in a loop of `kind` until it
    answers. Output: the answer, or (output = "tool_results") {tool name: result} for a step that
    merges what the tools found. Its steps go to `ctx.steps` (the trace) as they happen."""

    def __init__(
        self,
        target: str | None,
        tools: list[Any],
        *,
        kind: str = "function_call",
        prompt: str | None = None,
        system: str | None = None,
        max_steps: int = 8,
        stop_contains: str | None = None,
        stop_tool: str | None = None,
        options: dict[str, Any] | None = None,
        json_mode: bool = False,
        history: bool = False,
        output: str = "answer",
        client_factory: Callable[[str | None], Any] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        if output not in AGENT_OUTPUTS:
            raise FlowError(f"unknown agent output {output!r}", hint=f"one of {', '.join(AGENT_OUTPUTS)}")
        from lazycli.agents import Agent

        self.target, self.prompt, self.history, self.output = target, prompt, history, output
        self._factory = client_factory
        self.agent = Agent(
            self._client,
            tools,
            kind=kind,
            name=self.name or "agent",
            system=system,
            max_steps=max_steps,
            stop_contains=stop_contains,
            stop_tool=stop_tool,
            options=options,
            json_mode=json_mode,
        )

    def _client(self) -> Any:
        if self._factory is not None:
            return self._factory(self.target)
        from lazycli.targets import resolve_target

        return resolve_target(self.target, start=True)

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        question = render(self.prompt, value, ctx, bound) if self.prompt else to_text(value)
        history = [m for m in ctx.history if m.get("role") in ("user", "assistant")] if self.history else []
        # Steps reach the trace as they happen, so an agent called as a tool shows inside its caller's run.
        result = self.agent.run(question, history=history, ctx=ctx, on_step=lambda s: ctx.add_steps([s]))
        return result.answer if self.output == "answer" else result.tool_results()


class Retriever(Node):
    """Documents for the value (a query) from an index built by `lz index` (`lazycli.rag`)."""

    def __init__(self, index: str, retriever: str = "cosine", topk: int = 5, groups=None, **kw: Any) -> None:
        super().__init__(**kw)
        self.index, self.retriever, self.topk, self.groups = index, retriever, topk, groups
        self._opened = None
        self._lock = threading.Lock()

    def _search(self, query: str) -> list[dict]:
        from lazycli import rag

        with self._lock:  # open the index once (store, snapshot, embedder), not on every query
            if self._opened is None:
                self._opened = rag.Index(self.index)
        return self._opened.search(query, retrievers=(self.retriever,), topk=self.topk, groups=self.groups)

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        query = bound.get("query", value)
        trace.annotate(index=self.index, retriever=self.retriever, topk=self.topk)
        docs = [dict(d, retriever=self.retriever) for d in self._search(str(query))]
        ctx.set_sources(docs, replace=False)
        return docs


class Rerank(Node):
    """Documents → the best `topk`. Input: one list, or a list of lists (from `parallel` merge=stack).

    With `model` a cross-encoder ranks them (a `lazycli_rerankers` backend, or a target's
    `rerank`); without one, lists are fused by reciprocal rank (RRF, k=60)."""

    def __init__(
        self,
        topk: int = 3,
        model: str | None = None,
        backend: str = "cross-encoder",
        target: str | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.topk, self.model, self.backend, self.target = topk, model, backend, target
        self._scorer = None
        self._lock = threading.Lock()

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        lists = _doc_lists(value)
        fused = rrf(lists)
        if (self.model or self.target) and fused:
            query = str(bound.get("query", ctx.input))
            scores = self._score(query, [d.get("text", "") for d in fused])
            fused = [dict(d, score=float(s)) for d, s in zip(fused, scores, strict=True)]
            fused.sort(key=lambda d: d["score"], reverse=True)
        top = fused[: self.topk]
        ctx.set_sources(top, replace=True)
        return top

    def _score(self, query: str, texts: list[str]) -> list[float]:
        with self._lock:
            if self._scorer is None:
                if self.target:
                    from lazycli.targets import resolve_target

                    client = resolve_target(self.target, start=True)
                    self._scorer = lambda q, t: client.rerank(q, t, model=self.model)
                elif self.backend == "cross-encoder":
                    # The same resolution as `lz rag --rerank`: a catalogue name becomes its local
                    # directory, and the loaded model is shared by every node in this process.
                    from lazycli.rag import backends

                    self._scorer = backends.reranker(self.model).rerank
                else:
                    from lazycli.plugins import registry

                    spec = registry().get("rerankers", self.backend)
                    self._scorer = spec.factory(self.model, {}).rerank
        return list(self._scorer(query, texts))


def _doc_lists(value: Any) -> list[list[dict]]:
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return value
    if isinstance(value, list):
        return [value]
    raise FlowError(f"rerank needs documents, got {_describe(value)}")


def rrf(lists: list[list[dict]], k: int = 60) -> list[dict]:
    """Reciprocal-rank fusion; a document found by several lists gathers their scores."""
    from lazycli.rag import fusion

    docs: dict[tuple, dict] = {}
    ranked = {}
    for i, docs_list in enumerate(lists):
        ranked[str(i)] = [(_doc_key(doc), 0.0) for doc in docs_list]
        for doc in docs_list:
            docs.setdefault(_doc_key(doc), doc)
    return [dict(docs[key], score=round(score, 6)) for key, score in fusion.rrf(ranked, k)]


class Python(Node):
    """`module:function` from the recipe's folder (module.py there) or an installed package."""

    def __init__(
        self, ref: str, folder: Path | None = None, args: dict[str, Any] | None = None, **kw
    ) -> None:
        super().__init__(**kw)
        self.ref, self.folder, self.args = ref, folder, dict(args or {})
        self._fn: Callable[..., Any] | None = None

    def apply(self, value: Any, ctx: Context, **bound: Any) -> Any:
        if self._fn is None:
            self._fn = load_function(self.ref, self.folder)
        try:
            return self._fn(value, **self.args, **bound)
        except Exception as exc:  # the recipe's own code failed: one line naming it, not a traceback
            raise StepError(
                f"python step {self.ref!r} raised {type(exc).__name__}: {exc}", hint=_where_raised(exc)
            ) from None


def _where_raised(exc: BaseException) -> str:
    import traceback

    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return f"raised at {frame.filename}:{frame.lineno} ({frame.name}); fix the step's code"


_import_lock = threading.Lock()


def load_function(ref: str, folder: Path | None = None) -> Callable[..., Any]:
    """Import `module:function`: a `module.py` (or package) in `folder` first, then installed ones."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise FlowError(f"python step {ref!r} is not module:function", hint="e.g. tools:word_count")
    with _import_lock:
        module = _import_from_folder(module_name, folder) if folder else None
        if module is None:
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                where = f" in {folder} or" if folder else ""
                raise FlowError(
                    f"python step {ref!r}: cannot import {module_name!r}{where} installed packages",
                    hint=str(exc),
                ) from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise FlowError(f"python step {ref!r}: {module_name} has no function {attr!r}")
    return fn


def _import_from_folder(module_name: str, folder: Path):
    base = Path(folder).joinpath(*module_name.split("."))
    path = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
    if not path.is_file():
        return None
    # A private name keeps a recipe's tools.py from shadowing (or being shadowed by) another one.
    unique = f"_lz_recipe_{abs(hash(str(path)))}_{module_name.replace('.', '_')}"
    if unique in sys.modules:
        return sys.modules[unique]
    spec = importlib.util.spec_from_file_location(unique, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    return module


# --- helpers ------------------------------------------------------------------------------------


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "none", "null")
    return bool(value)


def to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _label(node: Node) -> str:
    return f" {node.name!r}" if node.name else ""


def _describe(value: Any) -> str:
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    return f"a {type(value).__name__}"


# --- LazyLLM-style constructors -----------------------------------------------------------------


def pipeline(*steps: Any, **kw: Any) -> Pipeline:
    return Pipeline(list(steps), **kw)


def parallel(*steps: Any, merge: str = "stack", **kw: Any) -> Parallel:
    return Parallel(list(steps), merge=merge, **kw)


def diverter(*steps: Any, merge: str = "stack", **kw: Any) -> Diverter:
    return Diverter(list(steps), merge=merge, **kw)


def if_(cond: Any, then: Any, otherwise: Any = None, **kw: Any) -> If:
    return If(cond, then, otherwise, **kw)


def switch(cases: dict[str, Any], on: Any = None, default: Any = None, **kw: Any) -> Switch:
    return Switch(cases, on=on, default=default, **kw)


def loop(body: Any, until: Any = None, max_turns: int = 4, **kw: Any) -> Loop:
    return Loop(body, until=until, max_turns=max_turns, **kw)


def warp(body: Any, max_workers: int = 4, **kw: Any) -> Warp:
    return Warp(body, max_workers=max_workers, **kw)


def llm(target: str | None = None, **kw: Any) -> LLM:
    return LLM(target, **kw)


def retriever(index: str, retriever: str = "cosine", topk: int = 5, **kw: Any) -> Retriever:
    return Retriever(index, retriever, topk, **kw)


def rerank(topk: int = 3, **kw: Any) -> Rerank:
    return Rerank(topk, **kw)


def prompt(template: str, **kw: Any) -> Prompt:
    return Prompt(template, **kw)


def python(ref: str, folder: Path | None = None, **kw: Any) -> Python:
    return Python(ref, folder, **kw)


def fn(f: Callable[..., Any], **kw: Any) -> Fn:
    return Fn(f, **kw)
