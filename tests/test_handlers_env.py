"""The world the chat-command tests run in (no tests here; the other
tests/test_handlers*.py files import it).

A real SqlStore (the `store` fixture: SQLite, and PostgreSQL when
configured), a RuleBook over a small rules file in tmp_path, a settable
clock, and a chat-admin check that answers from a set the test fills in —
the part a platform adapter would ask Telegram for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.core.model import Story
from bot.pipeline.match import RuleBook
from bot.store import NewStory, SqlStore
from bot.store.tables import metadata
from handlers import ActionCommand, ButtonAction, ChatKind, Command, HandlerContext, Reply, dispatch
from tests.store_samples import make_story

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
ADMIN = "100"
"""A configured Telegram admin."""
MEMBER = "200"
"""A Telegram user who is no admin of the bot."""
GROUP = "-500"

RULES_YAML = """\
rules:
  - name: drone_strike
    description: Drone and missile strikes
    query: drone NEAR/3 (strike* OR attack*)
  - name: aid_package
    description: New aid packages
    query: aid NEAR/5 (package OR announc*)
    topic:
      intent: A government announces new aid for another country
      positives: [US announces a new military aid package for Ukraine]
      threshold: 0.5
"""


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class KnownChatAdmins:
    """Answers `is_chat_admin` from (chat_id, user_id) pairs; records every question."""

    admins: set[tuple[str, str]] = field(default_factory=set)
    asked: list[tuple[str, str]] = field(default_factory=list)

    async def is_chat_admin(self, chat_id: str, user_id: str) -> bool:
        self.asked.append((chat_id, user_id))
        return (chat_id, user_id) in self.admins


@dataclass
class Env:
    """A handler context over a real store, plus ways to talk to it."""

    ctx: HandlerContext
    store: SqlStore
    clock: Clock
    chat_admins: KnownChatAdmins
    rules_changed: list[int]

    async def say(
        self,
        text: str,
        *,
        user: str = ADMIN,
        chat: str | None = None,
        kind: ChatKind = ChatKind.PRIVATE,
        platform: str = "telegram",
    ) -> Reply:
        """Send a typed command as `user` in a chat (their private chat by default)."""
        command = Command(platform, chat or user, user, f"user{user}", kind, text)
        return await dispatch(self.ctx, command)

    async def click(
        self,
        action: ButtonAction,
        rule: str,
        story_key: str,
        *,
        user: str = ADMIN,
        chat: str = GROUP,
        kind: ChatKind = ChatKind.GROUP,
    ) -> Reply:
        """Click a button under an alert."""
        click = ActionCommand("telegram", chat, user, f"user{user}", kind, action, rule, story_key)
        return await dispatch(self.ctx, click)

    async def save_stories(self, *stories: Story) -> None:
        """Record stories as the poller would (no alerts)."""
        await self.store.save_stories([NewStory(story=s, alert=None) for s in stories])

    async def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, to show that nothing changed."""
        rows: dict[str, list[tuple[Any, ...]]] = {}
        async with self.store.engine.connect() as conn:
            for table in metadata.sorted_tables:
                result = await conn.execute(sa.select(table).order_by(*table.primary_key))
                rows[table.name] = [tuple(row) for row in result]
        return rows


def story(key: str, title: str, *, age: timedelta = timedelta(days=1)) -> Story:
    """A stored story with this title, published `age` before NOW."""
    return make_story(
        key, title=title, title_key=title.lower(), published=NOW - age, fetched_at=NOW - age
    )


@pytest.fixture
async def env(store: SqlStore, tmp_path: Path) -> AsyncIterator[Env]:
    """A fresh handler context over a real store and the two-rule file above."""
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(RULES_YAML, encoding="utf-8")
    rulebook = RuleBook(rules_file)
    await rulebook.reload(store)
    reloads: list[int] = []

    async def on_rules_changed() -> None:
        reloads.append(len(rulebook.rules))

    clock = Clock()
    chat_admins = KnownChatAdmins()
    ctx = HandlerContext(
        store=store,
        rulebook=rulebook,
        admin_ids={"telegram": frozenset({ADMIN}), "slack": frozenset({"U_ADMIN"})},
        clock=clock,
        chat_admin_check=chat_admins,
        on_rules_changed=on_rules_changed,
    )
    yield Env(ctx, store, clock, chat_admins, reloads)
