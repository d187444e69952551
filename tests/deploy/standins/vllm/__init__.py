"""Stand-in for the `vllm` package: only the legacy demo server (see tests/deploy/standins/wire.py)."""
