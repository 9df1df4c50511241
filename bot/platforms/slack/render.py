"""Slack rendering: an Alert as Block Kit with mrkdwn, and its buttons decoded.

`&`, `<`, `>` are escaped so `<!channel>`, `<@U…>` and `<url|text>` in feed
text show literally; text objects are `verbatim` so bare `@channel` or
`#general` is not auto-linked; section text ≤ 3000. Slack has no escape for
`*_~` formatting marks: they can style feed text but cannot ping, link or
break out of our markup. Buttons use action_ids `newswatch_mute`,
`newswatch_unsubscribe`, `newswatch_not_relevant` with value
`{"rule": <ref>, "story": <story key>}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from bot.core.errors import CommandError
from bot.core.model import Alert, Digest, Source
from bot.platforms.render import (
    BUTTON_LABELS,
    DIGEST_SUMMARY,
    MAX_SOURCES,
    AlertAction,
    alert_sources,
    clean_text,
    digest_heading,
    fit_text,
    group_parts,
    new_sources_line,
    outlets_label,
    part_label,
    published_label,
    rule_lines,
    rule_ref,
    safe_url,
    sources_tail,
    urgent_label,
    utf16_len,
)

SLACK_SECTION_LIMIT = 3000
SLACK_MAX_BLOCKS = 50
SLACK_MESSAGE_TEXT = 40_000
"""Slack truncates a message's text beyond 40,000 characters; parts stay under it."""
SLACK_ACTION_IDS = {action: f"newswatch_{action}" for action in BUTTON_LABELS}


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


def _slack_link(url: str, label: str) -> str:
    """`<url|label>` for a safe URL, else the escaped label."""
    link = _slack_url(url)
    return f"<{link}|{_slack_fit(label, 200, _slack_label)}>" if link else _slack_fit(label, 200)


def slack_sources_note(alert: Alert) -> str:
    """ "Also reported by" with each publisher linked, at most a few, and the count."""
    named = alert_sources(alert.sources)[:MAX_SOURCES]
    if not named:
        return ""
    links = ", ".join(_slack_link(url or "", name) for name, url in named)
    return f"Also reported by: {links}{slack_escape(sources_tail(alert, len(named)))}"


def _slack_context(alert: Alert) -> dict[str, object]:
    story = alert.story
    elements = [
        _mrkdwn(
            f"{_slack_fit(clean_text(story.publisher), 200)} · {published_label(story.published)}"
        )
    ]
    for rule, reason in rule_lines(alert.matches):
        why = f" — {_slack_fit(reason, 300)}" if reason else ""
        elements.append(_mrkdwn(f"Matched *{_slack_fit(rule, 64)}*{why}"))
    note = slack_sources_note(alert)
    if note:
        elements.append(_mrkdwn(note))
    return {"type": "context", "elements": elements}


def _slack_urgent(alert: Alert) -> str:
    label = urgent_label(alert)
    return f":rotating_light: *{slack_escape(label)}*\n" if label else ""


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


def _slack_heading(alert: Alert, budget: int = 600) -> str:
    """The urgent mark and the bold, linked title."""
    story = alert.story
    title = clean_text(story.title) or "Untitled"
    url = _slack_url(story.url)
    label = _slack_fit(title, budget, _slack_label if url else slack_escape)
    return _slack_urgent(alert) + (f"*<{url}|{label}>*" if url else f"*{label}*")


def render_slack(
    alert: Alert, *, outcome: str | None = None
) -> tuple[str, list[dict[str, object]]]:
    """(fallback text, Block Kit blocks) for the alert, every feed string mrkdwn-escaped.

    A section with the urgent mark, the linked title and the summary (≤ 3000), a
    context block with publisher, time, rules and "also reported by", and the
    three buttons, or, once a button's answer replaced them, that `outcome`.
    """
    story = alert.story
    heading = _slack_heading(alert)
    room = SLACK_SECTION_LIMIT - utf16_len(heading) - 1
    summary = _slack_fit(clean_text(alert.summary), room)
    text = _mrkdwn(f"{heading}\n{summary}" if summary else heading)
    section: dict[str, object] = {"type": "section", "text": text}
    blocks = [section, _slack_context(alert)]
    prefix = "URGENT: " if alert.urgent else ""
    fallback = _slack_fit(f"{prefix}{clean_text(story.title)} — {clean_text(story.publisher)}", 300)
    if outcome and clean_text(outcome):
        answer = _mrkdwn(_slack_fit(clean_text(outcome), SLACK_SECTION_LIMIT))
        return fallback, [*blocks, {"type": "context", "elements": [answer]}]
    return fallback, [*blocks, *_slack_actions(alert)]


def render_slack_thread(
    alert: Alert, sources: Sequence[Source]
) -> tuple[str, list[dict[str, object]]]:
    """The follow-up posted in the alert's thread: each new outlet with its linked title."""
    lines = [
        f"• {_slack_fit(name, 100)}: {_slack_link(url or '', title or name)}"
        for name, title, url in new_sources_line(sources)
    ]
    count = f"Also reported by {slack_escape(outlets_label(alert)[1:-1])} now:"
    text = _slack_fit(f"{count}\n" + "\n".join(lines), SLACK_SECTION_LIMIT, str)
    fallback = _slack_fit(f"Also reported by {len(lines)} more outlets", 300)
    return fallback, [{"type": "section", "text": _mrkdwn(text)}]


def _slack_digest_entry(number: int, alert: Alert) -> str:
    """One story of a digest as mrkdwn (≤ 3000)."""
    story = alert.story
    meta = f"{_slack_fit(clean_text(story.publisher), 100)} · {published_label(story.published)}"
    lines = [f"{number}. {_slack_heading(alert, 300)}", meta]
    summary = _slack_fit(clean_text(alert.summary), DIGEST_SUMMARY)
    if summary:
        lines.append(summary)
    note = slack_sources_note(alert)
    if note:
        lines.append(f"_{note}_")
    return _slack_fit("\n".join(lines), SLACK_SECTION_LIMIT, str)


def render_slack_digest(digest: Digest) -> list[tuple[str, list[dict[str, object]]]]:
    """The digest as Slack messages: a heading section (with "part k of n" when
    split), then one section per story, in order, within Slack's block and text
    limits."""
    entries = [_slack_digest_entry(n, alert) for n, alert in enumerate(digest.alerts, 1)]
    heading = slack_escape(digest_heading(digest))
    room = SLACK_MESSAGE_TEXT - 200
    parts = group_parts(
        entries, room, measure=utf16_len, separator="", max_pieces=SLACK_MAX_BLOCKS - 1
    ) or [[]]
    messages: list[tuple[str, list[dict[str, object]]]] = []
    for n, part in enumerate(parts):
        title = f"*{heading}* {part_label(n, len(parts))}".rstrip()
        blocks: list[dict[str, object]] = [
            {"type": "section", "text": _mrkdwn(text)} for text in [title, *part]
        ]
        messages.append((_slack_fit(digest_heading(digest), 300), blocks))
    return messages


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
