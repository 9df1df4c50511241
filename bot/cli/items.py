"""Stories from JSON lines, the input of `newswatch rules test` and `rules eval`.

Each line is an object with `id`, `title`, `summary` and optionally `link`,
`published` (ISO 8601), `publisher`, `content` and `labels` (rule names that
should match, for evaluation).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.core.errors import ConfigError
from bot.core.files import read_text
from bot.core.model import Story
from bot.pipeline.normalize import canonical_url, normalize_title
from bot.pipeline.parse.parser import html_to_text
from handlers.phrasing import shorten


@dataclass(frozen=True, slots=True)
class Item:
    """One input line: its id, the story built from it and its expected labels."""

    id: str
    story: Story
    labels: frozenset[str] | None


def read_items(path: Path) -> list[Item]:
    """Every item of a JSON-lines file, all checked before any is used: ConfigError naming
    the first bad line (not UTF-8, not JSON, nested too deeply, not an item)."""
    lines = read_text(path, "the items file", set_by="--input").splitlines()
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(item_from_json(json.loads(line)))
        except RecursionError:
            raise ConfigError(
                f"{path}:{number}: JSON nested too deeply; each line must be a flat item object"
            ) from None
        except (json.JSONDecodeError, ValueError, TypeError) as err:
            raise ConfigError(f"{path}:{number}: {shorten(str(err), 200)}") from None
    return items


def item_from_json(data: Any) -> Item:
    """Build an Item from one decoded JSON object; ValueError says what is missing."""
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    if "id" not in data or "title" not in data:
        raise ValueError("each item needs 'id' and 'title' (and usually 'summary')")
    link = str(data.get("link") or "")
    published = _parse_time(data.get("published"))
    title = html_to_text(str(data["title"]))
    story = Story(
        key=_item_key(data),
        title=title,
        summary=html_to_text(str(data.get("summary") or "")),
        content=html_to_text(str(data.get("content") or "")),
        url=link,
        canonical_url=canonical_url(link) if link else "",
        publisher=str(data.get("publisher") or ""),
        published=published,
        fetched_at=published,
        guid=str(data["id"]),
        title_key=normalize_title(title),
    )
    labels = data.get("labels")
    return Item(str(data["id"]), story, frozenset(labels) if labels is not None else None)


def _item_key(data: dict[str, Any]) -> str:
    """The story key: the id and the text, so items of two files that reuse an id (x001)
    are two stories to the topic tier's embedding cache, not one."""
    fields = [data["id"], data["title"], data.get("summary"), data.get("content")]
    text = "\x1f".join(str(field or "") for field in fields)
    return hashlib.sha1(f"item:{text}".encode()).hexdigest()[:20]


def _parse_time(value: Any) -> datetime:
    if not value:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
