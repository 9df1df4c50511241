"""Subscriptions of destinations to rules: routing, mute, pause and chat migration.

Mute and pause belong to a destination; they are kept on each of its
subscription rows, and a new subscription inherits them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.errors import StoreError
from bot.core.model import ALL_RULES, Destination, Hold, Recipient, Subscription
from bot.store.tables import OutboxStatus, outbox, rule_mutes, subscriptions
from bot.store.transactions import SqlBase, first_per_key

_s = subscriptions.c


def at_destination(destination: Destination) -> sa.ColumnElement[bool]:
    """The WHERE clause for one destination's subscriptions."""
    return sa.and_(_s.platform == destination.platform, _s.chat_id == destination.chat_id)


def subscription_from_row(row: RowMapping) -> Subscription:
    """The Subscription dataclass of a `subscriptions` row."""
    return Subscription(
        destination=Destination(platform=row["platform"], chat_id=row["chat_id"]),
        rule=row["rule"],
        muted_until=row["muted_until"],
        paused_reason=row["paused_reason"],
        created_by=row["created_by"],
        digest=row["digest"],
        mute_discards=row["mute_discards"],
        quiet_hours=row["quiet_hours"],
    )


_DESTINATION_STATE = ("muted_until", "paused_reason", "mute_discards", "quiet_hours")
"""The columns that belong to the destination, copied onto each of its rows."""


async def _destination_state(conn: AsyncConnection, destination: Destination) -> dict[str, Any]:
    columns = [_s[name] for name in _DESTINATION_STATE]
    query = sa.select(*columns).where(at_destination(destination))
    row = (await conn.execute(query.order_by(_s.id).limit(1))).mappings().first()
    if row is None:
        return {"muted_until": None, "paused_reason": None, "mute_discards": False}
    return dict(row)


def _held_by(destination: Destination, hold: Hold) -> sa.ColumnElement[bool]:
    """The destination's alert rows held for `hold`."""
    o = outbox.c
    return sa.and_(
        o.platform == destination.platform,
        o.chat_id == destination.chat_id,
        o.status == OutboxStatus.HELD.value,
        o.hold == hold.value,
    )


class SubscriptionQueries(SqlBase):
    """Who gets which rule's alerts."""

    async def subscribe(
        self,
        destination: Destination,
        rules: Sequence[str],
        *,
        actor: str,
        digest: str | None = None,
    ) -> list[str]:
        """Subscribe to rules (or ALL_RULES), as they come or on a `digest` schedule;
        rules already subscribed take the schedule. Returns the names newly added, in order."""
        names = first_per_key([r.strip() for r in rules], lambda r: r)
        if not all(names):
            raise StoreError("a rule name is empty — name the rules to subscribe to, or *")
        if not names:
            return []
        async with self._write() as conn:
            state = await _destination_state(conn, destination)
            known = set(
                await conn.scalars(
                    sa.select(_s.rule).where(at_destination(destination), _s.rule.in_(names))
                )
            )
            rows = [
                {
                    "platform": destination.platform,
                    "chat_id": destination.chat_id,
                    "rule": name,
                    "created_by": actor,
                    "created_at": self._clock(),
                    "digest": digest,
                    **state,
                }
                for name in names
            ]
            stmt = self._insert(subscriptions).values(rows)
            stmt = stmt.on_conflict_do_update(
                index_elements=[_s.platform, _s.chat_id, _s.rule], set_={"digest": digest}
            )
            await conn.execute(stmt)
        return [name for name in names if name not in known]

    async def unsubscribe(self, destination: Destination, rules: Sequence[str]) -> list[str]:
        """Remove subscriptions; ALL_RULES among `rules` removes every one. Returns removed."""
        where = at_destination(destination)
        if ALL_RULES not in rules:
            where = sa.and_(where, _s.rule.in_(list(rules)))
        async with self._write() as conn:
            stmt = sa.delete(subscriptions).where(where).returning(_s.id, _s.rule)
            removed = (await conn.execute(stmt)).all()
            left = await conn.scalar(sa.select(sa.func.count()).where(at_destination(destination)))
            if not left:
                o = outbox.c
                await conn.execute(
                    sa.delete(outbox).where(
                        o.platform == destination.platform,
                        o.chat_id == destination.chat_id,
                        o.status == OutboxStatus.HELD.value,
                    )
                )
        return [rule for _, rule in sorted(removed)]

    async def subscriptions(self, destination: Destination | None = None) -> list[Subscription]:
        """Subscriptions of one destination, or of all, oldest first."""
        query = sa.select(subscriptions).order_by(_s.id)
        if destination is not None:
            query = query.where(at_destination(destination))
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [subscription_from_row(r) for r in rows]

    async def destinations_for(self, rules: Sequence[str], now: datetime) -> list[Destination]:
        """Destinations subscribed to any of `rules` (or to ALL_RULES), not paused and
        not muted at `now`, each once, in a stable order."""
        if not rules:
            return []
        query = (
            sa.select(_s.platform, _s.chat_id, _s.rule)
            .where(
                _s.rule.in_([*rules, ALL_RULES]),
                _s.paused_reason.is_(None),
                sa.or_(_s.muted_until.is_(None), _s.muted_until <= now),
            )
            .order_by(_s.platform, _s.chat_id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
            muted = await _rule_mutes_in_force(conn, rules, now)
        return _unmuted_destinations(rows, set(rules), muted)

    async def mute(
        self, destination: Destination, until: datetime | None, *, discard: bool = False
    ) -> None:
        """Mute the destination until `until` (None unmutes); alerts held by a mute
        are released at the new end (at once when unmuted)."""
        release = until if until is not None else self._clock()
        async with self._write() as conn:
            await conn.execute(
                sa.update(subscriptions)
                .where(at_destination(destination))
                .values(muted_until=until, mute_discards=discard and until is not None)
            )
            await conn.execute(
                sa.update(outbox).where(_held_by(destination, Hold.MUTE)).values(release_at=release)
            )

    async def set_quiet_hours(self, destination: Destination, quiet: str | None) -> None:
        """Set or clear the quiet hours; what they held is released for the new ones to judge."""
        async with self._write() as conn:
            await conn.execute(
                sa.update(subscriptions)
                .where(at_destination(destination))
                .values(quiet_hours=quiet)
            )
            await conn.execute(
                sa.update(outbox)
                .where(_held_by(destination, Hold.QUIET))
                .values(release_at=self._clock())
            )

    async def recipients_for(self, rules: Sequence[str], now: datetime) -> list[Recipient]:
        """Each unpaused destination subscribed to any of `rules` or ALL_RULES, with what
        decides when it gets the alert."""
        if not rules:
            return []
        columns = [
            _s.platform,
            _s.chat_id,
            _s.rule,
            _s.digest,
            *(_s[n] for n in _DESTINATION_STATE),
        ]
        query = (
            sa.select(*columns)
            .where(_s.rule.in_([*rules, ALL_RULES]), _s.paused_reason.is_(None))
            .order_by(_s.platform, _s.chat_id, _s.id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
            mutes = await _rule_mute_times(conn, rules, now)
        return _recipients(rows, mutes, now)

    async def pause_destination(self, destination: Destination, reason: str | None) -> None:
        """Pause (reason given) or resume (None) every subscription of a destination.

        While paused, its outbox rows are not claimed for delivery.
        """
        await self._update_destination(destination, paused_reason=reason)

    async def _update_destination(self, destination: Destination, **values: Any) -> None:
        async with self._write() as conn:
            stmt = sa.update(subscriptions).where(at_destination(destination)).values(values)
            await conn.execute(stmt)

    async def migrate_destination(self, old: Destination, new: Destination) -> None:
        """Move subscriptions, per-rule mutes and pending outbox rows to a new chat
        id (Telegram group → supergroup). Where the new chat already has the same subscription
        or alert, the old one is dropped instead."""
        async with self._write() as conn:
            await _move_subscriptions(conn, old, new)
            await _move_rule_mutes(conn, old, new)
            await _move_pending_outbox(conn, old, new)

    async def mute_rule(self, destination: Destination, rule: str, until: datetime | None) -> None:
        """Mute one rule's alerts for a destination until `until` (None unmutes it).

        A destination then gets an alert only if some other rule it follows
        matched too; its other subscriptions and its own mute are unaffected.
        """
        if not rule.strip() or rule == ALL_RULES:
            raise StoreError(f"cannot mute rule {rule!r} — name one rule, or mute the whole chat")
        where = sa.and_(at_muted_destination(destination), _m.rule == rule)
        async with self._write() as conn:
            if until is None:
                await conn.execute(sa.delete(rule_mutes).where(where))
                return
            stmt = self._insert(rule_mutes).values(
                platform=destination.platform,
                chat_id=destination.chat_id,
                rule=rule,
                muted_until=until,
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[_m.platform, _m.chat_id, _m.rule], set_={"muted_until": until}
            )
            await conn.execute(stmt)

    async def muted_rules(self, destination: Destination, now: datetime) -> dict[str, datetime]:
        """The destination's per-rule mutes still in force at `now`: rule → until."""
        query = (
            sa.select(_m.rule, _m.muted_until)
            .where(at_muted_destination(destination), _m.muted_until > now)
            .order_by(_m.rule)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return {rule: until for rule, until in rows}


async def _move_subscriptions(conn: AsyncConnection, old: Destination, new: Destination) -> None:
    taken = sa.select(_s.rule).where(at_destination(new)).scalar_subquery()
    await conn.execute(sa.delete(subscriptions).where(at_destination(old), _s.rule.in_(taken)))
    await conn.execute(
        sa.update(subscriptions)
        .where(at_destination(old))
        .values(platform=new.platform, chat_id=new.chat_id)
    )


async def _move_pending_outbox(conn: AsyncConnection, old: Destination, new: Destination) -> None:
    o = outbox.c
    old_pending = sa.and_(
        o.platform == old.platform,
        o.chat_id == old.chat_id,
        o.status.in_([OutboxStatus.PENDING.value, OutboxStatus.HELD.value]),
    )
    new_keys = (
        sa.select(o.story_key)
        .where(o.platform == new.platform, o.chat_id == new.chat_id)
        .scalar_subquery()
    )
    await conn.execute(sa.delete(outbox).where(old_pending, o.story_key.in_(new_keys)))
    await conn.execute(
        sa.update(outbox).where(old_pending).values(platform=new.platform, chat_id=new.chat_id)
    )


_m = rule_mutes.c


def at_muted_destination(destination: Destination) -> sa.ColumnElement[bool]:
    """The WHERE clause for one destination's per-rule mutes."""
    return sa.and_(_m.platform == destination.platform, _m.chat_id == destination.chat_id)


async def _move_rule_mutes(conn: AsyncConnection, old: Destination, new: Destination) -> None:
    taken = sa.select(_m.rule).where(at_muted_destination(new)).scalar_subquery()
    await conn.execute(sa.delete(rule_mutes).where(at_muted_destination(old), _m.rule.in_(taken)))
    await conn.execute(
        sa.update(rule_mutes)
        .where(at_muted_destination(old))
        .values(platform=new.platform, chat_id=new.chat_id)
    )


async def _rule_mutes_in_force(
    conn: AsyncConnection, rules: Sequence[str], now: datetime
) -> dict[tuple[str, str], set[str]]:
    """(platform, chat_id) → those of `rules` muted for it at `now`."""
    query = sa.select(_m.platform, _m.chat_id, _m.rule).where(
        _m.rule.in_(list(rules)), _m.muted_until > now
    )
    muted: dict[tuple[str, str], set[str]] = {}
    for platform, chat_id, rule in (await conn.execute(query)).all():
        muted.setdefault((platform, chat_id), set()).add(rule)
    return muted


async def _rule_mute_times(
    conn: AsyncConnection, rules: Sequence[str], now: datetime
) -> dict[tuple[str, str], list[tuple[str, datetime]]]:
    """(platform, chat_id) → [(rule, until)] of `rules` muted for it at `now`."""
    query = sa.select(_m.platform, _m.chat_id, _m.rule, _m.muted_until).where(
        _m.rule.in_(list(rules)), _m.muted_until > now
    )
    found: dict[tuple[str, str], list[tuple[str, datetime]]] = {}
    for platform, chat_id, rule, until in (await conn.execute(query)).all():
        found.setdefault((platform, chat_id), []).append((rule, until))
    return found


def _recipients(
    rows: Sequence[RowMapping],
    mutes: dict[tuple[str, str], list[tuple[str, datetime]]],
    now: datetime,
) -> list[Recipient]:
    """One Recipient per destination (rows come ordered by destination)."""
    grouped: dict[tuple[str, str], list[RowMapping]] = {}
    for row in rows:
        grouped.setdefault((row["platform"], row["chat_id"]), []).append(row)
    recipients = []
    for (platform, chat_id), subs in grouped.items():
        first = subs[0]
        muted = (
            first["muted_until"] if first["muted_until"] and first["muted_until"] > now else None
        )
        recipients.append(
            Recipient(
                destination=Destination(platform, chat_id),
                schedules=tuple((row["rule"], row["digest"]) for row in subs),
                muted_until=muted,
                mute_discards=bool(first["mute_discards"]) and muted is not None,
                rule_mutes=tuple(sorted(mutes.get((platform, chat_id), []))),
                quiet_hours=first["quiet_hours"],
            )
        )
    return recipients


def _unmuted_destinations(
    rows: Sequence[Sequence[Any]], wanted: set[str], muted: dict[tuple[str, str], set[str]]
) -> list[Destination]:
    """Each destination once (rows come ordered by destination) that follows at
    least one of the `wanted` rules it has not muted; ALL_RULES follows them all."""
    found: dict[tuple[str, str], Destination] = {}
    for platform, chat_id, rule in rows:
        key = (platform, chat_id)
        covered = wanted if rule == ALL_RULES else {rule}
        if key not in found and covered - muted.get(key, set()):
            found[key] = Destination(platform=platform, chat_id=chat_id)
    return list(found.values())
