"""What every chat front-end shares: the handler context built from the running app.

The Telegram and Slack front-ends (bot/platforms/) turn platform updates into
`handlers.Command` / `handlers.ActionCommand`, call `handlers.dispatch`
(which never raises), and render the `Reply`. They differ only in how they
ask "is this user an admin of this chat?", which each passes in as its
`ChatAdminCheck`.
"""

from __future__ import annotations

from bot.app import App
from handlers import HandlerContext
from handlers.command import ChatAdminCheck


class NoChatAdmins:
    """For platforms whose per-channel admins the bot cannot see (Slack): nobody."""

    async def is_chat_admin(self, chat_id: str, user_id: str) -> bool:
        return False


def handler_context(app: App, chat_admin_check: ChatAdminCheck) -> HandlerContext:
    """The context chat commands run in: the app's store and rules, the configured admins."""
    settings = app.settings

    async def rules_changed() -> None:
        # The pipeline holds the same RuleBook, reloaded by the handler before this hook.
        return None

    return HandlerContext(
        store=app.store,
        rulebook=app.rulebook,
        admin_ids={
            "telegram": frozenset(settings.telegram_admin_ids),
            "slack": frozenset(settings.slack_admin_ids),
        },
        clock=app.pipeline.clock,
        chat_admin_check=chat_admin_check,
        on_rules_changed=rules_changed,
        topics_active=app.rulebook.topics_active,
    )
