"""Slack payloads in, Block Kit out: the pure half of the Slack front-end.

`bot.platforms.slack.app` wires these into slack-bolt listeners; nothing here
does I/O.

- `command_text`: what a person typed, as the handlers expect it: the bot's own
  `<@BOT>` mention removed, Slack's `<url|label>`, `<@U…>` and `<#C…|name>`
  markup unwrapped, and `&amp;` `&lt;` `&gt;` decoded (Slack escapes message
  text so; a literal `<` typed by the user arrives as `&lt;`).
- `slash_command`, `event_command`, `button_click`: payloads → `Command` /
  `ActionCommand`. A DM between the bot and its user is PRIVATE (they manage
  their own alerts); channels, private channels and group DMs are GROUP, where
  only SLACK_ADMIN_IDS change subscriptions (Slack has no per-channel admins
  the bot can see).
- `reply_messages`, `answered_alert_blocks`: a `Reply` as mrkdwn sections with
  `&`, `<`, `>` escaped (no pings, no links), each ≤ 3000 characters, the
  `code` in ``` blocks, in as many messages as Slack's limits need (never
  cut); an alert whose buttons give way to the answer.
- `shown_in_channel`: whether a slash command's answer is posted for everyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.platforms.render import fit_text, group_parts, rule_ref_matches, split_text, utf16_len
from bot.platforms.slack.render import (
    SLACK_MAX_BLOCKS,
    SLACK_MESSAGE_TEXT,
    parse_slack_button,
    slack_escape,
)
from handlers import ActionCommand, ButtonAction, ChatKind, Command, Reply
from handlers.dispatch import find_command

PLATFORM = "slack"
SECTION_LIMIT = 3000
FALLBACK_LIMIT = 3000
CHAT_CHANGES = frozenset({"subscribe", "unsubscribe", "mute", "unmute", "quiet"})
"""Commands whose success the whole channel should see: they change what it receives."""

Block = dict[str, Any]

_MARKUP = re.compile(r"<([^<>]*)>")


# ── what people typed ──────────────────────────────────────────────────────


def _unwrap(match: re.Match[str]) -> str:
    target, _, label = match.group(1).partition("|")
    if target.startswith(("@", "#")):
        return target  # <@U123|ana> → @U123, <#C1|general> → #C1
    if target.startswith("!"):
        return label or "@" + target[1:]  # <!here> → @here
    return target  # a link: the URL itself, as typed


def command_text(text: str, bot_user_id: str = "") -> str:
    """Slack message or slash-command text as plain command words (see module docstring)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^<>]*)?>", " ", text)
    text = _MARKUP.sub(_unwrap, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def chat_kind(channel_id: str, channel_type: str = "") -> ChatKind:
    """PRIVATE for a DM the bot is part of (`im`, `D…`), GROUP for anything else.

    Only for conversations the bot takes part in (events, clicks on its own
    messages); a slash command can come from any DM, see `slash_command`.
    """
    if channel_type:
        return ChatKind.PRIVATE if channel_type == "im" else ChatKind.GROUP
    return ChatKind.PRIVATE if channel_id.startswith("D") else ChatKind.GROUP


def slash_command(body: Mapping[str, Any], *, in_own_dm: bool) -> Command | None:
    """The `/newswatch …` command; None without a channel or user.

    `in_own_dm` says whether the command came from the user's DM with the bot:
    only then is it PRIVATE (a DM between two people is no chat of the bot's).
    """
    channel, user = str(body.get("channel_id") or ""), str(body.get("user_id") or "")
    if not channel or not user:
        return None
    kind = ChatKind.PRIVATE if in_own_dm else ChatKind.GROUP
    text = command_text(str(body.get("text") or ""))
    return Command(PLATFORM, channel, user, str(body.get("user_name") or ""), kind, text)


def event_command(event: Mapping[str, Any], bot_user_id: str) -> Command | None:
    """An `app_mention` or a DM (`message` in an `im`) as a command; None to ignore.

    Edits, joins and other subtypes, bot messages and channel messages are ignored.
    """
    if event.get("subtype") or event.get("bot_id"):
        return None
    kind = str(event.get("type") or "")
    channel_type = str(event.get("channel_type") or "")
    if kind == "message" and channel_type != "im":
        return None
    if kind not in ("message", "app_mention"):
        return None
    channel, user = str(event.get("channel") or ""), str(event.get("user") or "")
    if not channel or not user:
        return None
    text = command_text(str(event.get("text") or ""), bot_user_id)
    return Command(PLATFORM, channel, user, "", chat_kind(channel, channel_type), text)


def reply_thread(event: Mapping[str, Any]) -> str | None:
    """Where to answer an event: a mention's thread (started if need be), or the DM's thread."""
    thread = event.get("thread_ts")
    if event.get("type") == "app_mention":
        return str(thread or event.get("ts") or "") or None
    return str(thread) if thread else None


def button_click(body: Mapping[str, Any], rule_names: Iterable[str]) -> ActionCommand:
    """A click on an alert's button; CommandError if the button is not ours."""
    [action, *_] = body.get("actions") or [{}]
    decoded = parse_slack_button(str(action.get("action_id", "")), str(action.get("value", "")))
    rule = next((n for n in rule_names if rule_ref_matches(decoded.rule_ref, n)), decoded.rule_ref)
    container = body.get("container") or {}
    channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
    user = body.get("user") or {}
    name = str(user.get("username") or user.get("name") or "")
    return ActionCommand(
        platform=PLATFORM,
        chat_id=channel,
        user_id=str(user.get("id") or ""),
        user_name=name,
        chat_kind=chat_kind(channel),
        action=ButtonAction(decoded.action),
        rule=rule,
        story_key=decoded.story_key or "",
    )


# ── what goes back ─────────────────────────────────────────────────────────


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _fit(text: str, budget: int) -> str:
    return fit_text(text, budget, slack_escape, utf16_len)


def _sections(reply: Reply) -> list[str]:
    """The reply's escaped text and code as section texts, each ≤ 3000 characters."""
    texts = split_text(reply.text, SECTION_LIMIT, escape=slack_escape, measure=utf16_len)
    if reply.code:
        code = reply.code.replace("`", "ˋ")  # a ``` inside would end the block
        chunks = split_text(code, SECTION_LIMIT - 8, escape=slack_escape, measure=utf16_len)
        texts += [f"```\n{chunk}\n```" for chunk in chunks]
    return texts or ["done"]


def reply_blocks(reply: Reply) -> tuple[str, list[Block]]:
    """(fallback text, every section) for a Reply; each piece escaped and ≤ 3000
    characters (`reply_messages` groups them into messages Slack accepts)."""
    blocks = [{"type": "section", "text": _mrkdwn(text)} for text in _sections(reply)]
    fallback = _fit(" ".join(reply.text.split()) or "done", FALLBACK_LIMIT)
    return fallback, blocks


def reply_messages(reply: Reply) -> list[tuple[str, list[Block]]]:
    """The Reply as Slack messages in order: each ≤ 50 sections and under Slack's
    40,000-character text limit, so nothing is cut."""
    fallback, _ = reply_blocks(reply)
    groups = group_parts(
        _sections(reply),
        SLACK_MESSAGE_TEXT,
        measure=utf16_len,
        separator="",
        max_pieces=SLACK_MAX_BLOCKS,
    )
    return [
        (fallback, [{"type": "section", "text": _mrkdwn(text)} for text in group])
        for group in groups
    ]


def answered_alert_blocks(original: Sequence[Any], reply: Reply) -> list[Block]:
    """The alert's own blocks without its buttons, then the answer as a context line."""
    kept = [b for b in original if isinstance(b, dict) and b.get("type") != "actions"]
    note = {"type": "context", "elements": [_mrkdwn(_fit(reply.text, SECTION_LIMIT))]}
    return [*kept[:49], note]


def shown_in_channel(command: Command, reply: Reply) -> bool:
    """Whether a slash command's answer is posted for the whole channel.

    Only a successful change to what the channel receives (subscribe,
    unsubscribe, mute, unmute, quiet) is: members see who changed it. Everything
    else, errors included, is shown only to the user who asked (`help` and
    `rules` would be noise, and an admin's `status` names other chats).
    """
    if reply.ephemeral or not reply.ok:
        return False
    spec, _ = find_command(command.text)
    return spec is not None and spec.name in CHAT_CHANGES
