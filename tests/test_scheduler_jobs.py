"""The scheduler's feed-health and retention jobs, run as APScheduler would call them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.model import FeedState
from bot.core.settings import load_settings
from bot.service.app import build_app
from bot.service.heartbeat import Heartbeat
from bot.service.run import InFlight, build_scheduler, job_ticks
from bot.store import NewStory
from tests.store_samples import make_story


async def test_the_health_and_prune_jobs(tmp_path: Path) -> None:
    settings = load_settings(
        overrides={
            "data_dir": tmp_path,
            "feeds_file": None,
            "semantic": "off",
            "telegram_bot_token": "123:abc",
            "telegram_admin_ids": "900,901",
        }
    )
    now = datetime.now(UTC)
    app = await build_app(settings)
    try:
        feed = await app.store.add_feed("https://a.example/rss", "a")
        await app.store.save_feed_state(feed.id, FeedState(error_count=5, last_error="HTTP 500"))
        old = make_story("old", fetched_at=now - timedelta(days=40))
        fresh = make_story("fresh", fetched_at=now - timedelta(days=1))
        await app.store.save_stories([NewStory(old, None), NewStory(fresh, None)])
        ticks = iter(range(1000))
        heartbeat = Heartbeat(dict.fromkeys(job_ticks(settings), 300.0), clock=lambda: next(ticks))
        scheduler = build_scheduler(app, InFlight(), heartbeat)

        await scheduler.get_job("health").func()
        await scheduler.get_job("health").func()  # the state holds: nothing more
        later = datetime.now(UTC)
        notices = await app.store.claim_notices(later, limit=10, owner="t", lease_seconds=5)
        assert [(n.destination.chat_id, n.text[:40]) for n in notices] == [
            ("900", "newswatch: feed a (id 1) is failing: 5 c"),
            ("901", "newswatch: feed a (id 1) is failing: 5 c"),
        ]

        await scheduler.get_job("prune").func()
        ages = heartbeat.ages()
        assert ages["prune"] < ages["health"] < ages["poll"]  # each tick beat it
        left = await app.store.recent_stories(now - timedelta(days=400))
        assert [s.key for s in left] == ["fresh"]
    finally:
        await app.close()
