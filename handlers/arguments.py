"""Reading command arguments: words, rule names, durations, descriptions, numbers.

Every parser raises `BadArgumentsError` with one line saying what is wrong;
`dispatch` adds the command's usage and an example under it.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.core.errors import CommandError

RULE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
DESCRIPTION_SEPARATORS = (" -- ", " — ", " –– ")
"""`--` before a description; phones often turn `--` into an em dash."""
MAX_MUTE = timedelta(days=365)
MAX_BACKTEST_DAYS = 90
DEFAULT_BACKTEST_DAYS = 7

_DURATION_PART = re.compile(r"(\d+)(mins|min|m|hrs|hr|h|d|w)", re.IGNORECASE)
_UNIT = {
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "mins": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "hr": timedelta(hours=1),
    "hrs": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_DAYS = re.compile(r"(\d{1,3})d?", re.IGNORECASE)


class BadArgumentsError(CommandError):
    """A command's arguments are missing or malformed; dispatch adds usage and an example."""


def split_first(text: str) -> tuple[str, str]:
    """The first word and the rest (both stripped); empty strings when absent."""
    parts = text.strip().split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def rule_name(word: str) -> str:
    """A valid rule name, or BadArgumentsError saying how names are spelled."""
    if not word:
        raise BadArgumentsError("the rule name is missing")
    if not RULE_NAME.fullmatch(word):
        raise BadArgumentsError(
            f"{word!r} is not a rule name: use a-z, 0-9 and _, starting with a letter, "
            "at most 40 characters"
        )
    return word


def split_description(text: str) -> tuple[str, str | None]:
    """`query -- description` → (query, description); no separator → (text, None)."""
    for separator in DESCRIPTION_SEPARATORS:
        query, found, description = f" {text} ".partition(separator)
        if found:
            return query.strip(), description.strip()
    return text.strip(), None


def parse_duration(text: str) -> timedelta:
    """`30m`, `2h`, `1d`, `1w` or a sum such as `1h30m`; at most a year."""
    spoken = text.strip().replace(" ", "")
    if not spoken:
        raise BadArgumentsError("say for how long")
    parts = list(_DURATION_PART.finditer(spoken))
    if not parts or "".join(part.group(0) for part in parts) != spoken:
        raise BadArgumentsError(f"{text.strip()!r} is not a duration: use m, h, d or w")
    total = sum((int(p.group(1)) * _UNIT[p.group(2).lower()] for p in parts), timedelta())
    if total <= timedelta():
        raise BadArgumentsError("the duration must be longer than zero")
    if total > MAX_MUTE:
        raise BadArgumentsError("mute for at most a year (365d); use unsubscribe to stop for good")
    return total


def take_days(text: str) -> tuple[str, int]:
    """Split a trailing day count (`7` or `7d`) off `text`: (the rest, days).

    Without one the default applies; to test a query that ends in a number,
    give the days after it.
    """
    head, _, last = text.strip().rpartition(" ")
    found = _DAYS.fullmatch(last)
    if not head or not found:
        return text.strip(), DEFAULT_BACKTEST_DAYS
    days = int(found.group(1))
    if not 1 <= days <= MAX_BACKTEST_DAYS:
        raise BadArgumentsError(f"days must be between 1 and {MAX_BACKTEST_DAYS}, not {days}")
    return head.strip(), days


def parse_threshold(text: str) -> float:
    """A topic threshold between 0 and 1."""
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise BadArgumentsError(f"{text.strip()!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise BadArgumentsError(f"the threshold must be between 0 and 1, not {value:g}")
    return value
