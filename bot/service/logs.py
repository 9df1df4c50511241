"""Logging for the `newswatch` process: one format, and no secrets in any line.

The Telegram Bot API puts the bot token in every request path
(`/bot<token>/sendMessage`), and httpx logs each request's URL at INFO, so a
token would reach the logs on every poll. `configure_logging` keeps httpx's
and httpcore's per-request lines at WARNING and, as a second line of defence,
installs `RedactSecrets` on the root handler, which rewrites any Telegram
token, Slack token or `Bearer …` value in a record before it is written.
"""

from __future__ import annotations

import logging
import re
import sys

_SECRETS = re.compile(
    r"(?P<bot>bot)\d{3,}:[A-Za-z0-9_-]{20,}"  # Telegram bot token in a Bot API path
    r"|(?P<slack>xox[abprs]-|xapp-)[A-Za-z0-9-]+"  # Slack bot, user and app tokens
    r"|(?P<bearer>Bearer )[A-Za-z0-9._~+/=-]+"
)
CHATTY_LOGGERS = ("httpx", "httpcore")


def redact(text: str) -> str:
    """`text` with every token it holds replaced by `<redacted>` (the prefix kept)."""
    return _SECRETS.sub(lambda m: f"{m.group('bot') or m.group('slack') or m.group('bearer')}"
                        "<redacted>", text)  # fmt: skip


class RedactSecrets(logging.Filter):
    """Rewrites a record's message (with its arguments merged) without tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str) -> None:
    """Log to stderr at `level`, with secrets redacted and httpx's request lines quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
