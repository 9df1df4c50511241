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
from bot.core.model import Alert, Digest, Match
from bot.platforms.render import (
    BUTTON_LABELS,
    DIGEST_SUMMARY,
    MAX_SOURCES,
    MUTE,
    NOT_RELEVANT,
    UNSUBSCRIBE,
    AlertAction,
    alert_sources,
    clean_text,
    digest_heading,
    fit_text,
    pack_parts,
    part_label,
    published_label,
    rule_lines,
    rule_ref,
    safe_url,
    sources_tail,
    urgent_label,
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


def _tg_sources(alert: Alert, budget: int = 600) -> str:
    """ "Also reported by" with each publisher linked (at most a few, as many as fit
    in `budget`), then how many more and the outlet count."""
    parts: list[str] = []
    for name, url in alert_sources(alert.sources)[:MAX_SOURCES]:
        part = _tg_link(url or "", _tg_fit(name, 40), href_limit=300)
        if sum(utf16_len(p) + 2 for p in [*parts, part]) > budget - 60:
            break
        parts.append(part)
    if not parts:
        return ""
    return (
        f"<i>Also reported by: {', '.join(parts)}{escape_html(sources_tail(alert, len(parts)))}</i>"
    )


def _tg_urgent(alert: Alert) -> str:
    label = urgent_label(alert)
    return f"🔴 <b>{escape_html(label)}</b>\n" if label else ""


def render_telegram(alert: Alert, *, outcome: str | None = None) -> str:
    """The alert as Telegram HTML, ≤ 4096 UTF-16 units, every feed string escaped.

    The urgent mark (with the outlet count), the title (linked when the URL is
    http/https), publisher and UTC time, the summary, the rules that matched and
    why, "also reported by" for later sources, and `outcome` (the answer of a
    button that replaced the buttons) as a last italic line.
    """
    story = alert.story
    title = f"<b>{_tg_link(story.url, _tg_fit(clean_text(story.title) or 'Untitled', 500))}</b>"
    meta = f"{_tg_fit(clean_text(story.publisher), 200)} · {published_label(story.published)}"
    head = f"{_tg_urgent(alert)}{title}\n{meta}"
    answer = (
        f"<i>{_tg_fit(clean_text(outcome), 300)}</i>" if outcome and clean_text(outcome) else ""
    )
    tail = [part for part in (_tg_rules(alert.matches), _tg_sources(alert), answer) if part]
    fixed = "\n\n".join([head, *tail])
    room = TELEGRAM_TEXT_LIMIT - utf16_len(fixed) - utf16_len("\n\n") * 2
    summary = _tg_fit(clean_text(alert.summary), room)
    parts = [head, summary, *tail]
    return "\n\n".join(part for part in parts if part)


def _tg_digest_entry(number: int, alert: Alert) -> str:
    """One story of a digest: number, urgent mark, linked title, publisher, time,
    a one-line summary and the other outlets."""
    story = alert.story
    title = _tg_link(story.url, _tg_fit(clean_text(story.title) or "Untitled", 300))
    mark = f"{_tg_urgent(alert).strip()} " if alert.urgent else ""
    meta = f"{_tg_fit(clean_text(story.publisher), 100)} · {published_label(story.published)}"
    lines = [f"{number}. {mark}<b>{title}</b>", meta]
    summary = _tg_fit(clean_text(alert.summary), DIGEST_SUMMARY)
    if summary:
        lines.append(summary)
    sources = _tg_sources(alert, budget=400)
    if sources:
        lines.append(sources)
    return "\n".join(lines)


DIGEST_HEADING_ROOM = 160
"""UTF-16 units kept free in each digest part for its heading."""


def render_telegram_digest(digest: Digest) -> list[str]:
    """The digest as Telegram HTML messages, each ≤ 4096 UTF-16 units: a heading
    (with "part k of n" when split), then the stories in order, each story whole
    in one part."""
    entries = [_tg_digest_entry(n, alert) for n, alert in enumerate(digest.alerts, 1)]
    room = TELEGRAM_TEXT_LIMIT - DIGEST_HEADING_ROOM
    bodies = pack_parts(entries, room, measure=utf16_len, separator="\n\n") or [""]
    heading = escape_html(digest_heading(digest))
    return [
        f"<b>{heading}</b> {escape_html(part_label(n, len(bodies)))}".rstrip() + f"\n\n{body}"
        for n, body in enumerate(bodies)
    ]


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
