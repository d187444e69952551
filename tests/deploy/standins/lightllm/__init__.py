"""Stand-in for the `lightllm` package (see tests/deploy/standins/wire.py)."""
