"""A typer group with a default sub-command, shared by verbs like `lz deploy MODEL` / `lz deploy ls`."""

from __future__ import annotations

import typer
from typer.core import TyperGroup


class DefaultCommandGroup(TyperGroup):
    """A group that runs `default_command` when the first word is not one of its sub-commands,
    so `lz rag --index kb "q"` means `lz rag ask --index kb "q"`; `order` is the help's order."""

    default_command: str = ""
    order: tuple[str, ...] = ()

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(self.order) or super().list_commands(ctx)
