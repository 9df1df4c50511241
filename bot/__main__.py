"""`python -m bot` runs the `newswatch` command line."""

from bot.cli.commands import main

main()
