"""Store contract: admins' additions to the entity classes, audited, on every backend."""

from __future__ import annotations

import pytest

from bot.core.errors import DuplicateError, NotFoundError
from bot.core.model import EntityEntry
from bot.store import SqlStore
from tests.store_samples import T0, hours


async def test_added_names_are_listed_by_class_in_order(store: SqlStore) -> None:
    await store.add_entity_name(
        EntityEntry("us", "Rubio", "US secretary of state"), actor="a", at=T0
    )
    await store.add_entity_name(
        EntityEntry("country", "Somaliland", "Somaliland"), actor="b", at=T0
    )
    await store.add_entity_name(EntityEntry("country", "Artsakh", "Armenia"), actor="a", at=T0)
    listed = await store.list_entity_names()
    assert [(e.entity_class, e.name, e.entity, e.added_by) for e in listed] == [
        ("country", "Somaliland", "Somaliland", "b"),
        ("country", "Artsakh", "Armenia", "a"),
        ("us", "Rubio", "US secretary of state", "a"),
    ]
    assert listed[0].added_at == T0


async def test_a_name_is_added_once_per_class(store: SqlStore) -> None:
    entry = EntityEntry("country", "Somaliland", "Somaliland")
    await store.add_entity_name(entry, actor="a", at=T0)
    with pytest.raises(DuplicateError, match="already has"):
        await store.add_entity_name(entry, actor="a", at=T0)
    await store.add_entity_name(EntityEntry("org", "Somaliland", "x"), actor="a", at=T0)
    assert len(await store.list_entity_names()) == 2


async def test_additions_and_removals_are_audited(store: SqlStore) -> None:
    entry = EntityEntry("country", "Somaliland", "Somaliland")
    await store.add_entity_name(entry, actor="alice", at=T0)
    removed = await store.remove_entity_name("country", "Somaliland", actor="bob", at=T0 + hours(1))
    assert removed.name == "Somaliland" and removed.added_by == "alice"
    assert await store.list_entity_names() == []
    history = await store.history("entity", "country")
    assert [(c.action, c.actor) for c in history] == [("remove", "bob"), ("add", "alice")]
    assert history[1].after == {"class": "country", "name": "Somaliland", "entity": "Somaliland"}
    assert history[0].before == history[1].after and history[0].after is None


async def test_removing_a_name_nobody_added_is_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFoundError, match="no added name"):
        await store.remove_entity_name("country", "Belgium", actor="a", at=T0)
