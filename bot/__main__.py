"""`python -m bot` runs the `newswatch` command line."""

from bot.cli import main

main()
