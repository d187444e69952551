"""`answer`: retrieve, build the prompt with numbered sources, ask the LLM, map citations to files.

The LLM target resolves exactly like `lz chat`'s (`lazycli.targets.resolve_target`): a deployment,
a model name (started locally when needed), `provider[:model]`, a URL, or None for the default.
"""

from __future__ import annotations

from collections.abc import Iterator

from lazycli import trace
from lazycli.rag import prompt
from lazycli.rag.retrieval import DEFAULT_RETRIEVERS, Index

# Chosen with `lz eval` over benchmarks/data/lzdocs_answers.jsonl (docs/eval.md has the table).
DEFAULT_MAX_TOKENS = 64
DEFAULT_TEMPERATURE = 0.0


class AnswerStream:
    """Iterate for text deltas; afterwards `.result` holds the answer, sources and usage."""

    def __init__(
        self,
        client,
        question: str,
        results: list[dict],
        messages: list[dict],
        options: dict,
        *,
        style: str = prompt.DEFAULT_STYLE,
        quote_tokens: int = prompt.DEFAULT_QUOTE_TOKENS,
    ):
        self.client = client
        self.question = question
        self.results = results
        self.messages = messages
        self.options = options
        self.style = prompt.STYLES[style]
        self.quote_tokens = quote_tokens
        self.result: dict | None = None

    def __iter__(self) -> Iterator[str]:
        if not self.results:
            text = "No passage in the index matches this question."
            self.result = self._finish(text, None)
            yield text
            return
        parts = []
        if self.style.quote:
            # The best passage, quoted with its citation, comes first: right and sourced even when a
            # small model's summary below it is not.
            parts.append(prompt.quoted(self.question, self.results, self.quote_tokens))
            yield parts[0]
        if self.style.system is None:
            self.result = self._finish("".join(parts).rstrip(), None)
            return
        sent = dict(messages=self.messages, options=self.options)
        with trace.span("llm", "llm", input=self.question, **sent) as sp:
            for delta in self.client.complete(self.messages, stream=True, **self.options):
                parts.append(delta)
                yield delta
            sp.output = "".join(parts)
            trace.llm_result(self.client.last)
        self.result = self._finish("".join(parts), self.client.last)

    def _finish(self, text: str, completion) -> dict:
        return {
            "question": self.question,
            "answer": text,
            "sources": prompt.sources(self.results, text),
            "results": self.results,
            "model": getattr(completion, "model", None),
            "usage": getattr(completion, "usage", None) or {},
        }


def prepare(
    index: str | Index,
    question: str,
    *,
    llm: str | None = None,
    retrievers=DEFAULT_RETRIEVERS,
    topk: int = 5,
    fusion: str = "rrf",
    rerank: str | None = None,
    groups=None,
    context_tokens: int = prompt.DEFAULT_CONTEXT_TOKENS,
    style: str = prompt.DEFAULT_STYLE,
    quote_tokens: int = prompt.DEFAULT_QUOTE_TOKENS,
    client=None,
    announce=None,
    **options,
) -> AnswerStream:
    from lazycli.targets import resolve_target

    opened = index if isinstance(index, Index) else Index(index)
    with trace.span("retrieve", "retriever", input=question, index=opened.name, retrievers=list(retrievers),
                    topk=topk, fusion=fusion, rerank=rerank) as sp:  # fmt: skip
        results = sp.output = opened.search(
            question, retrievers=retrievers, topk=topk, fusion=fusion, rerank=rerank, groups=groups
        )
    style = prompt.check_style(style)
    if client is None and results and prompt.STYLES[style].system is not None:
        # `lz rag` (and rag steps) answer with the model they name: deployed when not running.
        client = resolve_target(llm, start=True, announce=announce)
    # Small local models can ramble until the context is full: cap the answer unless asked.
    if options.get("max_tokens") is None:
        options["max_tokens"] = DEFAULT_MAX_TOKENS
    if options.get("temperature") is None:
        options["temperature"] = DEFAULT_TEMPERATURE
    messages = prompt.messages(question, results, context_tokens, style, quote_tokens)
    return AnswerStream(client, question, results, messages, options, style=style, quote_tokens=quote_tokens)


def answer(index: str, question: str, *, llm: str | None = None, stream: bool = True, **kw):
    """stream=True: an AnswerStream (iterate for deltas, then `.result`); else the result dict."""
    pending = prepare(index, question, llm=llm, **kw)
    if stream:
        return pending
    for _ in pending:
        pass
    return pending.result
