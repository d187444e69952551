"""progress.jsonl: LLaMA-Factory's and the peft worker's trainer logs map to one schema."""

from __future__ import annotations

import json

from lazycli.finetune import progress

LF_LINES = [  # as LLaMA-Factory 0.9.5's LogCallback writes them
    {"current_steps": 1, "total_steps": 4, "loss": 2.3, "lr": 1e-3, "epoch": 0.5, "percentage": 25.0,
     "elapsed_time": "0:00:05", "remaining_time": "0:00:15"},
    {"current_steps": 2, "total_steps": 4, "loss": 2.0, "lr": 8e-4, "epoch": 1.0, "percentage": 50.0,
     "elapsed_time": "0:00:10", "remaining_time": "1 day, 0:00:10"},
]  # fmt: skip
PEFT_LINES = [
    {"current_steps": 3, "total_steps": 4, "loss": 1.5, "lr": 5e-4, "elapsed_s": 12.0, "remaining_s": 4.0},
    {"current_steps": 3, "total_steps": 4, "loss": 1.4, "lr": 5e-4, "elapsed_s": 3.0, "remaining_s": 3.5},
]


def _write(path, lines, tail=""):
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + tail)


def test_both_sources_map_to_step_total_loss_lr_eta_state(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    _write(tmp_path / "checkpoints" / "trainer_log.jsonl", LF_LINES)  # LLaMA-Factory writes it in output_dir
    rows = progress.sync(tmp_path, "running")
    assert [r.to_dict() for r in rows] == [
        {"step": 1, "total": 4, "loss": 2.3, "lr": 1e-3, "eta": 15.0, "state": "running"},
        {"step": 2, "total": 4, "loss": 2.0, "lr": 8e-4, "eta": 86410.0, "state": "running"},
    ]
    on_disk = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert on_disk == [r.to_dict() for r in rows]


def test_a_resumed_step_is_counted_once_and_the_last_row_carries_the_final_state(tmp_path):
    _write(tmp_path / "trainer_log.jsonl", PEFT_LINES, tail='{"current_steps": 4, "tot')  # cut by a kill
    rows = progress.sync(tmp_path, "failed")
    assert [(r.step, r.loss, r.eta, r.state) for r in rows] == [
        (3, 1.4, 3.5, "running"),
        (3, 1.4, None, "failed"),
    ]
    assert progress.sync(tmp_path / "nothing-yet", "pending") == [
        progress.ProgressRow(0, None, None, None, None, "pending")
    ]
