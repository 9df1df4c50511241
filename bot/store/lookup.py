"""Finding a story by the start of its key (the Telegram "Not relevant" button).

Telegram's callback_data holds 64 bytes, so the button carries only the
first 12 of the story key's 20 hex characters. `find_story_by_key_prefix`
turns that back into the one story, however old, with a range scan of the
unique index on `stories.key`:

    key >= :prefix AND key < :successor AND substr(key, 1, :length) = :prefix

`successor` is the smallest string after every string that starts with the
prefix (its last character plus one), which bounds the scan exactly in code
point order: SQLite's BINARY collation and PostgreSQL's C collations. Under
a linguistic PostgreSQL collation the range is still right for keys of
letters and digits, which is what story keys are; the `substr` test keeps
the answer exact whatever the collation. (LIKE would not do: it ignores case
on SQLite and needs a `text_pattern_ops` index on PostgreSQL.)
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.core.model import Story
from bot.store.stories import story_from_row
from bot.store.tables import stories
from bot.store.transactions import SqlBase

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def prefix_successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (in code
    point order), or None when there is none (empty, or only U+10FFFF characters)."""
    stem = prefix.rstrip(chr(_MAX_CODE_POINT))
    if not stem:
        return None
    following = ord(stem[-1]) + 1
    if following in _SURROGATES:  # not characters: the next one is U+E000
        following = _SURROGATES.stop
    return stem[:-1] + chr(following)


def key_prefix_condition(column: sa.ColumnElement[str], prefix: str) -> sa.ColumnElement[bool]:
    """`column` starts with `prefix`, as a range an index on `column` serves."""
    conditions = [column >= prefix, sa.func.substr(column, 1, len(prefix)) == prefix]
    successor = prefix_successor(prefix)
    if successor is not None:
        conditions.append(column < successor)
    return sa.and_(*conditions)


class StoryLookupQueries(SqlBase):
    """`find_story_by_key_prefix` (see the module docstring)."""

    async def find_story_by_key_prefix(self, prefix: str) -> Story | None:
        """The one stored story whose key starts with `prefix`; None when no story or
        more than one does (or the prefix is empty)."""
        if not prefix:
            return None
        query = sa.select(stories).where(key_prefix_condition(stories.c.key, prefix)).limit(2)
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return story_from_row(rows[0]) if len(rows) == 1 else None
