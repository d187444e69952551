"""Everything `lz sweep RECIPE` checks before the first trial: the recipe, every configuration
(loaded as the recipe loader would load it), the eval set, the metrics, the budget.

A mistake here is one line and exit 2, and nothing has run: no store is created.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lazycli.errors import LzError
from lazycli.sweep import space as spaces

BUDGET_KINDS = ("trials", "time", "tokens")


@dataclass
class Budget:
    trials: int | None = None
    time_s: float | None = None
    tokens: int | None = None


@dataclass
class Config:
    config_hash: str
    params: dict[str, Any]


@dataclass
class Plan:
    name: str
    recipe: Path
    raw: dict[str, Any]
    keys: list[str]
    configs: list[Config]
    rows: list
    metrics: list  # eval Metric objects; the first ranks
    data: Path
    repeat: int = 1
    seed: int = 0
    jobs: int = 1
    budget: Budget = field(default_factory=Budget)
    target: float | None = None
    min_score: float | None = None
    space_size: int = 0
    judge: str | None = None

    @property
    def folder(self) -> Path:
        return sweeps_dir() / self.name

    @property
    def metric(self) -> str:
        return self.metrics[0].name

    def trials(self) -> list[tuple[str, int, dict[str, Any], int]]:
        return [(c.config_hash, r, c.params, self.seed + r) for c in self.configs for r in range(self.repeat)]


def sweeps_dir() -> Path:
    from lazycli.paths import data_dir

    return data_dir() / "sweeps"


def parse_budget(specs: list[str], table: dict[str, float]) -> Budget:
    items = dict(table)
    for spec in specs:
        for part in spec.split(","):
            kind, eq, value = part.partition("=")
            try:
                items[kind.strip()] = float(value)
            except ValueError:
                raise LzError(
                    f"bad --budget {part!r}",
                    hint="trials=N, time=SECONDS or tokens=N, e.g. --budget trials=8",
                ) from None
            if not eq:
                raise LzError(f"bad --budget {part!r}", hint="trials=N, time=SECONDS or tokens=N")
    budget = Budget()
    for kind, value in items.items():
        if kind not in BUDGET_KINDS:
            raise LzError(f"unknown budget {kind!r}", hint=f"one of: {', '.join(BUDGET_KINDS)}")
        if not value > 0:
            raise LzError(f"budget {kind}={value:g}: nothing could run", hint="give a budget above 0")
        if kind == "trials":
            budget.trials = int(value)
        elif kind == "time":
            budget.time_s = value
        else:
            budget.tokens = int(value)
    return budget


def _eval_path(flag: Path | None, loaded) -> Path:
    sweep = loaded.spec.sweep
    if flag is not None:
        path = flag
    elif sweep is not None and sweep.eval:
        path = Path(sweep.eval) if Path(sweep.eval).is_absolute() else loaded.folder / sweep.eval
    elif loaded.spec.eval is not None:
        from lazycli.recipes.evaluate import qa_path

        path = qa_path(loaded)
    else:
        raise LzError(
            f"{loaded.path}: no eval set to score the trials with",
            hint='give --eval FILE, or eval = "qa.jsonl" in [sweep]',
        )
    if not path.is_file():
        raise LzError(f"eval set {path} not found", hint="a JSONL file of questions (see docs/eval.md)")
    return path


def _metrics(flag: list[str], loaded, rows, data: Path, judge: str | None) -> list:
    from lazycli.eval import metrics as eval_metrics

    sweep = loaded.spec.sweep
    names = (
        flag or (sweep.metrics if sweep else []) or ([loaded.spec.eval.metric] if loaded.spec.eval else [])
    )
    chosen = eval_metrics.parse(names)
    if not chosen:
        chosen = eval_metrics.default_for(rows, True)
    if not chosen:
        raise LzError(
            f"{data}: no metric applies to these rows", hint="give --metric, e.g. --metric contains"
        )
    judged = [m.name for m in chosen if m.kind == eval_metrics.JUDGED]
    if judged and not judge:
        raise LzError(
            f"{', '.join(judged)} need a judge",
            hint="add --judge TARGET (a deployment, provider:model or URL), or judge = … in [sweep]",
        )
    eval_metrics.check_rows(chosen, rows, data)
    return chosen


def context_hash(raw: dict[str, Any], data: Path, metrics: list) -> str:
    """What a configuration is applied to: the recipe (its [sweep] table aside), the eval set and
    the metrics. Editing any of them makes every configuration new; editing the grid does not."""
    base = {k: v for k, v in raw.items() if k != "sweep"}
    blob = json.dumps(base, sort_keys=True, default=str) + hashlib.sha256(data.read_bytes()).hexdigest()
    blob += ",".join(m.name for m in metrics)
    return hashlib.sha256(blob.encode()).hexdigest()


def build(
    recipe: Path,
    *,
    grid: list[str] = (),
    random_n: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    eval_file: Path | None = None,
    metric: list[str] = (),
    repeat: int | None = None,
    budget: list[str] = (),
    name: str | None = None,
    target: float | None = None,
    min_score: float | None = None,
    judge: str | None = None,
) -> Plan:
    from lazycli import recipes
    from lazycli.eval import data as eval_data
    from lazycli.recipes.schema import SweepSpec
    from lazycli.sweep import trial

    loaded = recipes.load(recipe)
    table = loaded.spec.sweep or SweepSpec()
    where = f"{recipe}"
    grid_values = dict(spaces.flatten(table.grid))
    for spec in grid:
        key, values = spaces.parse_grid_flag(spec)
        grid_values[key] = values
    space = spaces.build(grid_values, table.paired, where)
    if not space.axes:
        raise LzError(
            f"{recipe}: nothing to sweep", hint="give --grid KEY=V1,V2, or a [sweep.grid] table in the recipe"
        )
    for axis in space.axes:
        for key in axis.keys:
            spaces.check_key(loaded.raw, key)
        for choice in axis.values:
            for key, value in zip(axis.keys, choice, strict=True):
                spaces.check_type(loaded.raw, key, value)
    data = _eval_path(eval_file, loaded)
    rows = eval_data.load(data)
    judge = judge or table.judge
    if judge:
        from lazycli import targets

        targets.require(judge, known_only=True)  # as lz eval checks its judge
    chosen = _metrics(list(metric), loaded, rows, data, judge)
    seed = table.seed if seed is None else seed
    random_n = random_n if random_n is not None else table.random
    params_list = space.sample(random_n, seed) if random_n else space.grid()
    context = context_hash(loaded.raw, data, chosen)
    configs = []
    for params in params_list:
        try:
            recipes.load(recipe, trial.overrides(params, loaded.raw))
        except LzError as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
            raise LzError(f"sweep configuration {shown}: {exc.message}", hint=exc.hint) from None
        configs.append(Config(spaces.config_hash(params, context), params))
    name = name or loaded.name
    if not name or "/" in name or name.startswith("."):
        raise LzError(f"bad sweep name {name!r}", hint="letters, digits, - and _")
    return Plan(
        name=name,
        recipe=loaded.path,
        raw=loaded.raw,
        keys=space.keys,
        configs=configs,
        rows=rows,
        metrics=chosen,
        data=data,
        repeat=repeat or table.repeat,
        seed=seed,
        jobs=jobs or table.jobs,
        budget=parse_budget(list(budget), table.budget),
        target=target if target is not None else table.target,
        min_score=min_score if min_score is not None else table.min_score,
        space_size=space.size(),
        judge=judge,
    )
