"""Turn a recipe's `[app]` into a `lazycli.flow` tree, with its model and index names resolved.

`[models.KEY]` names in llm nodes become the target the runner produced for that key (a
deployment name or provider:model); `[indexes.KEY]` names become the lz index name; `${…}`
references are filled from the runner's results.
"""

from __future__ import annotations

from typing import Any

from lazycli import flow
from lazycli.recipes import schema
from lazycli.recipes.loader import LoadedRecipe
from lazycli.recipes.refs import resolve_refs


def compile_app(loaded: LoadedRecipe, results: dict[str, Any], *, client_factory=None) -> flow.Node:
    """The app as one flow node (a pipeline of its steps)."""
    if loaded.spec.app is None:
        from lazycli.errors import LzError

        raise LzError(f"{loaded.path}: the recipe has no [app]", hint="add [[app.steps]] to run or serve it")
    builder = _Builder(loaded, results, client_factory)
    return flow.Pipeline([builder.node(n) for n in loaded.spec.app.steps])


class _Builder:
    def __init__(self, loaded: LoadedRecipe, results: dict[str, Any], client_factory) -> None:
        self.loaded = loaded
        self.results = results
        self.client_factory = client_factory

    def value(self, value: Any) -> Any:
        return resolve_refs(value, self.results)

    def node(self, spec: Any) -> flow.Node:
        kw = {"name": spec.name, "binds": dict(spec.bind)}
        build = getattr(self, "_" + spec.type)
        return build(spec, kw)

    def _maybe(self, spec: Any) -> flow.Node | None:
        return self.node(spec) if spec is not None else None

    def _pipeline(self, spec: schema.PipelineNode, kw) -> flow.Node:
        return flow.Pipeline([self.node(s) for s in spec.steps], **kw)

    def _parallel(self, spec: schema.ParallelNode, kw) -> flow.Node:
        return flow.Parallel([self.node(s) for s in spec.steps], merge=spec.merge, sep=spec.sep, **kw)

    def _diverter(self, spec: schema.DiverterNode, kw) -> flow.Node:
        return flow.Diverter([self.node(s) for s in spec.steps], merge=spec.merge, sep=spec.sep, **kw)

    def _if(self, spec: schema.IfNode, kw) -> flow.Node:
        cond = self._maybe(spec.cond)
        if cond is None:
            needle = spec.contains or ""
            cond = flow.Fn(lambda value: needle.lower() in flow.to_text(value).lower())
        return flow.If(cond, self.node(spec.then), self._maybe(spec.otherwise), **kw)

    def _switch(self, spec: schema.SwitchNode, kw) -> flow.Node:
        cases = {k: self.node(v) for k, v in spec.cases.items()}
        return flow.Switch(cases, on=self._maybe(spec.on), default=self._maybe(spec.default), **kw)

    def _loop(self, spec: schema.LoopNode, kw) -> flow.Node:
        until = self._maybe(spec.until)
        if until is None and spec.until_contains:
            needle = spec.until_contains
            until = flow.Fn(lambda value: needle in flow.to_text(value))
        return flow.Loop(self.node(spec.body), until=until, max_turns=spec.max_turns, **kw)

    def _warp(self, spec: schema.WarpNode, kw) -> flow.Node:
        return flow.Warp(self.node(spec.body), max_workers=spec.max_workers, **kw)

    def _llm(self, spec: schema.LLMNode, kw) -> flow.Node:
        return flow.LLM(
            self.target(spec.model),
            prompt=spec.prompt,
            system=spec.system,
            formatter=spec.formatter,
            options=self.value(spec.options),
            history=spec.history,
            client_factory=self.client_factory,
            **kw,
        )

    def _retriever(self, spec: schema.RetrieverNode, kw) -> flow.Node:
        return flow.Retriever(self.index(spec.index), spec.retriever, spec.topk, groups=spec.groups, **kw)

    def _rerank(self, spec: schema.RerankNode, kw) -> flow.Node:
        target = self.target(spec.target) if spec.target else None
        return flow.Rerank(spec.topk, model=spec.model, backend=spec.backend, target=target, **kw)

    def _prompt(self, spec: schema.PromptNode, kw) -> flow.Node:
        return flow.Prompt(self.value(spec.template), **kw)

    def _python(self, spec: schema.PythonNode, kw) -> flow.Node:
        return flow.Python(spec.function, self.loaded.folder, args=self.value(spec.args), **kw)

    def _agent(self, spec: schema.AgentNode, kw) -> flow.Node:
        tools = [self.tool(t, spec.tool_timeout, i) for i, t in enumerate(spec.tools)]
        return flow.AgentStep(
            self.target(spec.model),
            tools,
            kind=spec.kind,
            prompt=self.value(spec.prompt),
            system=self.value(spec.system),
            max_steps=spec.max_steps,
            stop_contains=spec.stop_contains,
            stop_tool=spec.stop_tool,
            options=self.value(spec.options),
            json_mode=spec.json_mode,
            history=spec.history,
            output=spec.output,
            client_factory=self.client_factory,
            **kw,
        )

    def _stt(self, spec: schema.SttNode, kw) -> flow.Node:
        from lazycli.media.flow import Transcribe

        return Transcribe(self.target(spec.model), language=spec.language, **kw)

    def _tts(self, spec: schema.TtsNode, kw) -> flow.Node:
        from lazycli.media.flow import Speak

        save_to = self.loaded.folder / self.value(spec.save_to) if spec.save_to else None
        return Speak(
            self.target(spec.model),
            voice=spec.voice,
            speed=spec.speed,
            output=spec.output,
            save_to=save_to,
            **kw,
        )

    def _ocr(self, spec: schema.OcrNode, kw) -> flow.Node:
        from lazycli.media.flow import Read

        return Read(self.target(spec.model), **kw)

    def tool(self, spec: str | schema.ToolSpec, default_timeout: float | None, index: int):
        """A `module:function` string or a tool table as an agents.Tool."""
        from lazycli.agents import load_tool, node_tool

        if isinstance(spec, str):
            return load_tool(spec, self.loaded.folder, timeout=default_timeout)
        timeout = spec.timeout or default_timeout
        if spec.function:
            return load_tool(
                spec.function,
                self.loaded.folder,
                name=spec.name or spec.function.partition(":")[2],
                description=spec.description,
                timeout=timeout,
            )
        node = self.node(spec.node)
        name = spec.name or spec.node.name or f"{spec.node.type}_{index}"
        description = spec.description or f"a {spec.node.type} step"
        if isinstance(node, flow.AgentStep) and not spec.node.name:
            node.agent.name = name  # its steps in the trace carry the tool's name, not "agent"
        return node_tool(node, name=name, description=description, timeout=timeout)

    def target(self, model: str | None) -> str | None:
        """A [models] key → what the runner made of it; anything else goes to resolve_target as is."""
        model = self.value(model)
        if model is None and len(self.loaded.spec.models) == 1:
            model = next(iter(self.loaded.spec.models))  # the recipe's only model is the obvious one
        result = self.results.get("models", {}).get(model) if model else None
        return result["target"] if result else model

    def index(self, key: str) -> str:
        key = self.value(key)
        result = self.results.get("indexes", {}).get(key)
        return result["name"] if result else key
