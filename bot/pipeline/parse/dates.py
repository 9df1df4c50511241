"""Feed dates to UTC datetimes: RFC 822, ISO 8601, then the odd forms real feeds use.

Most feeds follow RFC 822 (RSS) or ISO 8601 (Atom, JSON Feed), which the
standard library reads exactly and fast. What is left (`2024-04-20 12:32:00
GMT`, `Fri, 2006/09/15 08:19:53 EDT`, `20 April 2024`) goes to python-dateutil's
documented `dateutil.parser.parse`. That parser fills any part the text lacks
from a default date, so the text is parsed with two different defaults: a
date whose year, month or day differs between them was not in the text and
is refused (a feed's "2024" is not a publication time). A missing time of
day is midnight; an unknown zone name counts as UTC.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from dateutil import parser as dateutil_parser

_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))
"""Two defaults that differ in year, month and day (see the module docstring)."""

_ZONES = {
    name: timezone(timedelta(hours=hours), name)
    for name, hours in {
        "UT": 0, "UTC": 0, "GMT": 0, "Z": 0,
        "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
        "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
        "CET": 1, "CEST": 2, "JST": 9,
    }.items()
}  # fmt: skip
"""Zone names feeds use, for the dateutil fallback (RFC 822 knows the US ones itself)."""


def parse_date(text: str | None) -> datetime | None:
    """`text` as an aware UTC datetime; None when it is empty or not a whole date."""
    if not text or not text.strip():
        return None
    text = text.strip()
    for parse in (_rfc822, _iso8601, _other_forms):
        try:
            found = parse(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
        if found is not None:
            return found.astimezone(UTC) if found.tzinfo else found.replace(tzinfo=UTC)
    return None


def _rfc822(text: str) -> datetime | None:
    return parsedate_to_datetime(text) if text[:1].isalpha() or "," in text else None


def _iso8601(text: str) -> datetime | None:
    return datetime.fromisoformat(text)


def _other_forms(text: str) -> datetime | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dateutil_parser.UnknownTimezoneWarning)
        first, second = (
            dateutil_parser.parse(text, default=default, tzinfos=_ZONES) for default in _DEFAULTS
        )
    if first.date() != second.date():
        return None
    return first
