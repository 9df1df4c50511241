"""newswatch: a self-hosted news-alert bot for Slack and Telegram."""

__version__ = "0.1.0"

# Before any module of newswatch imports httpx: keeps httpx's unused command-line
# client (click, rich, pygments: ~6 MB resident) out of the process (bot/core/memory.py).
import bot.core.memory  # noqa: F401
