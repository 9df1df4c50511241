"""Pure renderers: an Alert becomes what each platform posts.

Every feed-derived string is cleaned (control and bidi-override characters
removed, whitespace collapsed), trimmed at a word boundary to fit the
platform's limit, and only then escaped, so a cut never lands inside an
entity or a tag:

- Telegram: HTML parse mode; `html.escape` on text and on the href; only
  http(s) links; whole message ≤ 4096 UTF-16 code units measured on the raw
  HTML, which is never shorter than the text left after entity parsing.
- Slack: Block Kit with mrkdwn; `&`, `<`, `>` escaped so `<!channel>`,
  `<@U…>` and `<url|text>` in feed text show literally; text objects are
  `verbatim` so bare `@channel` or `#general` is not auto-linked; section
  text ≤ 3000. Slack has no escape for `*_~` formatting marks: they can
  style feed text but cannot ping, link or break out of our markup.
- Console: plain text for a terminal.

Buttons ("Mute rule 24 h", "Unsubscribe", "Not relevant") carry the rule and
the story. Telegram callback_data (≤ 64 bytes) uses `m:<ref>`, `u:<ref>` and
`n:<ref>:<story key, first 12 chars>`, where `<ref>` is the rule name, or
`#` + 16 hex digits of its SHA-256 when the name is longer than 48 UTF-8
bytes (or starts with `#`); `rule_ref_matches` resolves a ref. Slack buttons
use action_ids `newswatch_mute`, `newswatch_unsubscribe`,
`newswatch_not_relevant` with value `{"rule": <ref>, "story": <story key>}`.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bot.errors import CommandError
from bot.model import Alert, Match, Story

TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CALLBACK_LIMIT = 64
SLACK_SECTION_LIMIT = 3000
URL_LIMIT = 2048

MUTE = "mute"
UNSUBSCRIBE = "unsubscribe"
NOT_RELEVANT = "not_relevant"
BUTTON_LABELS = {MUTE: "Mute rule 24 h", UNSUBSCRIBE: "Unsubscribe", NOT_RELEVANT: "Not relevant"}
SLACK_ACTION_IDS = {action: f"newswatch_{action}" for action in BUTTON_LABELS}
_CALLBACK_PREFIX = {MUTE: "m", UNSUBSCRIBE: "u", NOT_RELEVANT: "n"}
_STORY_PREFIX_LEN = 12
_RULE_NAME_BYTES = 48
_MAX_RULE_LINES = 5
_MAX_SOURCES = 10
ELLIPSIS = "…"

# C0/C1 controls (a terminal would obey ESC sequences) and bidi embeddings,
# overrides and isolates (they can visually reorder the rest of a message).
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_WHITESPACE = re.compile(r"\s+")
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}

Keyboard = list[list[tuple[str, str]]]
"""Rows of (button text, callback_data), turned into telegram objects at the edge."""


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


def _match_reason(match: Match) -> str:
    return clean_text(match.why or match.evidence or "")


def _rule_lines(matches: Sequence[Match]) -> list[tuple[str, str]]:
    """(rule, reason) per match, at most five, then a "+N more" line."""
    lines = [(clean_text(m.rule), _match_reason(m)) for m in matches[:_MAX_RULE_LINES]]
    if len(matches) > _MAX_RULE_LINES:
        lines.append((f"+{len(matches) - _MAX_RULE_LINES} more rules", ""))
    return lines


def _sources(extra_sources: Sequence[Story]) -> list[tuple[str, str | None]]:
    """(publisher, safe url) for each distinct publisher, in order."""
    seen: dict[str, str | None] = {}
    for story in extra_sources:
        name = clean_text(story.publisher) or "another source"
        seen.setdefault(name, safe_url(story.url))
    return list(seen.items())


def render_sources_note(extra_sources: Sequence[Story]) -> str:
    """Plain "Also reported by: A, B" for the edit that adds later sources ("" if none)."""
    names = [name for name, _ in _sources(extra_sources)]
    if not names:
        return ""
    shown = ", ".join(names[:_MAX_SOURCES])
    more = f" and {len(names) - _MAX_SOURCES} more" if len(names) > _MAX_SOURCES else ""
    return f"Also reported by: {shown}{more}"


# ── Telegram (HTML parse mode) ─────────────────────────────────────────────


def _tg_escape(text: str) -> str:
    return html.escape(text, quote=False)


def _tg_fit(text: str, budget: int) -> str:
    return fit_text(text, budget, _tg_escape, utf16_len)


def _tg_link(url: str, label_html: str, href_limit: int = 1024) -> str:
    """`<a href>` for a safe URL whose escaped form stays short, else the bare label."""
    link = safe_url(url)
    href = html.escape(link, quote=True) if link else ""
    if not href or utf16_len(href) > href_limit:
        return label_html
    return f'<a href="{href}">{label_html}</a>'


def _tg_rules(matches: Sequence[Match]) -> str:
    lines = []
    for rule, reason in _rule_lines(matches):
        why = f" — {_tg_fit(reason, 120)}" if reason else ""
        lines.append(f"Matched <b>{_tg_fit(rule, 64)}</b>{why}")
    return "\n".join(lines)


def _tg_sources(extra_sources: Sequence[Story], budget: int = 600) -> str:
    """ "Also reported by" with each publisher linked, as many as fit in `budget`."""
    sources = _sources(extra_sources)
    parts: list[str] = []
    for name, url in sources[:_MAX_SOURCES]:
        part = _tg_link(url or "", _tg_fit(name, 40), href_limit=300)
        if sum(utf16_len(p) + 2 for p in [*parts, part]) > budget - 60:
            break
        parts.append(part)
    if not parts:
        return ""
    more = f" and {len(sources) - len(parts)} more" if len(sources) > len(parts) else ""
    return f"<i>Also reported by: {', '.join(parts)}{more}</i>"


def render_telegram(alert: Alert, extra_sources: Sequence[Story] = ()) -> str:
    """The alert as Telegram HTML, ≤ 4096 UTF-16 units, every feed string escaped.

    Title (linked when the URL is http/https), publisher and UTC time, the
    summary, the rules that matched and why, and "also reported by" when
    `extra_sources` are given (for the edit).
    """
    story = alert.story
    title = f"<b>{_tg_link(story.url, _tg_fit(clean_text(story.title) or 'Untitled', 500))}</b>"
    meta = f"{_tg_fit(clean_text(story.publisher), 200)} · {published_label(story.published)}"
    tail = [part for part in (_tg_rules(alert.matches), _tg_sources(extra_sources)) if part]
    fixed = "\n\n".join([f"{title}\n{meta}", *tail])
    room = TELEGRAM_TEXT_LIMIT - utf16_len(fixed) - utf16_len("\n\n") * 2
    summary = _tg_fit(clean_text(alert.summary), room)
    parts = [f"{title}\n{meta}", summary, *tail]
    return "\n\n".join(part for part in parts if part)


# ── buttons ────────────────────────────────────────────────────────────────


def rule_ref(rule: str) -> str:
    """The rule as it fits in a button: its name, or `#` + a SHA-256 prefix if long."""
    if len(rule.encode()) <= _RULE_NAME_BYTES and not rule.startswith("#"):
        return rule
    return "#" + hashlib.sha256(rule.encode()).hexdigest()[:16]


def rule_ref_matches(ref: str, rule: str) -> bool:
    """Whether a button's rule ref names `rule` (compare against every known rule)."""
    return rule_ref(rule) == ref


def telegram_callback_data(action: str, rule: str, story_key: str) -> str:
    """The callback_data for one button (≤ 64 bytes, scheme in the module docstring)."""
    prefix, ref = _CALLBACK_PREFIX[action], rule_ref(rule)
    if action == NOT_RELEVANT:
        return f"{prefix}:{ref}:{story_key[:_STORY_PREFIX_LEN]}"
    return f"{prefix}:{ref}"


def telegram_keyboard(alert: Alert) -> Keyboard:
    """One row with the three buttons for the alert's first matched rule ([] if none)."""
    if not alert.matches:
        return []
    rule, key = alert.matches[0].rule, alert.story.key
    return [
        [
            (label, telegram_callback_data(action, rule, key))
            for action, label in BUTTON_LABELS.items()
        ]
    ]


def parse_telegram_callback(data: str) -> AlertAction:
    """Decode callback_data from `telegram_keyboard`; CommandError if it is not ours."""
    actions = {prefix: action for action, prefix in _CALLBACK_PREFIX.items()}
    prefix, _, rest = data.partition(":")
    if prefix not in actions or not rest:
        raise CommandError(f"unknown button data {data[:64]!r}: expected m:, u: or n: and a rule")
    if actions[prefix] != NOT_RELEVANT:
        return AlertAction(actions[prefix], rest)
    ref, _, key = rest.rpartition(":")
    if not ref or not key:
        raise CommandError(f"button data {data[:64]!r} lacks the story: expected n:<rule>:<story>")
    return AlertAction(NOT_RELEVANT, ref, key)


# ── Slack (Block Kit, mrkdwn) ──────────────────────────────────────────────


def slack_escape(text: str) -> str:
    """Escape `&`, `<`, `>` so Slack shows feed text literally (no pings, no links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_label(text: str) -> str:
    """Link label: escaped, and `|` swapped for a look-alike so it cannot end the URL part."""
    return slack_escape(text).replace("|", "∣")


def _slack_url(url: str) -> str | None:
    """The URL ready for `<url|label>`, or None if unsafe or too long once escaped."""
    link = safe_url(url)
    if link is None:
        return None
    escaped = slack_escape(link.replace("|", "%7C"))
    return escaped if utf16_len(escaped) <= 1500 else None


def _slack_fit(text: str, budget: int, escape: Callable[[str], str] = slack_escape) -> str:
    return fit_text(text, budget, escape, utf16_len)


def _mrkdwn(text: str) -> dict[str, object]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _slack_context(alert: Alert, extra_sources: Sequence[Story]) -> dict[str, object]:
    story = alert.story
    elements = [
        _mrkdwn(
            f"{_slack_fit(clean_text(story.publisher), 200)} · {published_label(story.published)}"
        )
    ]
    for rule, reason in _rule_lines(alert.matches):
        why = f" — {_slack_fit(reason, 300)}" if reason else ""
        elements.append(_mrkdwn(f"Matched *{_slack_fit(rule, 64)}*{why}"))
    note = render_sources_note(extra_sources)
    if note:
        elements.append(_mrkdwn(_slack_fit(note, 1000)))
    return {"type": "context", "elements": elements}


def _slack_actions(alert: Alert) -> list[dict[str, object]]:
    if not alert.matches:
        return []
    rule, key = alert.matches[0].rule, alert.story.key[:200]
    value = json.dumps({"rule": rule_ref(rule), "story": key}, separators=(",", ":"))
    buttons = [
        {
            "type": "button",
            "action_id": SLACK_ACTION_IDS[action],
            "text": {"type": "plain_text", "text": label, "emoji": False},
            "value": value,
        }
        for action, label in BUTTON_LABELS.items()
    ]
    return [{"type": "actions", "block_id": "newswatch_alert_actions", "elements": buttons}]


def render_slack(
    alert: Alert, extra_sources: Sequence[Story] = ()
) -> tuple[str, list[dict[str, object]]]:
    """(fallback text, Block Kit blocks) for the alert, every feed string mrkdwn-escaped.

    A section with the linked title and summary (≤ 3000), a context block with
    publisher, time, rules and "also reported by", and the three buttons.
    """
    story = alert.story
    title = clean_text(story.title) or "Untitled"
    url = _slack_url(story.url)
    label = _slack_fit(title, 600, _slack_label if url else slack_escape)
    heading = f"*<{url}|{label}>*" if url else f"*{label}*"
    room = SLACK_SECTION_LIMIT - utf16_len(heading) - 1
    summary = _slack_fit(clean_text(alert.summary), room)
    text = _mrkdwn(f"{heading}\n{summary}" if summary else heading)
    section: dict[str, object] = {"type": "section", "text": text}
    blocks = [section, _slack_context(alert, extra_sources)]
    fallback = _slack_fit(f"{title} — {clean_text(story.publisher)}", 300)
    return fallback, [*blocks, *_slack_actions(alert)]


def parse_slack_button(action_id: str, value: str) -> AlertAction:
    """Decode a button press from `render_slack`; CommandError if it is not ours."""
    actions = {aid: action for action, aid in SLACK_ACTION_IDS.items()}
    if action_id not in actions:
        raise CommandError(f"unknown Slack action_id {action_id[:80]!r}: expected newswatch_*")
    try:
        data = json.loads(value)
        return AlertAction(actions[action_id], str(data["rule"]), str(data["story"]))
    except (ValueError, TypeError, KeyError) as exc:
        raise CommandError(
            f'Slack button value {value[:80]!r} is not {{"rule": …, "story": …}}'
        ) from exc


# ── console ────────────────────────────────────────────────────────────────


def render_console(alert: Alert, extra_sources: Sequence[Story] = ()) -> str:
    """The alert as plain text for a terminal: what a person would read in chat."""
    story = alert.story
    lines = [
        fit_text(clean_text(story.title) or "Untitled", 300),
        f"{fit_text(clean_text(story.publisher), 120)} · {published_label(story.published)}",
    ]
    link = safe_url(story.url)
    if link:
        lines.append(link)
    summary = fit_text(clean_text(alert.summary), 2000)
    if summary:
        lines += ["", summary]
    rules = _rule_lines(alert.matches)
    if rules:
        lines.append("")
    for rule, reason in rules:
        lines.append(f"Matched {rule}: {fit_text(reason, 300)}" if reason else f"Matched {rule}")
    note = render_sources_note(extra_sources)
    if note:
        lines += ["", note]
    return "\n".join(lines)
