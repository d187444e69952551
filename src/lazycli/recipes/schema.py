"""The recipe schema (pydantic): what a recipe TOML file may hold, documented field by field.

    name = "rag"
    [models.llm]            # a model to deploy (or a provider to call)
    model = "smollm2-135m-instruct"
    [indexes.kb]            # an index to build (incrementally) from files next to the recipe
    paths = ["docs"]
    [[steps]]               # extra verbs to run in order: download, index, deploy, finetune, …
    verb = "download"
    args = { model = "all-minilm-l6-v2" }
    [app]                   # the application: a pipeline of flow nodes
    [[app.steps]]
    type = "retriever"
    index = "kb"
    [serve]                 # how `lz serve` exposes it
    [eval]                  # a QA set to score the app with

Strings may use `${ENV_VAR}` (non-secret settings only) and `${models.llm.url}`-style references
to results of earlier models, indexes and steps. Secrets are never written in a recipe: name the
key (`key = "openai"`) and store it with `lz keys set`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lazycli.settings import HttpUrl


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ModelSpec(_Strict):
    """A model the app uses: deployed with an engine on a launcher, or called at a provider."""

    model: str = Field(
        description="Catalogue name, org/name hub id or a local path (for a provider: its model)"
    )
    provider: str | None = Field(
        None, description="Online provider (openai, glm, qwen, …): nothing is deployed"
    )
    key: str | None = Field(
        None, description="Stored key name (`lz keys set NAME`) or env var holding it; never the key itself"
    )
    engine: str | None = Field(None, description="Engine for `lz deploy` (default: auto)")
    launcher: str | None = Field(None, description="Launcher for `lz deploy` (default: the configured one)")
    name: str | None = Field(None, description="Deployment name (default: the deploy verb's own choice)")
    port: int | None = Field(None, ge=1, le=65535, description="Pin the port (default: a free one)")
    gpus: int = Field(0, ge=0, description="GPUs for the engine (tensor parallel)")
    options: dict[str, Any] = Field(default_factory=dict, description="Engine options (as `lz deploy --set`)")
    timeout: float | None = Field(None, gt=0, description="Seconds to wait for the engine to turn healthy")
    deploy: bool = Field(True, description="false: only make sure the model is on disk (e.g. an embedder)")
    url: HttpUrl | None = Field(
        None,
        description="An OpenAI-compatible server already serving it (a cluster Service): nothing deployed",
    )


class IndexSpec(_Strict):
    """An index built with `lz index` (incremental: unchanged files are skipped on later runs)."""

    paths: list[str] = Field(min_length=1, description="Files or folders, relative to the recipe's folder")
    name: str | None = Field(None, description="Index name in lz (default: the table key)")
    embed: str | None = Field(None, description="Embedding model or provider:model (default: settings)")
    groups: list[str] | None = Field(None, description="Node groups NAME:SIZE:OVERLAP (default: the verb's)")
    include: list[str] = Field(default_factory=list, description="Glob patterns of files to take")
    exclude: list[str] = Field(default_factory=list, description="Glob patterns of files to skip")


class StepSpec(_Strict):
    """One verb run in order; its result is `steps.NAME` for later values."""

    verb: Literal["download", "index", "deploy", "finetune", "chat", "rag", "sweep", "lz"] = Field(
        description="download | index | deploy run in-process; others run as `lz VERB ARGV…`"
    )
    name: str | None = Field(None, description="Name for references (default: the step's position)")
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the verb")
    argv: list[str] = Field(default_factory=list, description="Extra command-line words for `lz VERB`")


# --- app nodes ----------------------------------------------------------------------------------


class _Node(_Strict):
    name: str | None = Field(None, description="Name of this step's output, for later `bind`s")
    bind: dict[str, str] = Field(
        default_factory=dict, description="keyword → 'input' | 'NAME' | 'NAME.key': earlier outputs"
    )


class PipelineNode(_Node):
    """Steps in order, each getting the previous one's output."""

    type: Literal["pipeline"]
    steps: list[Node] = Field(min_length=1)


class ParallelNode(_Node):
    """Every step gets the same input; outputs merged."""

    type: Literal["parallel"]
    steps: list[Node] = Field(min_length=1)
    merge: Literal["stack", "tuple", "sum", "dict", "join"] = Field(
        "stack", description="stack/tuple: a list; sum: a + b; dict: {name: output}; join: strings"
    )
    sep: str = Field("\n", description="Separator for merge = 'join'")


class DiverterNode(ParallelNode):
    """Step i gets item i of a list input."""

    type: Literal["diverter"]  # type: ignore[assignment]


class IfNode(_Node):
    """`then` when the condition holds, else `else` (or the input unchanged)."""

    type: Literal["if"]
    cond: Node | None = Field(None, description="A node whose output decides (truthy)")
    contains: str | None = Field(None, description="Shortcut condition: the input contains this text")
    then: Node
    otherwise: Node | None = Field(None, alias="else")


class SwitchNode(_Node):
    """`on` (or the input itself) picks a case by its text."""

    type: Literal["switch"]
    on: Node | None = None
    cases: dict[str, Node] = Field(min_length=1)
    default: Node | None = None


class LoopNode(_Node):
    """Feed `body` its own output until `until` holds or `max_turns` turns ran."""

    type: Literal["loop"]
    body: Node
    until: Node | None = None
    until_contains: str | None = Field(None, description="Stop when the output contains this text")
    max_turns: int = Field(4, ge=1, le=1000)


class WarpNode(_Node):
    """Map `body` over every item of a list input, in parallel."""

    type: Literal["warp"]
    body: Node
    max_workers: int = Field(4, ge=1, le=256)


class LLMNode(_Node):
    """A chat model: a `[models.X]` key, a deployment, a catalogue name, provider:model or a URL."""

    type: Literal["llm"]
    model: str | None = Field(None, description="models.KEY key, deployment, model, provider:model or URL")
    prompt: str | None = Field(None, description="Template: {input} {query} {context} and bound names")
    system: str | None = None
    formatter: Literal["text", "strip", "json", "lines"] = Field(
        "text", description="json: the first JSON value in the answer; lines: a list of non-empty lines"
    )
    history: bool = Field(False, description="Send the chat history (served chat apps) before the prompt")
    options: dict[str, Any] = Field(default_factory=dict, description="temperature, max_tokens, stop, …")


class RetrieverNode(_Node):
    """Documents for the input from an index (`[indexes.KEY]` key or an `lz index` name)."""

    type: Literal["retriever"]
    index: str
    retriever: str = Field("cosine", description="cosine | bm25 | bm25_chinese | …")
    topk: int = Field(5, ge=1, le=1000)
    groups: list[str] | None = None


class RerankNode(_Node):
    """Best `topk` documents: RRF over lists, or a cross-encoder when `model` is set."""

    type: Literal["rerank"]
    topk: int = Field(3, ge=1, le=1000)
    model: str | None = Field(None, description="Reranking model (none: reciprocal-rank fusion only)")
    backend: str = Field("cross-encoder", description="Reranker backend for `model`: cross-encoder | remote")
    target: str | None = Field(None, description="Rerank at a provider/deployment instead (provider:model)")


class PromptNode(_Node):
    """Text from a template: {input} {query} {context} and bound names."""

    type: Literal["prompt"]
    template: str


class PythonNode(_Node):
    """`module:function(input, **args, **bound)` from the recipe's folder or an installed package."""

    type: Literal["python"]
    function: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", description="module:function")
    args: dict[str, Any] = Field(default_factory=dict)


class SttNode(_Node):
    """Speech to text: audio (a path for `lz run`, a data URL when served) in, its words out."""

    type: Literal["stt"]
    model: str | None = Field(None, description="[models] key, stt deployment, model or URL")
    language: str | None = None


class TtsNode(_Node):
    """Text to speech: text in, {"text", "audio", "seconds"} out (audio: a WAV path or a data URL)."""

    type: Literal["tts"]
    model: str | None = Field(None, description="[models] key, tts deployment, model or URL")
    voice: str | None = Field(None, description="alloy, nova, echo, onyx, fable, shimmer, or the engine's")
    speed: float = Field(1.0, ge=0.25, le=4.0)
    output: Literal["auto", "path", "data_url"] = Field(
        "auto", description="auto: a path under `save_to` for `lz run`, a data URL when served"
    )
    save_to: str | None = Field(None, description="Folder for the WAV files, relative to the recipe")


class OcrNode(_Node):
    """OCR: an image (a path for `lz run`, a data URL when served) in, its text out."""

    type: Literal["ocr"]
    model: str | None = Field(None, description="[models] key, ocr deployment, model or URL")


class ToolSpec(_Strict):
    """A tool of an agent: a Python function, or a recipe component (another agent, an llm, a
    retriever, a pipeline…) that takes one string."""

    function: str | None = Field(
        None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", description="module:function (recipe folder first)"
    )
    node: Node | None = Field(None, description="A component run as the tool (its input: one string)")
    name: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Tool name (default: the function's or node's)"
    )
    description: str | None = Field(None, description="What the model is told it does (default: docstring)")
    timeout: float | None = Field(None, gt=0, description="Seconds before a call is abandoned (default 60)")

    @model_validator(mode="after")
    def _one_source(self) -> ToolSpec:
        if (self.function is None) == (self.node is None):
            raise ValueError("a tool needs exactly one of 'function' (module:function) or 'node' (a step)")
        return self


class AgentNode(_Node):
    """A model that calls tools in a loop until it answers (`lazycli.agents`)."""

    type: Literal["agent"]
    kind: Literal["function_call", "react", "plan_and_solve", "rewoo"] = Field(
        "function_call",
        description="function_call: native tool calls; react: a text protocol for models without them; "
        "plan_and_solve: plan, solve each step, answer; rewoo: plan the calls, run them, answer",
    )
    model: str | None = Field(None, description="models.KEY key, deployment, model, provider:model or URL")
    tools: list[ToolSpec] = Field(
        default_factory=list, description="module:function strings, or tables (function | node, name…)"
    )
    system: str | None = Field(None, description="System prompt")
    prompt: str | None = Field(None, description="Template for the question: {input} {query} and bound names")
    max_steps: int = Field(8, ge=1, le=100, description="Model turns at most; then it stops and says so")
    stop_contains: str | None = Field(None, description="Stop as soon as the model's text contains this")
    stop_tool: str | None = Field(None, description="Stop when this tool is called: its result is the answer")
    tool_timeout: float | None = Field(None, gt=0, description="Default seconds per tool call (default 60)")
    json_mode: bool = Field(
        False, description="react: ask for JSON steps constrained by a schema (llama.cpp response_format)"
    )
    history: bool = Field(False, description="Send the chat history (served chat apps) before the question")
    output: Literal["answer", "tool_results"] = Field(
        "answer", description="answer: its final answer; tool_results: {tool name: result} for a later step"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="temperature, max_tokens, …")

    @field_validator("tools", mode="before")
    @classmethod
    def _strings_are_functions(cls, value: Any) -> Any:
        # "module:function" is short for { function = "module:function" }: one shape to validate,
        # so an error names the field that is wrong rather than every branch of a union.
        if isinstance(value, list):
            return [{"function": v} if isinstance(v, str) else v for v in value]
        return value


Node = Annotated[
    PipelineNode
    | ParallelNode
    | DiverterNode
    | IfNode
    | SwitchNode
    | LoopNode
    | WarpNode
    | LLMNode
    | RetrieverNode
    | RerankNode
    | PromptNode
    | PythonNode
    | AgentNode
    | SttNode
    | TtsNode
    | OcrNode,
    Field(discriminator="type"),
]

NODE_TYPES = {
    "pipeline": PipelineNode, "parallel": ParallelNode, "diverter": DiverterNode, "if": IfNode,
    "switch": SwitchNode, "loop": LoopNode, "warp": WarpNode, "llm": LLMNode, "retriever": RetrieverNode,
    "rerank": RerankNode, "prompt": PromptNode, "python": PythonNode, "agent": AgentNode,
    "stt": SttNode, "tts": TtsNode, "ocr": OcrNode,
}  # fmt: skip

for _cls in NODE_TYPES.values():
    _cls.model_rebuild()
ToolSpec.model_rebuild()


class AppSpec(_Strict):
    """The application: `steps` run as a pipeline on the input (a chat message or JSON)."""

    name: str | None = Field(None, description="Model name it is served as (default: the recipe's name)")
    description: str = ""
    steps: list[Node] = Field(min_length=1)


class ServeSpec(_Strict):
    """How `lz serve RECIPE` exposes the app (flags win)."""

    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=0, le=65535)
    api_key_env: str | None = Field(None, description="Env var holding the API key clients must send")
    max_concurrency: int = Field(128, ge=1, description="Requests at once; more get 429")
    timeout: float = Field(300.0, gt=0, description="Seconds per request before 504")
    max_body: int = Field(1_000_000, ge=1024, description="Largest request body in bytes (413 above)")
    embed: str | None = Field(
        None, description="Target that answers /v1/embeddings (model or provider:model)"
    )


class EvalSpec(_Strict):
    """A QA set (JSONL with question and answer) the app is scored on."""

    qa: str = Field(description="JSONL file, relative to the recipe's folder")
    metric: Literal["contains", "exact"] = "contains"
    limit: int | None = Field(None, ge=1)


class SweepSpec(_Strict):
    """What `lz sweep RECIPE` tries (flags win): values per recipe key, scored by `lz eval`."""

    grid: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted recipe key (or nested tables) → list of values; every combination is tried",
    )
    paired: list[dict[str, Any]] = Field(
        default_factory=list, description="Groups of keys whose value lists vary together (equal lengths)"
    )
    eval: str | None = Field(None, description="JSONL eval set, relative to the recipe (default: [eval].qa)")
    metrics: list[str] = Field(default_factory=list, description="Metrics of `lz eval`; the first one ranks")
    judge: str | None = Field(
        None, description="Target that judges the judged metrics (as `lz eval --judge`)"
    )
    jobs: int = Field(1, ge=1, le=256, description="Trials running at once")
    repeat: int = Field(1, ge=1, le=100, description="Runs per configuration (mean ± std)")
    random: int | None = Field(None, ge=1, description="Try this many configurations drawn at random")
    seed: int = Field(0, description="Seed of the random draw and of the trials")
    budget: dict[str, float] = Field(
        default_factory=dict, description="Stop starting trials past any of: trials, time (s), tokens"
    )
    min_score: float | None = Field(None, description="Fail (exit 1) when the best score is below")
    target: float | None = Field(None, description="Stop early once a configuration reaches this score")


class Recipe(_Strict):
    """A recipe: models, indexes, steps, an app, how to serve and evaluate it."""

    name: str | None = Field(None, description="Recipe name (default: the file's stem)")
    description: str = ""
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    indexes: dict[str, IndexSpec] = Field(default_factory=dict)
    steps: list[StepSpec] = Field(default_factory=list)
    app: AppSpec | None = None
    serve: ServeSpec = Field(default_factory=ServeSpec)
    eval: EvalSpec | None = None
    sweep: SweepSpec | None = None


def json_schema() -> dict[str, Any]:
    schema = Recipe.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "lazycli recipe"
    return schema
