"""How replies spell times, durations and rule names, the same in every command."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.core.model import ALL_RULES


def utc_time(moment: datetime) -> str:
    """`2025-03-01 12:00 UTC`."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def duration_words(length: timedelta) -> str:
    """`1w 2d 3h 30m`: the largest units first, zero units left out."""
    minutes = int(length.total_seconds() // 60)
    parts = []
    for unit, size in (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60), ("m", 1)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0m"


def counted(count: int, noun: str) -> str:
    """`1 problem`, `2 problems`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def rule_label(name: str) -> str:
    """A subscription's rule as people read it: ALL_RULES is `all rules`."""
    return "all rules" if name == ALL_RULES else name


def rule_labels(names: Iterable[str]) -> str:
    """`a, b, all rules`."""
    return ", ".join(rule_label(name) for name in names)


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with `…` if cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if text[limit - 1] != " " and " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:") + "…"
