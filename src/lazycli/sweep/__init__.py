"""`lz sweep`: try configurations of a recipe, score each with `lz eval`, rank them; resumable.

    from lazycli.sweep import plan, scheduler
    p = plan.build(Path("recipes/rag-sweep.toml"), grid=["app.steps.0.topk=1,3"])
    summary = scheduler.execute(p)          # trials in DATA/sweeps/NAME/sweep.sqlite
    print(summary.ranking[0].params)

Modules: `space` (grid, paired groups, random draw, key checks), `plan` (everything checked before
a trial starts), `trial` (materialise, build or reuse, evaluate), `store` (SQLite, heartbeat,
claims), `scheduler` (bounded workers, budget, early stop), `rank` (ranking and exports).
"""
