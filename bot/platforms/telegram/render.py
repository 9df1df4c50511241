"""Telegram rendering: an Alert as HTML parse-mode text and its inline keyboard.

HTML parse mode; `html.escape` on text and on the href; only http(s) links;
the whole message ≤ 4096 UTF-16 code units measured on the raw HTML, which is
never shorter than the text left after entity parsing.

Buttons' callback_data (≤ 64 bytes) is `m:<ref>`, `u:<ref>` and
`n:<ref>:<story key, first 12 chars>`, where `<ref>` is
`bot.platforms.render.rule_ref` of the rule.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from bot.core.errors import CommandError
from bot.core.model import Alert, Match, Story
from bot.platforms.render import (
    BUTTON_LABELS,
    MAX_SOURCES,
    MUTE,
    NOT_RELEVANT,
    UNSUBSCRIBE,
    AlertAction,
    alert_sources,
    clean_text,
    fit_text,
    published_label,
    rule_lines,
    rule_ref,
    safe_url,
    utf16_len,
)

TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CALLBACK_LIMIT = 64
_CALLBACK_PREFIX = {MUTE: "m", UNSUBSCRIBE: "u", NOT_RELEVANT: "n"}
_STORY_PREFIX_LEN = 12

Keyboard = list[list[tuple[str, str]]]
"""Rows of (button text, callback_data), turned into telegram objects at the edge."""


# ── Telegram (HTML parse mode) ─────────────────────────────────────────────


def escape_html(text: str) -> str:
    """Text safe inside Telegram HTML: `&`, `<` and `>` escaped (quotes need it only in
    attributes, where `href` is escaped with `html.escape(…, quote=True)`)."""
    return html.escape(text, quote=False)


def _tg_fit(text: str, budget: int) -> str:
    return fit_text(text, budget, escape_html, utf16_len)


def _tg_link(url: str, label_html: str, href_limit: int = 1024) -> str:
    """`<a href>` for a safe URL whose escaped form stays short, else the bare label."""
    link = safe_url(url)
    href = html.escape(link, quote=True) if link else ""
    if not href or utf16_len(href) > href_limit:
        return label_html
    return f'<a href="{href}">{label_html}</a>'


def _tg_rules(matches: Sequence[Match]) -> str:
    lines = []
    for rule, reason in rule_lines(matches):
        why = f" — {_tg_fit(reason, 120)}" if reason else ""
        lines.append(f"Matched <b>{_tg_fit(rule, 64)}</b>{why}")
    return "\n".join(lines)


def _tg_sources(extra_sources: Sequence[Story], budget: int = 600) -> str:
    """ "Also reported by" with each publisher linked, as many as fit in `budget`."""
    sources = alert_sources(extra_sources)
    parts: list[str] = []
    for name, url in sources[:MAX_SOURCES]:
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
