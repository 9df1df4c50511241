"""Persistence: the Store protocol and its SQL implementation.

`open_store(url)` gives a migrated `SqlStore` on SQLite or PostgreSQL;
`upgrade(url)` applies the Alembic migrations (`newswatch db upgrade`).
"""

from bot.store.base import DeadLetter, FeedHealth, NewStory, SavedStories, Store
from bot.store.sql import SqlStore, open_store, upgrade, upgrade_apart

__all__ = [
    "DeadLetter",
    "FeedHealth",
    "NewStory",
    "SavedStories",
    "SqlStore",
    "Store",
    "open_store",
    "upgrade",
    "upgrade_apart",
]
