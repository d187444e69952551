"""The helpers every launcher shares: argv quoting with the port placeholder, the port-picking
wrapper (both of its ways), the endpoint marker and explicit state tables."""

from __future__ import annotations

import subprocess

from lazycli.launchers import ENDPOINT_MARKER, Status, find_endpoint, map_state, shell_argv, wrapper_script

TRICKY = ["prog", "--name", 'it\'s a "test"', "--port", "{port}", "--url", "http://h:{port}/v1", "$HOME", ""]


def test_shell_argv_survives_bash_quoting_and_fills_in_the_port():
    script = f'LAZYCLI_PORT=4321; for a in {shell_argv(TRICKY)}; do printf "[%s]\\n" "$a"; done'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    expected = [a.replace("{port}", "4321") for a in TRICKY]
    assert out.splitlines() == [f"[{a}]" for a in expected]


def _run_wrapper(script: str) -> str:
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True, timeout=30
    ).stdout


def test_wrapper_picks_a_port_prints_the_marker_and_execs(tmp_path):
    argv = ["echo", "serving on", "{port}"]
    for one_line in (False, True):
        out = _run_wrapper(wrapper_script(argv, host_expr="node7", one_line=one_line))
        host, port = find_endpoint(out)
        assert host == "node7" and 1024 < port < 65536
        assert f"serving on {port}" in out
    # Without python3 on the node, bash's own fallback still finds a port.
    out = _run_wrapper("python3() { return 1; }; " + wrapper_script(argv, host_expr="n"))
    assert find_endpoint(out)[1] >= 20000


def test_no_port_placeholder_means_no_marker():
    out = _run_wrapper(wrapper_script(["echo", "batch"]))
    assert ENDPOINT_MARKER not in out and out.strip() == "batch"


def test_find_endpoint_takes_the_last_marker_and_ignores_noise():
    text = (
        "starting\nLAZYCLI_ENDPOINT a:1\nLAZYCLI_ENDPOINT not-a-port\n[pid 7] LAZYCLI_ENDPOINT node-2:8080\n"
    )
    assert find_endpoint(text) == ("node-2", 8080)
    assert find_endpoint("nothing here") is None


def test_map_state_is_explicit():
    table = {"RUNNING": Status.RUNNING}
    assert map_state(table, "running") is Status.RUNNING
    assert map_state(table, "RUNNING+") is Status.RUNNING
    assert map_state(table, "WHATEVER") is Status.UNKNOWN
    assert map_state(table, None) is Status.UNKNOWN


def test_tail_text_takes_the_last_lines_and_none_for_zero(tmp_path):
    from lazycli.launchers import tail_text

    log = tmp_path / "job.log"
    log.write_text("one\ntwo\nthree\n")
    assert tail_text(log, 2) == "two\nthree"
    assert tail_text(log, 0) == ""  # `lz deploy logs -n 0` shows nothing, not the whole log
    assert tail_text(log, None) == "one\ntwo\nthree\n"
    assert tail_text(tmp_path / "missing.log", 5) == ""
