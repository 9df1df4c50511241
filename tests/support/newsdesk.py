"""Several outlets' feeds on one loopback feed server, and stories to fill them.

`Newsdesk.publish(outlet, title, summary)` adds an item to `/<outlet>.xml`
(served at once); `make_due` makes every feed due now, so a test can poll
again without moving its clock by hours (mutes, quiet hours and digests are
timed by that clock).

`aid_story(n)` and `drone_story(n)` are distinct stories (never near-duplicates
of each other: each title carries its own number) that the seed rules
`aid_package` and `drone_strike` match. `SAME_EVENT` is one event as three
outlets word it: near-duplicates of each other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from bot.store.base import Store
from tests.support.feed_server import FeedServer

DONORS = ("Germany", "Japan", "Canada", "Norway", "Sweden", "Poland", "France", "Italy")
ITEMS = ("shelters", "generators", "medicine", "grain", "radars", "ambulances", "bridges")
CITIES = ("Kyiv", "Lviv", "Odesa", "Dnipro", "Kharkiv")
MONTHS = ("January", "March", "May", "July", "September", "November")

SAME_EVENT = {
    "wire": (
        "Drone strike hits fuel depot in Odesa",
        "Russian drones struck a fuel depot in Odesa overnight, officials said.",
    ),
    "agency": (
        "Drone strike hits fuel depot in Odesa, officials say",
        "Russian drones struck a fuel depot in the port city of Odesa overnight, officials said.",
    ),
    "desk": (
        "Odesa fuel depot hit in Russian drone strike",
        "Russian drones struck a fuel depot in Odesa overnight, regional officials said on Monday.",
    ),
}


def aid_story(n: int) -> tuple[str, str]:
    """A distinct aid_package story."""
    donor = DONORS[n % len(DONORS)]
    title = f"{donor} announces {n + 11} million in new aid for Ukraine"
    summary = (
        f"{donor} will send {ITEMS[n % len(ITEMS)]} worth {n + 11} million by "
        f"{MONTHS[n % len(MONTHS)]}, officials in {CITIES[n % len(CITIES)]} said."
    )
    return title, summary


def drone_story(n: int) -> tuple[str, str]:
    """A distinct drone_strike story."""
    city = CITIES[n % len(CITIES)]
    return (
        f"Drone strike hits {n + 3} warehouses near {city}",
        f"Drones struck {n + 3} warehouses on the edge of {city} before dawn, the mayor said.",
    )


@dataclass
class Newsdesk:
    """One feed per outlet at `/<outlet>.xml`, newest item first."""

    server: FeedServer
    items: dict[str, list[tuple[str, str, str, datetime]]] = field(default_factory=dict)

    def url(self, outlet: str) -> str:
        return self.server.url(f"/{outlet}.xml")

    def link(self, outlet: str, title: str) -> str:
        slug = hashlib.sha256(title.encode()).hexdigest()[:12]
        return f"https://{outlet}.example/news/{slug}"

    def publish(self, outlet: str, title: str, summary: str, when: datetime) -> str:
        """Add a story to the outlet's feed; returns its link."""
        link = self.link(outlet, title)
        self.items.setdefault(outlet, []).append((title, summary, link, when))
        self.serve(outlet)
        return link

    def serve(self, outlet: str) -> None:
        body = "".join(
            f"<item><title>{escape(title)}</title><link>{link}</link><guid>{link}</guid>"
            f"<description>{escape(summary)}</description>"
            f"<pubDate>{format_datetime(when)}</pubDate></item>"
            for title, summary, link, when in reversed(self.items.get(outlet, []))
        )
        channel = f"<channel><title>{outlet}</title>{body}</channel>"
        self.server.serve_bytes(
            f"/{outlet}.xml", f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()
        )

    async def add_feeds(self, store: Store, *outlets: str) -> None:
        """Subscribe the bot to these outlets' feeds (empty for now)."""
        for outlet in outlets:
            self.serve(outlet)
            await store.add_feed(self.url(outlet), outlet)


async def make_due(store: Store, now: datetime) -> None:
    """Every feed due at `now`, as if its interval had passed."""
    for health in await store.list_feeds():
        await store.save_feed_state(health.feed.id, replace(health.state, next_poll_at=now))
