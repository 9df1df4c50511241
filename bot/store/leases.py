"""Named leases: one holder at a time for a job only one instance may run.

Several instances on one PostgreSQL database run the same code; a job that
must run once (the Telegram long poll: `telegram-poll`) goes to whoever holds
its lease. A holder renews the lease well before it expires; a holder that
stops releases it; one that dies loses it when it expires.

`acquire_lease` is one conditional upsert,

    INSERT INTO leases … ON CONFLICT (name) DO UPDATE SET owner = …, expires_at = …
        WHERE leases.owner = :owner OR leases.expires_at <= :now  RETURNING owner

so taking a free or expired lease, renewing one's own and being refused one
that someone else holds are a single atomic statement on both backends:
PostgreSQL locks the conflicting row (a concurrent first insert waits for the
other and then sees its row), SQLite holds the write lock. Times come from
the caller's clock, as for feed and outbox leases, so instances need roughly
synchronised clocks (seconds, against leases of tens of seconds).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.core.errors import StoreError
from bot.store.tables import leases
from bot.store.transactions import SqlBase

_l = leases.c


class LeaseQueries(SqlBase):
    """`acquire_lease` and `release_lease` (see the module docstring)."""

    async def acquire_lease(self, name: str, owner: str, now: datetime, seconds: float) -> bool:
        """Take the lease `name` for `owner` until `now + seconds` if it is free, expired
        or already `owner`'s (then it is extended); False if someone else holds it."""
        if seconds <= 0:
            raise StoreError(f"a lease lasts a positive number of seconds, not {seconds}")
        expires_at = now + timedelta(seconds=seconds)
        stmt = self._insert(leases).values(name=name, owner=owner, expires_at=expires_at)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_l.name],
            set_={"owner": owner, "expires_at": expires_at},
            where=sa.or_(_l.owner == owner, _l.expires_at <= now),
        )
        async with self._write() as conn:
            taken = (await conn.execute(stmt.returning(_l.owner))).first()
        return taken is not None

    async def release_lease(self, name: str, owner: str) -> bool:
        """Give the lease up if `owner` holds it (True); False if it was not theirs."""
        stmt = sa.delete(leases).where(_l.name == name, _l.owner == owner)
        async with self._write() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)
