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
from bot.core.model import Alert, Story
from bot.platforms.render import (
    BUTTON_LABELS,
    AlertAction,
    clean_text,
    fit_text,
    published_label,
    render_sources_note,
    rule_lines,
    rule_ref,
    safe_url,
    utf16_len,
)

SLACK_SECTION_LIMIT = 3000
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


def _slack_context(alert: Alert, extra_sources: Sequence[Story]) -> dict[str, object]:
    story = alert.story
    elements = [
        _mrkdwn(
            f"{_slack_fit(clean_text(story.publisher), 200)} · {published_label(story.published)}"
        )
    ]
    for rule, reason in rule_lines(alert.matches):
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
