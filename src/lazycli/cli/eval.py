"""`lz eval TARGET --data FILE`: score answers (and retrieval) of a recipe, deployment, model,
provider:model or URL on a JSONL set, with deterministic and judged metrics and a call cache."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

app = typer.Typer(add_completion=False, rich_markup_mode=None)

_FORMAT_HELP = "Print the report as {}; --output FILE writes it (format by extension) only when complete."


@app.command()
def eval_(
    target: str = typer.Argument(
        None, help="Recipe (.toml), deployment, model, provider[:model] or URL (omit with --retrieve-only)."
    ),
    data: Path = typer.Option(
        ..., "--data", "-d", help='JSONL rows: {"q", "answer", "facts", "sources", "context"}.'
    ),
    metric: list[str] = typer.Option([], "--metric", "-m", help="Metrics, comma-separated or repeated."),
    judge: str | None = typer.Option(None, "--judge", help="Target that judges the judged metrics."),
    index: str | None = typer.Option(None, "--index", "-i", help="Answer from this index, as `lz rag` does."),
    retrieve_only: bool = typer.Option(False, "--retrieve-only", help="Score the index's retrieval alone."),
    retriever: list[str] = typer.Option(
        [], "--retriever", "-r", help="Retrievers for --index (as `lz rag`)."
    ),
    topk: int | None = typer.Option(None, "--topk", "-k", min=1, help="Passages to use with --index."),
    context_tokens: int | None = typer.Option(
        None, "--context-tokens", min=64, help="Token budget for passages."
    ),
    prompt_style: str | None = typer.Option(None, "--prompt", help="RAG prompt template (see docs/eval.md)."),
    temperature: float | None = typer.Option(None, "--temperature", help="Sampling temperature."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Answer length limit."),
    repeat_penalty: float | None = typer.Option(
        None, "--repeat-penalty", help="Repetition penalty (llama.cpp)."
    ),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe value (recipe targets)."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Rows evaluated at once."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N rows."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Call every model again; store nothing."),
    min_score: list[str] = typer.Option(
        [], "--min-score", help="METRIC=VALUE: exit 1 when the mean is below."
    ),
    show_prompts: bool = typer.Option(False, "--show-prompts", help="Print the judge prompts and exit."),
    json_: bool = typer.Option(False, "--json", help=_FORMAT_HELP.format("JSON")),
    csv_: bool = typer.Option(False, "--csv", help=_FORMAT_HELP.format("CSV (one line per row)")),
    md: bool = typer.Option(False, "--md", help=_FORMAT_HELP.format("Markdown")),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the report here (.json/.csv/.md/.txt)."
    ),
) -> None:
    """Score TARGET on the rows of --data: per-row results, then each metric's mean with a 95% CI.

    \b
    Metrics: exact, contains, all-facts, facts, regex, f1, citation, cited-source; retrieval:
    hit@K, recall@K, mrr, ndcg@K; judged (--judge): faithfulness, answer-relevancy,
    context-recall, context-precision. Model calls are cached on disk (--no-cache).

    \b
    Examples:
      lz eval recipes/rag.toml --data qa.jsonl --metric all-facts,faithfulness --judge mylab
      lz eval smollm2-135m-instruct --index lzdocs --data benchmarks/data/lzdocs_answers.jsonl
      lz eval qwen:qwen-plus --data qa.jsonl --metric contains,f1 -j 4 --md -o report.md
      lz eval --retrieve-only --index kb --data qa.jsonl --metric hit@5,recall@5,mrr,ndcg@10
      lz eval recipes/rag.toml --data qa.jsonl --metric all-facts --min-score all-facts=0.8
    """
    from lazycli.console import options
    from lazycli.errors import LzError
    from lazycli.eval import data as eval_data
    from lazycli.eval import metrics as eval_metrics

    if sum([json_, csv_, md]) > 1:
        raise LzError("choose one of --json, --csv, --md")
    if json_ or csv_ or md:
        options.json = True  # machine output: no notes or progress on stderr
    if output is not None and output.suffix.lower() not in (".json", ".csv", ".md", ".txt"):
        raise LzError(
            f"--output {output}: unknown format {output.suffix!r}", hint="use .json, .csv, .md or .txt"
        )
    chosen = eval_metrics.parse(metric)
    thresholds = _thresholds(min_score, chosen)
    if show_prompts:
        _show_prompts(chosen)
        return
    rows = eval_data.load(data, limit=limit)
    from lazycli.eval import CallCache, evaluate

    cache = CallCache(enabled=not no_cache)
    rag = _rag_options(retriever, topk, context_tokens, prompt_style)
    gen = {"temperature": temperature, "max_tokens": max_tokens, "repeat_penalty": repeat_penalty}
    built = _target(target, index, retrieve_only, cache, rag, gen, set_, topk)
    if not chosen:
        chosen = eval_metrics.default_for(rows, built.retrieves)
        if not chosen:
            raise LzError(
                f"{data}: no metric applies to these rows", hint="give --metric, e.g. --metric contains"
            )
    eval_metrics.check_rows(chosen, rows, data)
    if judge:
        _check_judge(judge)
    report = evaluate(
        built,
        rows,
        chosen,
        data=str(data),
        judge=judge,
        cache=cache,
        jobs=jobs,
        progress=_progress(len(rows)),
    )
    cache.close()
    _emit(report, json_, csv_, md, output)
    _verdict(report, thresholds)


def _rag_options(retriever, topk, context_tokens, prompt_style) -> dict:
    rag: dict = {}
    names = [p.strip() for v in retriever for p in v.split(",") if p.strip()]
    if names:
        rag["retrievers"] = tuple(dict.fromkeys(names))
    if topk is not None:
        rag["topk"] = topk
    if context_tokens is not None:
        rag["context_tokens"] = context_tokens
    if prompt_style is not None:
        from lazycli.rag.prompt import check_style

        rag["style"] = check_style(prompt_style)
    return rag


def _target(target, index, retrieve_only, cache, rag, gen, sets, topk):
    from lazycli.errors import LzError
    from lazycli.eval import targets

    if retrieve_only:
        if not index:
            raise LzError(
                "--retrieve-only needs --index NAME",
                hint="lz eval --retrieve-only --index kb --data qa.jsonl",
            )
        search = {k: v for k, v in rag.items() if k == "retrievers"}
        return targets.RetrievalTarget(index, topk=max(topk or 10, 10), search=search)
    if not target:
        raise LzError(
            "no TARGET given", hint="a recipe, deployment, model, provider:model or URL; or --retrieve-only"
        )
    options = {k: v for k, v in gen.items() if v is not None}
    if target.endswith(".toml") or Path(target).is_file():
        if index:
            raise LzError("--index is for chat targets; a recipe's app does its own retrieval")
        return targets.RecipeTarget(target, cache, sets=sets)
    from lazycli import targets as client_targets

    client_targets.require(target)  # any model, even one to download: `lz eval MODEL` deploys it
    if index:
        from lazycli.rag.retrieval import Index

        Index(index)  # an unknown index is a user error now, not one per row
    return targets.ChatTarget(target, cache, index=index, rag=rag, options=options)


def _check_judge(judge: str) -> None:
    from lazycli import targets as client_targets

    client_targets.require(judge, known_only=True)


def _thresholds(specs: list[str], chosen) -> dict[str, float]:
    from lazycli.errors import LzError
    from lazycli.eval.metrics import resolve

    out: dict[str, float] = {}
    for spec in specs:
        name, eq, value = spec.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not eq or number is None:
            raise LzError(f"bad --min-score {spec!r}", hint="METRIC=VALUE, e.g. --min-score all-facts=0.8")
        metric = resolve(name)
        if chosen and metric.name not in {m.name for m in chosen}:
            raise LzError(
                f"--min-score {metric.name}: that metric is not measured", hint=f"add --metric {metric.name}"
            )
        out[metric.name] = number
    return out


def _show_prompts(chosen) -> None:
    from lazycli.eval import judge as judging
    from lazycli.eval.data import Row
    from lazycli.eval.metrics import FIXED, JUDGED

    names = [m.name for m in chosen if m.kind == JUDGED] or [n for n, m in FIXED.items() if m.kind == JUDGED]
    row = Row(q="{question}", facts=["{fact 1}", "{fact 2}"])
    for name in names:
        prompt = judging.build(name, row, "{claim 1}. {claim 2}.", ["{passage 1}", "{passage 2}"])
        print(f"=== {name} ===")
        for message in prompt.messages():
            print(f"[{message['role']}]\n{message['content']}")
        print()


def _progress(total: int):
    from lazycli.console import err_console, is_tty, options

    if options.quiet or options.json or not is_tty(sys.stderr):
        return None
    state = {"last": -1}

    def tick(done: int) -> None:
        if done != state["last"]:
            state["last"] = done
            end = "\n" if done == total else ""
            err_console().file.write(f"\r  evaluated {done}/{total} rows{end}")
            err_console().file.flush()

    return tick


def _emit(report, json_, csv_, md, output) -> None:
    from lazycli.eval import report as reporting

    if output is not None:
        reporting.write_atomic(output, reporting.FORMATS[output.suffix.lower()](report))
    if json_:
        sys.stdout.write(reporting.to_json(report) + "\n")
    elif csv_:
        sys.stdout.write(reporting.to_csv(report))
    elif md:
        sys.stdout.write(reporting.to_markdown(report))
    else:
        sys.stdout.write(reporting.to_text(report))
    sys.stdout.flush()


def _verdict(report, thresholds: dict[str, float]) -> None:
    failed = []
    for name, floor in thresholds.items():
        mean = report.mean(name)
        if mean is None or mean < floor:
            failed.append(f"{name} {'n/a' if mean is None else f'{mean:.4f}'} < {floor:g}")
    bad_rows = report.errors()
    if bad_rows:
        sys.stderr.write(f"lz eval: {bad_rows} row(s) had errors (see the report)\n")
    if failed:
        sys.stderr.write("lz eval: below --min-score: " + "; ".join(failed) + "\n")
    if failed or bad_rows:
        raise typer.Exit(1)
