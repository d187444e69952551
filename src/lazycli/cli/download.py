"""`lz download NAME…`: fetch models from Hugging Face or ModelScope, resumable and verified."""

from __future__ import annotations

import typer

from lazycli.console import console, note, print_json, want_json

app = typer.Typer(add_completion=False)


@app.command()
def download(
    names: list[str] = typer.Argument(..., help="Catalogue names, org/name hub ids or paths."),
    source: str = typer.Option(
        None, "--source", "-s", help="Hub: huggingface or modelscope (default: setting)."
    ),
    revision: str = typer.Option(None, "--revision", "-r", help="Branch, tag or commit (default: main)."),
    include: list[str] = typer.Option(
        [], "--include", "-i", help="Only files matching this glob (repeatable)."
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", "-x", help="Skip files matching this glob (repeatable)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show hub ids, files filter and target dir; fetch nothing."
    ),
    verify: bool = typer.Option(
        False, "--verify", help="Re-hash a model that is already downloaded; repair it."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Download models into the cache (resumable: rerun after an interrupt to continue).

    Every file is checked against the hub's size and sha256 before the model is marked ready;
    a model that is already local (bundled, in LAZYCLI_MODEL_PATH, downloaded) is not fetched.
    The token comes from `lz keys set huggingface` or HF_TOKEN (ModelScope: MODELSCOPE_API_TOKEN).

    Examples:
      lz download qwen2-1.5b
      lz download qwen2.5-1.5b-instruct --source modelscope
      lz download Qwen/Qwen2.5-0.5B-Instruct-GGUF --include '*q4_k_m.gguf'
      lz download qwen2-1.5b --dry-run --json
    """
    from lazycli.catalog import download as dl
    from lazycli.catalog import resolve

    refs = [resolve(name) for name in names]  # resolve all first: a typo fails before any transfer
    results = []
    for ref in refs:
        if dry_run:
            results.append(
                dl.plan(ref, source=source, revision=revision, include=tuple(include), exclude=tuple(exclude))
            )
            continue
        if not ref.hub_ids or (ref.ready and ref.source != "cache" and not (source or revision)):
            results.append(_already_local(ref))
            continue
        note(f"downloading {ref.name}…")
        results.append(
            dl.download(
                ref,
                source=source,
                revision=revision,
                include=tuple(include),
                exclude=tuple(exclude),
                verify=verify,
            )
        )
    if want_json(json_):
        print_json({"dry_run": dry_run, "models": results})
        return
    for row in results:
        _print_row(row, dry_run)


def _already_local(ref) -> dict:
    return {
        "model": ref.name,
        "source": ref.source,
        "path": str(ref.path) if ref.path else None,
        "already_present": True,
        "ready": ref.ready,
    }


def _print_row(row: dict, dry_run: bool) -> None:
    from lazycli.catalog.sizes import format_bytes

    out = console()
    if dry_run:
        hubs = ", ".join(f"{hub}: {repo}" for hub, repo in row["hub_ids"].items())
        out.print(f"{row['model']}  ({hubs})", markup=False)
        out.print(f"  would download {row['repo_id']}@{row['revision']} from {row['endpoint']}", markup=False)
        if row["include"] or row["exclude"]:
            out.print(
                f"  include {row['include'] or 'all'}  exclude {row['exclude'] or 'none'}", markup=False
            )
        out.print(f"  into {row['target_dir']}", markup=False)
        if row["ready"]:
            out.print(f"  (already local: {row['local_path']})", markup=False)
        return
    if row.get("repo_id") is None:
        out.print(f"{row['model']}: already local ({row['source']}) at {row['path']}", markup=False)
        return
    state = (
        "already downloaded"
        if row["already_present"]
        else f"downloaded {format_bytes(row['downloaded_bytes'])}"
    )
    size = format_bytes(row["bytes"])
    out.print(
        f"{row['model']}: ready at {row['path']} ({row['files']} files, {size}, verified; {state})",
        markup=False,
    )
