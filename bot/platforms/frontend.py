"""What every chat front-end is given, and the handler context built from it.

The service (`bot.service.platforms`) hands each platform's `start_*` one
`FrontEndDeps`: the settings, the store, the rules, the clock, the notifier
registry to add its notifier to, and the HTTP routes to attach its endpoint
to. Platforms never see the service's `App`, so the arrows point one way.

The Telegram and Slack front-ends turn platform updates into
`handlers.Command` / `handlers.ActionCommand`, call `handlers.dispatch`
(which never raises), and render the `Reply`. They differ only in how they
ask "is this user an admin of this chat?", which each passes in as its
`ChatAdminCheck`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aiohttp import web

from bot.core.settings import Settings
from bot.delivery.notifier import Notifier
from bot.pipeline.match import RuleBook
from bot.store.base import Store
from handlers import HandlerContext
from handlers.command import ChatAdminCheck

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""An aiohttp request handler for a platform's endpoint."""

Stopper = Callable[[], Awaitable[None]]
"""What a started front-end returns: the coroutine function that stops it."""


class Routes(Protocol):
    """Where a front-end attaches its HTTP endpoint (the service's one HTTP server)."""

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Attach `handler` at `method path` (before the server starts)."""
        ...


@dataclass(frozen=True)
class FrontEndDeps:
    """The parts of the running service a chat front-end uses."""

    settings: Settings
    store: Store
    rulebook: RuleBook
    clock: Callable[[], datetime]
    owner: str
    """This instance's name in leases (as the pipeline claims feeds with)."""
    notifiers: dict[str, Notifier]
    """The delivery loop's registry: a front-end adds its notifier here."""
    routes: Routes


class NoChatAdmins:
    """For platforms whose per-channel admins the bot cannot see (Slack): nobody."""

    async def is_chat_admin(self, chat_id: str, user_id: str) -> bool:
        return False


def handler_context(
    deps: FrontEndDeps, chat_admin_check: ChatAdminCheck, *, members_manage_chats: bool = False
) -> HandlerContext:
    """The context chat commands run in: the store and rules, the configured admins,
    and whether any member of a group or channel may change what it receives."""
    settings = deps.settings

    async def rules_changed() -> None:
        # The pipeline holds the same RuleBook, reloaded by the handler before this hook.
        return None

    return HandlerContext(
        store=deps.store,
        rulebook=deps.rulebook,
        admin_ids={
            "telegram": frozenset(settings.telegram_admin_ids),
            "slack": frozenset(settings.slack_admin_ids),
        },
        clock=deps.clock,
        chat_admin_check=chat_admin_check,
        on_rules_changed=rules_changed,
        topics_active=deps.rulebook.topics_active,
        members_manage_chats=members_manage_chats,
        default_backfill=settings.backfill,
    )
