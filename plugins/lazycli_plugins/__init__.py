"""Built-in lazycli plugins: each module is registered by an entry point, like a third-party one."""
