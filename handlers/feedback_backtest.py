"""What a topic change would do: the whole cascade replayed on the stored stories.

`rule test` replays the query tier only. A feedback click changes a topic
(one more negative or positive example), which only the semantic tier sees,
so this backtest runs the rule as it is and as it would be, query and topic,
over the stories stored lately, and says which of them would stop or start
matching. Both versions are compiled into one trial rule book, so each story
is embedded once; only the query's candidates are scored (all stories for a
topic-only rule). It runs in a worker thread: embedding hundreds of stories
must not stall the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from bot.core.model import Rule, Story
from bot.pipeline.match import RuleBook
from handlers.context import HandlerContext

BACKTEST_DAYS = 30
STORY_LIMIT = 5000
_TRIAL_SUFFIX = "__proposed"


@dataclass(frozen=True, slots=True)
class TopicBacktest:
    """Which stored stories the rule matches now and would match after the change."""

    days: int
    stories: int
    now: tuple[Story, ...]
    """Matched by the rule as it is, newest first."""
    lost: tuple[Story, ...]
    """Matched now, not after the change."""
    gained: tuple[Story, ...]
    """Matched after the change, not now."""

    def changed_besides(self, key: str) -> int:
        """How many stories other than `key` would change."""
        return sum(1 for story in (*self.lost, *self.gained) if story.key != key)

    def loses(self, key: str) -> bool:
        """Whether the story would stop matching."""
        return any(story.key == key for story in self.lost)

    def matches(self, key: str) -> bool:
        """Whether the rule as it is matches the story."""
        return any(story.key == key for story in self.now)

    def figures(self) -> dict[str, object]:
        """The figures kept with the feedback (for `rule feedback` and the audit)."""
        return {
            "days": self.days,
            "stories": self.stories,
            "matched": len(self.now),
            "lost": [story.title for story in self.lost[:10]],
            "gained": [story.title for story in self.gained[:10]],
            "lost_count": len(self.lost),
            "gained_count": len(self.gained),
        }


def compare_versions(
    book: RuleBook, current: Rule, proposed: Rule, stories: Sequence[Story], days: int
) -> TopicBacktest:
    """Match every story against both versions of the rule (blocking: call in a thread)."""
    trial = RuleBook(book.rules_file, embedder=book.embedder)
    trial_name = f"{current.name}{_TRIAL_SUFFIX}"
    trial.compile([current, replace(proposed, name=trial_name)])
    now, after = [], []
    for story in stories:
        names = {match.rule for match in trial.match_story(story)}
        if current.name in names:
            now.append(story)
        if trial_name in names:
            after.append(story)
    now_keys, after_keys = {s.key for s in now}, {s.key for s in after}
    return TopicBacktest(
        days=days,
        stories=len(stories),
        now=tuple(now),
        lost=tuple(s for s in now if s.key not in after_keys),
        gained=tuple(s for s in after if s.key not in now_keys),
    )


async def backtest_topic_change(
    ctx: HandlerContext, current: Rule, proposed: Rule, *, days: int = BACKTEST_DAYS
) -> TopicBacktest:
    """The stored stories of the last `days` days replayed through both versions."""
    since = ctx.clock() - timedelta(days=days)
    stories = await ctx.store.recent_stories(since, limit=STORY_LIMIT)
    return await asyncio.to_thread(compare_versions, ctx.rulebook, current, proposed, stories, days)
