"""What every platform's renderer shares: safe text shaping, the alert's parts, the
follow-up and digest wording, and the one splitter for long messages.

Every feed-derived string is cleaned (control and bidi-override characters
removed, whitespace collapsed), trimmed at a word boundary to fit the
platform's limit, and only then escaped by the platform's renderer
(`bot.platforms.telegram.render`, `bot.platforms.slack.render`,
`bot.platforms.console`), so a cut never lands inside an entity or a tag.

Buttons ("Mute rule 24 h", "Unsubscribe", "Not relevant") carry the rule and
the story; `rule_ref` is the rule as it fits in a button: the rule name, or
`#` + 16 hex digits of its SHA-256 when the name is longer than 48 UTF-8
bytes (or starts with `#`); `rule_ref_matches` resolves a ref.

A message too long for the platform (a reply listing 60 feeds, a digest of
40 stories) is split, never cut: `split_text` breaks plain text at line
breaks (an overlong line at words, a word longer than a whole part at a
character) and escapes each piece on its own, and `pack_parts` joins
already-rendered pieces (each valid markup) into as few parts as fit. Every
part is therefore valid markup by itself.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bot.core.model import Alert, Digest, Hold, Match, Source

URL_LIMIT = 2048

MUTE = "mute"
UNSUBSCRIBE = "unsubscribe"
NOT_RELEVANT = "not_relevant"
BUTTON_LABELS = {MUTE: "Mute rule 24 h", UNSUBSCRIBE: "Unsubscribe", NOT_RELEVANT: "Not relevant"}
RULE_NAME_BYTES = 48
MAX_RULE_LINES = 5
MAX_SOURCES = 3
"""Other outlets named in a follow-up; the rest are counted."""
ELLIPSIS = "…"
URGENT = "URGENT"
DIGEST_SUMMARY = 280
"""A digest entry's one-line summary, in characters."""

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


def alert_sources(sources: Sequence[Source]) -> list[tuple[str, str | None]]:
    """(publisher, safe url) for each distinct publisher, in order."""
    seen: dict[str, str | None] = {}
    for source in sources:
        name = clean_text(source.publisher) or "another source"
        seen.setdefault(name, safe_url(source.url))
    return list(seen.items())


def outlets_label(alert: Alert) -> str:
    """`(3 outlets)`: how many publishers reported the story, its own included."""
    return f"({alert.outlets} outlets)"


def sources_tail(alert: Alert, listed: int) -> str:
    """What follows the `listed` names: ` and 2 more (5 outlets)`."""
    more = len(alert_sources(alert.sources)) - listed
    return f"{f' and {more} more' if more > 0 else ''} {outlets_label(alert)}"


def render_sources_note(alert: Alert) -> str:
    """Plain "Also reported by: A, B (3 outlets)" for an alert with later sources ("" if none)."""
    names = [name for name, _ in alert_sources(alert.sources)][:MAX_SOURCES]
    if not names:
        return ""
    return f"Also reported by: {', '.join(names)}{sources_tail(alert, len(names))}"


def urgent_label(alert: Alert) -> str:
    """`URGENT`, with the outlet count once several reported it ("" if not urgent)."""
    if not alert.urgent:
        return ""
    return f"{URGENT} · {alert.outlets} outlets" if alert.outlets > 1 else URGENT


def new_sources_line(sources: Sequence[Source]) -> list[tuple[str, str, str | None]]:
    """(publisher, title, safe url) of sources for a thread reply, each publisher once."""
    seen: dict[str, tuple[str, str, str | None]] = {}
    for source in sources:
        name = clean_text(source.publisher) or "another source"
        seen.setdefault(name, (name, clean_text(source.title), safe_url(source.url)))
    return list(seen.values())


# ── digests ────────────────────────────────────────────────────────────────

_HOLD_WORDS = {
    Hold.MUTE: "held while this chat was muted",
    Hold.QUIET: "held during quiet hours",
    Hold.DIGEST: "from digest subscriptions",
}


def digest_heading(digest: Digest) -> str:
    """`newswatch digest: 4 stories held while this chat was muted`."""
    count = len(digest.alerts)
    noun = "story" if count == 1 else "stories"
    why = " and ".join(_HOLD_WORDS[hold] for hold in digest.holds)
    return f"newswatch digest: {count} {noun}{f' {why}' if why else ''}"


def part_label(part: int, parts: int) -> str:
    """`(part 2 of 3)` for a message split in parts ("" for a single one)."""
    return f"(part {part + 1} of {parts})" if parts > 1 else ""


# ── splitting long messages (see the module docstring) ─────────────────────


def group_parts(
    pieces: Sequence[str],
    limit: int,
    *,
    measure: Callable[[str], int] = len,
    separator: str = "\n",
    max_pieces: int | None = None,
) -> list[list[str]]:
    """`pieces` in order, grouped into as few parts as fit in `limit` once joined by
    `separator` (and, with `max_pieces`, at most that many pieces a part). A piece is
    never split: one longer than `limit` (the caller's to avoid) stands alone."""
    parts: list[list[str]] = []
    used = 0
    gap = measure(separator)
    for piece in pieces:
        cost = measure(piece)
        current = parts[-1] if parts else None
        if (
            current is not None
            and used + gap + cost <= limit
            and (max_pieces is None or len(current) < max_pieces)
        ):
            current.append(piece)
            used += gap + cost
        else:
            parts.append([piece])
            used = cost
    return parts


def pack_parts(
    pieces: Sequence[str],
    limit: int,
    *,
    measure: Callable[[str], int] = len,
    separator: str = "\n",
) -> list[str]:
    """`group_parts`, each part joined by `separator`: the text of each message."""
    groups = group_parts(pieces, limit, measure=measure, separator=separator)
    return [separator.join(group) for group in groups]


def split_text(
    text: str,
    limit: int,
    *,
    escape: Callable[[str], str] = str,
    measure: Callable[[str], int] = len,
) -> list[str]:
    """Plain `text` escaped in parts of whole lines, each measuring ≤ `limit`; a line
    too long for one part goes at word boundaries (a word longer than a part, at a
    visible character). Nothing is left out. [] for blank text."""
    pieces: list[str] = []
    for line in text.strip("\n").split("\n"):
        pieces += _line_pieces(line, limit, escape, measure)
    return [part for part in pack_parts(pieces, limit, measure=measure) if part.strip()]


def _line_pieces(
    line: str, limit: int, escape: Callable[[str], str], measure: Callable[[str], int]
) -> list[str]:
    """One line as escaped pieces that each fit in `limit`."""
    if measure(escape(line)) <= limit:
        return [escape(line)]
    pieces: list[str] = []
    current = ""
    for word in _words_fitting(line, limit, escape, measure):
        joined = f"{current} {word}" if current else word
        if measure(escape(joined)) <= limit:
            current = joined
            continue
        pieces.append(escape(current))
        current = word
    return [*pieces, escape(current)] if current else pieces


def _words_fitting(
    line: str, limit: int, escape: Callable[[str], str], measure: Callable[[str], int]
) -> list[str]:
    """The line's words, any word too long for a part broken into pieces that fit."""
    words: list[str] = []
    for word in line.split(" "):
        while measure(escape(word)) > limit:
            end = _longest_fitting_prefix(word, limit, escape, measure)
            words.append(word[:end])
            word = word[end:]
        words.append(word)
    return words


def _longest_fitting_prefix(
    word: str, limit: int, escape: Callable[[str], str], measure: Callable[[str], int]
) -> int:
    """The length of the longest prefix of `word` that fits, never splitting a
    character from its combining marks or joiners (at least one character)."""
    end, used = 0, 0
    for ch in word:
        cost = measure(escape(ch))
        if used + cost > limit:
            break
        used += cost
        end += 1
    while 1 < end < len(word) and _continues_previous(word[end - 1], word[end]):
        end -= 1
    return max(end, 1)


# ── buttons ────────────────────────────────────────────────────────────────


def rule_ref(rule: str) -> str:
    """The rule as it fits in a button: its name, or `#` + a SHA-256 prefix if long."""
    if len(rule.encode()) <= RULE_NAME_BYTES and not rule.startswith("#"):
        return rule
    return "#" + hashlib.sha256(rule.encode()).hexdigest()[:16]


def rule_ref_matches(ref: str, rule: str) -> bool:
    """Whether a button's rule ref names `rule` (compare against every known rule)."""
    return rule_ref(rule) == ref
