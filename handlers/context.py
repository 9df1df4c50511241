"""Everything a command handler may touch, passed in explicitly by the service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.pipeline.match import RuleBook
from bot.store.base import Store
from handlers.command import ChatAdminCheck, ChatOrigin


@dataclass(frozen=True)
class HandlerContext:
    """The store, the rules in force, who the admins are, and the clock.

    `admin_ids` maps a platform (`telegram`, `slack`) to the user ids from
    TELEGRAM_ADMIN_IDS / SLACK_ADMIN_IDS. After any rule change the handlers
    reload `rulebook` from the store and then await `on_rules_changed`, where
    the service does whatever else a new rule set needs (e.g. re-embedding
    topics); it may be a no-op. Button and command handlers never change
    anything before every check has passed.
    """

    store: Store
    rulebook: RuleBook
    admin_ids: Mapping[str, frozenset[str]]
    clock: Callable[[], datetime]
    chat_admin_check: ChatAdminCheck
    on_rules_changed: Callable[[], Awaitable[None]]
    topics_active: bool = False
    """Whether the service scores topics (the semantic tier is loaded); when
    False, `rules` and `status` report topic rules as inactive."""
    members_manage_chats: bool = False
    """Whether any member of a group or channel may change what it receives (Slack
    channels with NEWSWATCH_CHANNEL_SUBSCRIBE=members, as with Slack's `/feed`);
    False keeps that to the chat's administrators and the bot's admins."""
    default_backfill: int = 0
    """Backlog items a feed added from chat may alert (NEWSWATCH_BACKFILL)."""

    def is_admin(self, origin: ChatOrigin) -> bool:
        """Whether the user is a configured admin of the bot on that platform."""
        return origin.user_id in self.admin_ids.get(origin.platform, frozenset())

    async def rules_changed(self) -> None:
        """Recompile the rules in force from the YAML file and the store, then tell the service."""
        await self.rulebook.reload(self.store)
        await self.on_rules_changed()
