"""lazycli: build, tune and run LLM applications from the shell (`lz`)."""

__version__ = "0.1.0"
