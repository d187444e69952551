"""`lz finetune PROVIDER:MODEL` against a local stand-in of each vendor's fine-tuning API.

The real provider code path runs; only the base URL points at 127.0.0.1 (LAZYCLI_<NAME>_BASE_URL).
The end-to-end, restart and kill tests run `lz` as real processes; the error cases run the same
entry point (`lazycli.cli.main`) in this process to keep the suite fast. Each full run ends in a
model registered as online that `lz chat NAME` reaches through that provider. Polling is made tiny
with LAZYCLI_FINETUNE_POLL_S.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from lazycli.keys import mask
from tests.conftest import _reset_caches, lz
from tests.finetune.standins import KEY, StandIn

MODELS = {"openai": "gpt-4o-mini", "glm": "glm-4-flash", "qwen": "qwen-turbo", "sensenova": "nova-ptc-s-v2"}
VENDOR_KEY_VARS = ("OPENAI_API_KEY", "ZHIPUAI_API_KEY", "DASHSCOPE_API_KEY", "SENSENOVA_API_KEY")

# What each vendor's create body must be for `--epochs 2 --lr 0.5 --batch-size 4` (ids filled in).
EXPECTED_CREATE = {
    "openai": lambda file_id, body: {
        "model": "gpt-4o-mini",
        "training_file": file_id,
        "method": {
            "type": "supervised",
            "supervised": {
                "hyperparameters": {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 0.5}
            },
        },
        "suffix": "support-bot",
        "metadata": {"lz_run": body["metadata"]["lz_run"]},
    },
    "glm": lambda file_id, body: {
        "model": "glm-4-flash",
        "training_file": file_id,
        "hyperparameters": {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 0.5},
        "suffix": "support-bot",
        "request_id": body["request_id"],
    },
    "qwen": lambda file_id, body: {
        "model": "qwen-turbo",
        "training_file_ids": [file_id],
        "training_type": "efficient_sft",
        "hyper_parameters": {"n_epochs": 2, "batch_size": 4, "learning_rate": "0.5"},
    },
    "sensenova": lambda dataset_id, body: {
        "model": "nova-ptc-s-v2",
        "training_file": dataset_id,
        "suffix": "support-bot",
        "hyperparams": {"n_epochs": 2, "learning_rate": 0.5, "batch_size": 4},
    },
}


@pytest.fixture(autouse=True)
def _no_vendor_keys(monkeypatch):
    for var in VENDOR_KEY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server(request):
    stand_in = StandIn(request.param)
    yield stand_in
    stand_in.close()


def env_for(server: StandIn, *, key: bool = True, poll: str = "0.005") -> dict:
    name = server.vendor.name.upper()
    env = {
        f"LAZYCLI_{name}_BASE_URL": server.url,
        f"LAZYCLI_{name}_API_KEY": KEY if key else "",
        "LAZYCLI_FINETUNE_POLL_S": poll,
        "LAZYCLI_SENSENOVA_FILES_URL": server.origin + "/v1/files",
    }
    return env


@pytest.fixture
def train(tmp_path) -> Path:
    """Twelve support examples in alpaca form: every vendor gets them converted to its own format."""
    path = tmp_path / "train.jsonl"
    rows = [
        {
            "instruction": f"How do I reset password number {i}?",
            "input": "",
            "output": f"Open settings, step {i}.",
        }
        for i in range(12)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def here(monkeypatch, capsys):
    """here(server, *args) runs `lz ARGS` in this process through the CLI's entry point."""
    from lazycli import console, providers

    monkeypatch.setattr(providers, "backoff_delay", lambda attempt: 0.0)

    def run(server: StandIn, *args: str, **env_kw) -> Ran:
        for name, value in env_for(server, **env_kw).items():
            monkeypatch.setenv(name, value)
        _reset_caches()
        console._console = console._err_console = None
        capsys.readouterr()
        from lazycli.cli import main

        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        console._console = console._err_console = None
        return Ran(code, out.out, out.err)

    return run


def ft_args(server: StandIn, data: Path, *args: str) -> list[str]:
    vendor = server.vendor.name
    return ["finetune", f"{vendor}:{MODELS[vendor]}", "--data", str(data), "--name", "support-bot", *args]


def finetune(server: StandIn, data: Path, *args: str, check=None, **env_kw):
    vendor = server.vendor.name
    return lz(
        "finetune",
        f"{vendor}:{MODELS[vendor]}",
        "--data",
        str(data),
        "--name",
        "support-bot",
        *args,
        env=env_for(server, **env_kw),
        timeout=60,
        check=check,
    )


def uploaded_lines(server: StandIn) -> list:
    (upload,) = server.files.values()
    return [json.loads(line) for line in upload.content.decode().splitlines()]


@pytest.mark.parametrize("server", list(MODELS), indirect=True)
def test_finetune_registers_a_model_that_chat_reaches_through_the_provider(here, server, train, lz_home):
    vendor = server.vendor.name
    proc = finetune(server, train, "--epochs", "2", "--lr", "0.5", "--batch-size", "4", "--json", check=0)
    record = json.loads(proc.stdout)
    assert record["status"] == "completed"
    assert record["online"]["vendor_status"].lower() == "succeeded"

    # The wire: one upload with the vendor's fields and data format, one create with its body.
    uploads = server.requests("POST", server.vendor.upload_path)
    assert len(uploads) == 1 and uploads[0]["auth"] == f"Bearer {KEY}"
    assert uploads[0]["content_type"].startswith("multipart/form-data; boundary=")
    lines = uploaded_lines(server)
    assert len(lines) == 12
    first = lines[0] if vendor == "sensenova" else lines[0]["messages"]
    assert first == [
        {"role": "user", "content": "How do I reset password number 0?"},
        {"role": "assistant", "content": "Open settings, step 0."},
    ]
    (job,) = server.jobs.values()
    assert job.body == EXPECTED_CREATE[vendor](job.training, job.body)
    assert record["online"]["job_id"] == job.id

    # Progress in the local schema, ending in the local state.
    rows = [json.loads(x) for x in (Path(record["run_dir"]) / "progress.jsonl").read_text().splitlines()]
    assert rows[-1]["state"] == "completed"
    if vendor != "sensenova":  # SenseNova's API shows no training events
        assert [r["step"] for r in rows[:3]] == [1, 2, 3] and rows[2]["loss"] == pytest.approx(
            2 / 3, abs=1e-3
        )

    # Registered as an online model of that provider, reached through it by `lz chat NAME`.
    models = json.loads(here(server, "models", "ls", "--json").stdout)["models"]
    (row,) = [m for m in models if m["name"] == "support-bot"]
    served = record["result"]["path"]
    assert row["online"] == served and served.startswith(f"{vendor}:")
    assert row["format"] == "online"
    chat = here(server, "chat", "support-bot", "hello")
    assert chat.returncode == 0
    assert f"tuned answer to hello from {served.split(':', 1)[1]}" in chat.stdout
    assert server.requests("POST", server.vendor.chat_path)[-1]["auth"] == f"Bearer {KEY}"


@pytest.mark.parametrize("server", list(MODELS), indirect=True)
def test_dry_run_prints_the_exact_requests_with_the_key_masked_and_sends_nothing(
    here, server, train, lz_home
):
    proc = here(server, *ft_args(server, train, "--epochs", "2", "--dry-run"))
    out = proc.stdout
    upload_url = server.origin + server.vendor.upload_path
    assert f"POST {upload_url}" in out
    assert f"Bearer {mask(KEY)}" in out and KEY not in out + proc.stderr
    assert "file" in out and "12 lines" in out
    assert '"n_epochs": 2' in out
    assert server.log == []
    assert not (lz_home / "data" / "finetune" / "support-bot").exists()
    described = json.loads(here(server, *ft_args(server, train, "--dry-run", "--json")).stdout)
    assert [r["step"] for r in described["requests"]][-1] == "create"
    assert described["requests"][0]["url"] == upload_url


@pytest.mark.parametrize("server", ["openai", "sensenova"], indirect=True)
def test_bad_lines_are_named_and_nothing_is_uploaded(here, server, tmp_path):
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    rows = [good] * 11 + [
        {"messages": [{"role": "user", "content": "hi"}]},
        {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]},
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
    proc = here(server, *ft_args(server, path))
    assert proc.returncode == 2
    assert "line 12: no assistant message" in proc.stderr
    assert "line 13: message 1 has role 'robot'" in proc.stderr
    assert "line 14" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert server.log == []


@pytest.mark.parametrize("server", ["sensenova"], indirect=True)
def test_sensenova_takes_knowledge_turns_and_gets_one_array_per_line(here, server, tmp_path, lz_home):
    row = [
        {"role": "knowledge", "content": "Resets are in settings."},
        {"role": "user", "content": "reset?"},
        {"role": "assistant", "content": "Open settings."},
    ]
    path = tmp_path / "nova.jsonl"
    path.write_text(json.dumps(row) + "\n")
    here(server, *ft_args(server, path))
    assert uploaded_lines(server) == [row]


@pytest.mark.parametrize("server", ["openai"], indirect=True)
def test_no_key_stops_before_anything_is_sent_or_written(here, server, train, lz_home):
    proc = here(server, *ft_args(server, train), key=False)
    assert proc.returncode == 2
    assert "no API key for provider 'openai'" in proc.stderr and "OPENAI_API_KEY" in proc.stderr
    assert server.log == []
    assert not (lz_home / "data" / "finetune" / "support-bot").exists()


@pytest.mark.parametrize("server", ["openai", "glm", "qwen"], indirect=True)
def test_quota_error_is_one_line_and_creates_nothing(here, server, train):
    server.fail("quota")
    proc = here(server, *ft_args(server, train))
    assert proc.returncode == 2
    assert "quota" in proc.stderr.lower() and "Traceback" not in proc.stderr
    assert server.jobs == {}
    assert len(server.requests("POST", server.vendor.upload_path)) == 1


@pytest.mark.parametrize("server", ["qwen"], indirect=True)
def test_a_rejected_file_shows_the_vendors_reason(here, server, train):
    server.fail("reject_file")
    proc = here(server, *ft_args(server, train))
    assert proc.returncode == 2
    assert "The file is not valid JSONL for fine-tuning" in proc.stderr
    assert server.jobs == {}


@pytest.mark.parametrize("server", ["openai", "sensenova"], indirect=True)
def test_failed_job_reports_the_vendor_message_with_the_key_masked(here, server, train):
    server.fail("job_fails")
    proc = here(server, *ft_args(server, train))
    assert proc.returncode == 2
    assert "training file rejected" in proc.stderr
    assert KEY not in proc.stderr and mask(KEY) in proc.stderr
    status = json.loads(here(server, "finetune", "status", "support-bot", "--json").stdout)
    assert status["status"] == "failed" and status["online"]["vendor_status"].lower() == "failed"
    assert KEY not in json.dumps(status)
    assert KEY not in Path(status["log_path"]).read_text()


@pytest.mark.parametrize("server", ["openai"], indirect=True)
def test_a_dropped_upload_is_retried_and_a_failed_run_resumes_on_the_same_file(here, server, train):
    server.fail("upload_drop")
    server.fail("job_fails")
    assert here(server, *ft_args(server, train)).returncode == 2
    assert len(server.requests("POST", "/v1/files")) == 2 and len(server.files) == 1
    resumed = here(server, "finetune", "resume", "support-bot", "--json")
    record = json.loads(resumed.stdout)
    assert record["status"] == "completed"
    assert len(server.files) == 1 and len(server.jobs) == 2  # no second upload, a new job
    assert {j.training for j in server.jobs.values()} == {record["online"]["file_id"]}


@pytest.mark.parametrize("server", ["openai", "glm", "qwen"], indirect=True)
def test_a_lost_create_answer_never_makes_a_second_job(here, server, train):
    server.fail("create_lost")
    proc = here(server, *ft_args(server, train, "--json"))
    assert len(server.requests("POST", "jobs" if server.vendor.name != "qwen" else "fine-tunes")) == 1
    (job,) = server.jobs.values()
    assert json.loads(proc.stdout)["online"]["job_id"] == job.id


@pytest.mark.parametrize("server", ["sensenova"], indirect=True)
def test_sensenova_lost_create_stops_instead_of_guessing(here, server, train):
    server.fail("create_lost")
    proc = here(server, *ft_args(server, train))
    assert proc.returncode == 2 and "does not send it again" in proc.stderr
    assert len(server.jobs) == 1
    again = here(server, *ft_args(server, train))  # a rerun must not create another one either
    assert again.returncode == 2 and len(server.jobs) == 1


@pytest.mark.parametrize("server", ["openai", "qwen"], indirect=True)
def test_cancel_stops_the_vendor_job(here, server, train):
    here(server, *ft_args(server, train, "--detach"))
    proc = here(server, "finetune", "cancel", "support-bot", "--json")
    record = json.loads(proc.stdout)
    assert record["status"] == "cancelled"
    (job,) = server.jobs.values()
    assert job.cancelled and server.requests("POST", "/cancel")
    listed = here(server, "finetune", "ls", "--json")
    assert json.loads(listed.stdout)["finetunes"][0]["status"] == "cancelled"


@pytest.mark.parametrize("server", ["openai"], indirect=True)
def test_flags_the_vendor_lacks_are_refused_with_the_ones_it_has(here, server, train):
    proc = here(server, *ft_args(server, train, "--lora-rank", "8", "--dry-run"))
    assert proc.returncode == 2
    assert "openai fine-tuning takes no --lora-rank" in proc.stderr and "--epochs" in proc.stderr
    proc = here(server, *ft_args(server, train, "--set", "warmup=3", "--dry-run"))
    assert proc.returncode == 2 and "known:" in proc.stderr


@pytest.mark.parametrize("server", ["openai", "qwen"], indirect=True)
def test_detach_then_status_from_fresh_processes_follows_to_the_registered_model(
    here, server, train, lz_home
):
    server.short_jobs()
    detached = json.loads(finetune(server, train, "--detach", "--json", check=0).stdout)
    assert detached["status"] == "pending"
    ids = detached["online"]
    assert ids["job_id"] and ids["file_id"]
    seen = []
    for _ in range(5):  # each `lz finetune status` is a new process reading run.json
        status = json.loads(
            lz("finetune", "status", "support-bot", "--json", env=env_for(server), check=0).stdout
        )
        seen.append(status["status"])
        if status["status"] == "completed":
            break
    assert seen[-1] == "completed" and "running" in seen
    assert status["online"]["job_id"] == ids["job_id"] and len(server.jobs) == 1
    assert here(server, "models", "info", "support-bot", "--json").stdout.count(status["result"]["path"]) == 1
    chat = here(server, "chat", "support-bot", "hi")
    assert "tuned answer to hi" in chat.stdout


@pytest.mark.parametrize("server", ["glm"], indirect=True)
def test_kill_9_mid_job_then_attach_finishes_it(server, train, lz_home):
    server.short_jobs()
    import os
    import signal
    import subprocess
    import sys
    import time

    run_json = lz_home / "data" / "finetune" / "support-bot" / "run.json"
    env = {**os.environ, **env_for(server, poll="30")}  # it sleeps between polls: kill it there
    proc = subprocess.Popen(
        [sys.executable, "-m", "lazycli", "finetune", "glm:glm-4-flash", "--data", str(train), "--name",
         "support-bot"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if run_json.exists() and json.loads(run_json.read_text())["online"].get("job_id"):
                break
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert json.loads(run_json.read_text())["status"] in ("pending", "running")
    attached = lz("finetune", "attach", "support-bot", "--json", env=env_for(server), timeout=60, check=0)
    assert json.loads(attached.stdout)["status"] == "completed"
    assert len(server.jobs) == 1 and len(server.files) == 1


@pytest.mark.parametrize("server", ["glm"], indirect=True)
def test_an_upload_that_never_gets_through_stops_cleanly_and_resume_goes_on(here, server, train):
    server.fail("upload_drop", times=10)
    proc = here(server, *ft_args(server, train))
    assert proc.returncode == 2 and "no answer to POST" in proc.stderr and "Traceback" not in proc.stderr
    assert server.files == {} and server.jobs == {}
    attach = here(server, "finetune", "attach", "support-bot")
    assert attach.returncode == 2 and "resume" in attach.stderr
    server.faults.clear()
    resumed = here(server, "finetune", "resume", "support-bot", "--json")
    assert json.loads(resumed.stdout)["status"] == "completed"
    assert len(server.files) == 1 and len(server.jobs) == 1


@pytest.mark.parametrize("server", ["openai"], indirect=True)
def test_too_few_examples_for_openai_is_refused_before_upload(here, server, tmp_path):
    path = tmp_path / "few.jsonl"
    path.write_text(json.dumps({"prompt": "q", "completion": "a"}) + "\n")
    proc = here(server, *ft_args(server, path))
    assert proc.returncode == 2 and "1 example(s); openai needs at least 10" in proc.stderr
    assert server.log == []
