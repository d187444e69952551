"""One progress schema for every finetuner: `progress.jsonl` rows (step, total, loss, lr, eta, state).

Sources:
- `trainer_log.jsonl` as LLaMA-Factory writes it (current_steps, total_steps, loss, lr, epoch,
  elapsed_time / remaining_time as "H:MM:SS") and as the PEFT worker writes it (the same step
  fields, elapsed_s / remaining_s in seconds);
- the run's job state (pending, running, completed, failed, cancelled) for the last row.

A resumed run logs the steps after its checkpoint again: the last line for a step wins.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from lazycli.launchers import Status

TRAINER_LOG = "trainer_log.jsonl"
PROGRESS = "progress.jsonl"


@dataclass
class ProgressRow:
    step: int
    total: int | None
    loss: float | None
    lr: float | None
    eta: float | None  # seconds left
    state: Status

    def to_dict(self) -> dict:
        return asdict(self)


def _seconds(value) -> float | None:
    """Seconds from a number or LLaMA-Factory's "H:MM:SS" / "D days, H:MM:SS" text."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    days = 0
    if "day" in text:
        head, _, text = text.partition(",")
        days = int(head.split()[0])
    try:
        parts = [float(p) for p in text.strip().split(":")]
    except ValueError:
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return days * 86400 + seconds


def from_trainer_line(line: dict, state: Status = Status.RUNNING) -> ProgressRow | None:
    step = line.get("current_steps", line.get("step"))
    if step is None:
        return None
    eta = line.get("remaining_s")
    if eta is None:
        eta = _seconds(line.get("remaining_time"))
    return ProgressRow(
        step=int(step),
        total=line.get("total_steps"),
        loss=line.get("loss"),
        lr=line.get("lr", line.get("learning_rate")),
        eta=eta,
        state=state,
    )


def trainer_log(run_dir: Path) -> Path:
    """The run's trainer log: beside run.json (peft), or in output_dir (LLaMA-Factory writes it there)."""
    direct = run_dir / TRAINER_LOG
    nested = run_dir / "checkpoints" / TRAINER_LOG
    return nested if nested.exists() and not direct.exists() else direct


def read_trainer_log(path: Path) -> list[ProgressRow]:
    rows: dict[int, ProgressRow] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    for raw in text.splitlines():
        try:
            row = from_trainer_line(json.loads(raw))
        except ValueError:
            continue  # a line cut by a kill: the next sync reads it whole
        if row is not None:
            rows[row.step] = row
    return [rows[k] for k in sorted(rows)]


def sync(run_dir: Path, state: Status) -> list[ProgressRow]:
    """Rewrite `progress.jsonl` from the trainer's log and the job state; returns its rows."""
    from lazycli.fsutil import atomic_write_text

    rows = read_trainer_log(trainer_log(run_dir))
    if rows and state != Status.RUNNING:
        last = rows[-1]
        rows.append(
            ProgressRow(
                last.step, last.total, last.loss, last.lr, 0.0 if state == Status.COMPLETED else None, state
            )
        )
    elif not rows:
        rows = [ProgressRow(0, None, None, None, None, state)]
    text = "".join(json.dumps(r.to_dict()) + "\n" for r in rows)
    atomic_write_text(run_dir / PROGRESS, text)
    return rows


def latest(run_dir: Path) -> ProgressRow | None:
    rows = read_trainer_log(trainer_log(run_dir))
    return rows[-1] if rows else None
