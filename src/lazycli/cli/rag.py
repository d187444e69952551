"""`lz rag --index NAME [QUESTION]` (answers with cited sources) and `lz rag eval` (retrieval metrics).

`lz rag …` is shorthand for `lz rag ask …`: a first word that is not a subcommand starts `ask`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from lazycli.cli._groups import DefaultCommandGroup
from lazycli.console import console, err_console, is_tty, note, print_json, want_json


class RagGroup(DefaultCommandGroup):
    """`lz rag --index kb "q"` means `lz rag ask --index kb "q"`."""

    default_command = "ask"
    order = ("ask", "eval")


app = typer.Typer(
    cls=RagGroup,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="""Answer questions from an index with cited sources; measure retrieval quality.

\b
Examples:
  lz rag --index kb "How do I rotate the keys?"       streamed answer + sources
  lz rag --index kb                                   a REPL
  lz rag --index kb "长城是什么时候修建的" --retriever bm25_chinese --retriever cosine
  lz rag --index kb "q" --retrieve-only --json         just the passages
  lz rag --index kb "q" --llm qwen:qwen-plus --rerank qwen:gte-rerank
  lz rag eval --index kb --qa qa.jsonl --k 1,5,10 --json
""",
)

_RETRIEVER_HELP = (
    "Retriever: cosine, bm25, bm25_chinese; repeatable or comma-separated (default cosine,bm25)."
)


def _retrievers(values: list[str]) -> tuple[str, ...]:
    names = [part.strip() for v in values for part in v.split(",") if part.strip()]
    return tuple(dict.fromkeys(names)) or ("cosine", "bm25")


@app.command("ask")
def ask(
    question: str | None = typer.Argument(None, help="The question (none: a REPL; '-' reads stdin)."),
    index: str = typer.Option(..., "--index", "-i", help="Index name (`lz index ls`)."),
    llm: str | None = typer.Option(
        None, "--llm", help="LLM target like `lz chat`'s: deployment, model, provider[:model], URL."
    ),
    retriever: list[str] = typer.Option([], "--retriever", "-r", help=_RETRIEVER_HELP),
    topk: int = typer.Option(5, "--topk", "-k", min=1, help="Passages to use."),
    fusion: str = typer.Option("rrf", "--fusion", help="Fusion of retriever lists: rrf or weighted."),
    rerank: str | None = typer.Option(
        None, "--rerank", help="Reranker: a local cross-encoder model, a plugin, a deployment, provider:model"
    ),
    group: list[str] = typer.Option([], "--group", "-g", help="Node groups to search (default: all)."),
    show_context: bool = typer.Option(False, "--show-context", help="Print the passages before the answer."),
    retrieve_only: bool = typer.Option(False, "--retrieve-only", help="Print the passages; no LLM."),
    context_tokens: int = typer.Option(400, "--context-tokens", min=64, help="Token budget for passages."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Limit the answer length."),
    json_: bool = typer.Option(False, "--json", help="Print JSON (answer, sources, results)."),
) -> None:
    """Answer QUESTION from index NAME: retrieve, fuse, (rerank), prompt with numbered sources.

    \b
    Examples:
      lz rag --index kb "What does the warranty cover?"
      lz rag --index kb "q" --retriever cosine --topk 3 --show-context
      lz rag --index kb "q" --retrieve-only --json | jq '.results[].source'
      echo "q" | lz rag --index kb -
    """
    from lazycli.rag.retrieval import Index

    opened = Index(index)
    search = dict(
        retrievers=_retrievers(retriever), topk=topk, fusion=fusion, rerank=rerank, groups=group or None
    )
    if question == "-" or (question is None and not sys.stdin.isatty()):
        question = sys.stdin.read().strip()
    if question is not None:
        _one(opened, question, search, llm, show_context, retrieve_only, context_tokens, max_tokens, json_)
        return
    _repl(opened, search, llm, show_context, retrieve_only, context_tokens, max_tokens)


def _one(
    opened, question, search, llm, show_context, retrieve_only, context_tokens, max_tokens, json_, client=None
):
    from lazycli.errors import LzError

    if not question.strip():
        raise LzError("empty question", hint='lz rag --index NAME "your question"')
    if retrieve_only:
        results = opened.search(question, **search)
        if want_json(json_):
            print_json({"results": results})
        else:
            _print_results(results)
        return client
    from lazycli import settings, trace
    from lazycli.rag.answering import prepare

    # The exchange and its steps (retrieval with scores, the prompt, tokens) go to `lz logs`.
    enabled = settings.get().chat_log
    with trace.recording("rag", opened.name, question, target=llm, enabled=enabled, warn=note) as t:
        pending = prepare(
            opened,
            question,
            llm=llm,
            client=client,
            context_tokens=context_tokens,
            max_tokens=max_tokens,
            **search,
        )
        if want_json(json_):
            for _ in pending:
                pass
            print_json(pending.result)
        else:
            if show_context:
                _print_results(pending.results)
            out = sys.stdout
            for delta in pending:
                out.write(delta)
                out.flush()
            out.write("\n")
            _print_sources(pending.result["sources"])
        t.output, t.sources = pending.result["answer"], pending.results
        t.target = getattr(pending.client, "target", None) or llm
    return pending.client


def _print_results(results: list[dict]) -> None:
    from lazycli.rag.prompt import label

    out = console()
    if not results:
        out.print("no matching passages")
    for n, r in enumerate(results, start=1):
        out.print(
            f"[bold][{n}][/bold] {label(r)}  [dim]{r['group']} score {r['score']:.4f}  {r['source']}[/dim]"
        )
        out.print(r["text"].strip(), markup=False)
        out.print()


def _print_sources(sources: list[dict]) -> None:
    if not sources:
        return
    out = console()
    out.print("[bold]Sources:[/bold]")
    for s in sources:
        mark = "" if s["cited"] else "  [dim](not cited)[/dim]"
        out.print(f"  [{s['n']}] {s['label']}  [dim]{s['source']}[/dim]{mark}", highlight=False)


def _repl(opened, search, llm, show_context, retrieve_only, context_tokens, max_tokens) -> None:
    note(f"index {opened.name!r}: ask a question; an empty line or Ctrl-D quits")
    client = None
    while True:
        try:
            err_console().print("[bold]?[/bold] ", end="")
            question = input()
        except EOFError:
            break
        if not question.strip():
            break
        client = _one(opened, question, search, llm, show_context, retrieve_only, context_tokens, max_tokens,
                      False, client)  # fmt: skip
    if is_tty(sys.stderr):
        err_console().print()


@app.command("eval")
def eval_(
    index: str = typer.Option(..., "--index", "-i", help="Index name."),
    qa: Path = typer.Option(..., "--qa", help='JSONL of {"q": question, "sources": [file names]}.'),
    k: str = typer.Option("1,5,10", "--k", help="Cut-offs for hit@k and recall@k, comma-separated."),
    retriever: list[str] = typer.Option([], "--retriever", "-r", help=_RETRIEVER_HELP),
    fusion: str = typer.Option("rrf", "--fusion", help="rrf or weighted."),
    rerank: str | None = typer.Option(None, "--rerank", help="Reranker (as for `lz rag`)."),
    group: list[str] = typer.Option([], "--group", "-g", help="Node groups to search (default: all)."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Retrieval metrics over a QA set: hit@k, source recall@k, MRR, nDCG@10 (`lz eval --retrieve-only`).

    hit@k: 1 when any listed source is among the top k; recall@k: the share of the listed sources
    found in the top k (the two differ when a question lists several sources).

    \b
    Examples:
      lz rag eval --index kb --qa qa.jsonl
      lz rag eval --index kb --qa qa.jsonl --retriever bm25 --k 1,3,10 --json
    """
    from lazycli import eval as lzeval
    from lazycli.errors import LzError
    from lazycli.eval import data, metrics, targets

    try:
        ks = sorted({int(part) for part in k.split(",") if part.strip()})
    except ValueError:
        raise LzError(f"bad --k {k!r}", hint="comma-separated integers, e.g. 1,5,10") from None
    if not ks or min(ks) < 1:
        raise LzError(f"bad --k {k!r}", hint="positive integers, e.g. 1,5,10")
    rows = data.load(qa)
    names = [f"{kind}@{n}" for n in ks for kind in ("hit", "recall")] + ["mrr", "ndcg@10"]
    chosen = metrics.parse(names)
    metrics.check_rows(chosen, rows, qa)
    search = dict(retrievers=_retrievers(retriever), fusion=fusion, rerank=rerank, groups=group or None)
    target = targets.RetrievalTarget(index, topk=max([*ks, 10]), search=search)
    report = lzeval.evaluate(target, rows, chosen, data=str(qa), cache=lzeval.CallCache(enabled=False))
    out: dict = {"n": len(rows)}
    out.update({a.metric: round(a.mean, 4) for a in report.aggregates if a.mean is not None})
    if want_json(json_):
        print_json(out)
        return
    shown = console()
    for key, value in out.items():
        shown.print(f"{key:10} {value}")
