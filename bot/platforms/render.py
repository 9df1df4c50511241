"""What every platform's renderer shares: safe text shaping and the alert's parts.

Every feed-derived string is cleaned (control and bidi-override characters
removed, whitespace collapsed), trimmed at a word boundary to fit the
platform's limit, and only then escaped by the platform's renderer
(`bot.platforms.telegram.render`, `bot.platforms.slack.render`,
`bot.platforms.console`), so a cut never lands inside an entity or a tag.

Buttons ("Mute rule 24 h", "Unsubscribe", "Not relevant") carry the rule and
the story; `rule_ref` is the rule as it fits in a button: the rule name, or
`#` + 16 hex digits of its SHA-256 when the name is longer than 48 UTF-8
bytes (or starts with `#`); `rule_ref_matches` resolves a ref.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bot.core.model import Match, Story

URL_LIMIT = 2048

MUTE = "mute"
UNSUBSCRIBE = "unsubscribe"
NOT_RELEVANT = "not_relevant"
BUTTON_LABELS = {MUTE: "Mute rule 24 h", UNSUBSCRIBE: "Unsubscribe", NOT_RELEVANT: "Not relevant"}
RULE_NAME_BYTES = 48
MAX_RULE_LINES = 5
MAX_SOURCES = 10
ELLIPSIS = "…"

# C0/C1 controls (a terminal would obey ESC sequences) and bidi embeddings,
# overrides and isolates (they can visually reorder the rest of a message).
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_WHITESPACE = re.compile(r"\s+")
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}


@dataclass(frozen=True, slots=True)
class AlertAction:
    """A button pressed under an alert, decoded from callback data or a Slack value."""

    action: str
    """`mute`, `unsubscribe` or `not_relevant`."""
    rule_ref: str
    """The rule name, or `#<sha256 prefix>` for long names: see `rule_ref_matches`."""
    story_key: str | None = None
    """The story key (Slack) or its first 12 characters (Telegram)."""


# ── text shaping ───────────────────────────────────────────────────────────


def clean_text(text: str) -> str:
    """Feed text as one safe line: unsafe characters dropped, whitespace collapsed."""
    return _WHITESPACE.sub(" ", _UNSAFE_CHARS.sub(" ", text)).strip()


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts in."""
    return len(text.encode("utf-16-le")) // 2


def fit_text(
    text: str, budget: int, escape: Callable[[str], str] = str, measure: Callable[[str], int] = len
) -> str:
    """`escape(text)`, trimmed at a word boundary with "…" so it measures ≤ `budget`.

    The cut is chosen on the plain text and escaping happens after it, so it
    never splits an entity; it never separates a character from a combining
    mark or an emoji joiner either. Returns "" when not even "…" fits.
    """
    escaped = escape(text)
    if measure(escaped) <= budget:
        return escaped
    room = budget - measure(ELLIPSIS)
    if room < 0:
        return ""
    end, used = 0, 0
    for ch in text:
        cost = measure(escape(ch))
        if used + cost > room:
            break
        used += cost
        end += 1
    return escape(_cut_at_word(text, end)) + ELLIPSIS


def _cut_at_word(text: str, end: int) -> str:
    """The prefix before `end`, moved back to a space if one is not too far back."""
    space = text.rfind(" ", 0, end + 1)
    if space > end // 2:
        return text[:space].rstrip()
    while 0 < end < len(text) and _continues_previous(text[end - 1], text[end]):
        end -= 1
    return text[:end].rstrip()


def _continues_previous(before: str, ch: str) -> bool:
    """Whether `ch` belongs to the same visible character as `before`."""
    skin_tone = "\U0001f3fb" <= ch <= "\U0001f3ff"
    return bool(unicodedata.combining(ch)) or ch in _JOINERS or skin_tone or before == "\u200d"


def safe_url(url: str) -> str | None:
    """The URL if it is an absolute http(s) link we may show, else None."""
    url = url.strip()
    if not url or len(url) > URL_LIMIT or _UNSAFE_CHARS.search(url) or _WHITESPACE.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def published_label(when: datetime) -> str:
    """A readable UTC time, e.g. `2024-05-01 14:03 UTC` (naive times are taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def match_reason(match: Match) -> str:
    return clean_text(match.why or match.evidence or "")


def rule_lines(matches: Sequence[Match]) -> list[tuple[str, str]]:
    """(rule, reason) per match, at most five, then a "+N more" line."""
    lines = [(clean_text(m.rule), match_reason(m)) for m in matches[:MAX_RULE_LINES]]
    if len(matches) > MAX_RULE_LINES:
        lines.append((f"+{len(matches) - MAX_RULE_LINES} more rules", ""))
    return lines


def alert_sources(extra_sources: Sequence[Story]) -> list[tuple[str, str | None]]:
    """(publisher, safe url) for each distinct publisher, in order."""
    seen: dict[str, str | None] = {}
    for story in extra_sources:
        name = clean_text(story.publisher) or "another source"
        seen.setdefault(name, safe_url(story.url))
    return list(seen.items())


def render_sources_note(extra_sources: Sequence[Story]) -> str:
    """Plain "Also reported by: A, B" for the edit that adds later sources ("" if none)."""
    names = [name for name, _ in alert_sources(extra_sources)]
    if not names:
        return ""
    shown = ", ".join(names[:MAX_SOURCES])
    more = f" and {len(names) - MAX_SOURCES} more" if len(names) > MAX_SOURCES else ""
    return f"Also reported by: {shown}{more}"


# ── buttons ────────────────────────────────────────────────────────────────


def rule_ref(rule: str) -> str:
    """The rule as it fits in a button: its name, or `#` + a SHA-256 prefix if long."""
    if len(rule.encode()) <= RULE_NAME_BYTES and not rule.startswith("#"):
        return rule
    return "#" + hashlib.sha256(rule.encode()).hexdigest()[:16]


def rule_ref_matches(ref: str, rule: str) -> bool:
    """Whether a button's rule ref names `rule` (compare against every known rule)."""
    return rule_ref(rule) == ref
