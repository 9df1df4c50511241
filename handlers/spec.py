"""The shape of one chat command in the registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.command import Command, Reply
from handlers.context import HandlerContext

Handler = Callable[[HandlerContext, Command, str], Awaitable[Reply]]
"""`(context, command, arguments)`: arguments is the text after the command words."""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command: its words, handler, who may run it and how to use it."""

    name: str
    """The command words, e.g. `subscribe` or `rule add`."""
    handler: Handler
    usage: str
    example: str
    summary: str
    """One line for `help`."""
    admin_only: bool = False
