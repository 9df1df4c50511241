"""The `newswatch` command line (also `python -m bot`)."""

from bot.cli.commands import main

__all__ = ["main"]
