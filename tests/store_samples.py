"""Sample stories, alerts and destinations for the store tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.model import Alert, Destination, Hit, Match, Story
from bot.store import NewStory

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def hours(n: float) -> timedelta:
    """A duration of `n` hours."""
    return timedelta(hours=n)


def make_story(key: str, **changes: Any) -> Story:
    """A complete story whose URL, title and GUID derive from `key`."""
    story = Story(
        key=key,
        title=f"Title of {key}",
        summary=f"Summary of {key}.",
        content=f"Content of {key}.",
        url=f"https://news.example/{key}?utm_source=feed",
        canonical_url=f"https://news.example/{key}",
        publisher="news.example",
        published=T0,
        fetched_at=T0 + timedelta(minutes=5),
        guid=f"guid-{key}",
        feed_id=None,
        title_key=f"title of {key}",
        fingerprint=0,
    )
    return replace(story, **changes)


def make_alert(story: Story, rule: str = "drone_strike") -> Alert:
    """An alert for `story` with one match and one hit."""
    match = Match(
        rule=rule,
        score=0.8125,
        hits=(Hit(term="drone", field="title", text="Drone"),),
        evidence="A drone struck the depot.",
        why='title: "drone"',
    )
    return Alert(story=story, matches=(match,), summary=f"Short summary of {story.key}.")


def chat(chat_id: str, platform: str = "telegram") -> Destination:
    """A destination on a platform (Telegram by default)."""
    return Destination(platform=platform, chat_id=chat_id)


def new_story(key: str, *destinations: Destination, **changes: Any) -> NewStory:
    """A NewStory with an alert for the given destinations (none: no alert)."""
    story = make_story(key, **changes)
    alert = make_alert(story) if destinations else None
    return NewStory(story=story, alert=alert, destinations=destinations)
