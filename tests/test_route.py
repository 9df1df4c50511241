"""Routing: when each destination gets an alert (the table in bot.pipeline.route),
and when a near-duplicate cluster is urgent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.model import ALL_RULES, Delivery, Destination, Hold, Recipient
from bot.pipeline.route import Urgency, plan_deliveries, plan_delivery

NOW = datetime(2026, 1, 10, 12, 20, tzinfo=UTC)  # 14:20 in Kyiv
HERE = Destination("telegram", "1")


def recipient(**fields: object) -> Recipient:
    values: dict[str, object] = {"destination": HERE, "schedules": (("drone_strike", None),)}
    return Recipient(**{**values, **fields})  # type: ignore[arg-type]


def plan(
    who: Recipient, *, urgent: bool = False, rules: tuple[str, ...] = ("drone_strike",)
) -> Delivery | None:
    return plan_delivery(who, rules, urgent=urgent, now=NOW)


def test_at_once_by_default_and_not_at_all_for_other_rules() -> None:
    assert plan(recipient()) == Delivery(HERE)
    assert plan(recipient(), rules=("aid_package",)) is None
    assert plan(recipient(schedules=((ALL_RULES, None),)), rules=("aid_package",)) == Delivery(HERE)


def test_a_mute_holds_until_its_end_or_drops_with_discard() -> None:
    until = NOW + timedelta(hours=2)
    assert plan(recipient(muted_until=until)) == Delivery(HERE, until, Hold.MUTE)
    assert plan(recipient(muted_until=until), urgent=True) == Delivery(HERE, until, Hold.MUTE)
    assert plan(recipient(muted_until=until, mute_discards=True)) is None
    assert plan(recipient(muted_until=NOW - timedelta(minutes=1))) == Delivery(HERE)


def test_a_rule_mute_holds_only_when_every_followed_rule_is_muted() -> None:
    until = NOW + timedelta(hours=24)
    muted = recipient(
        schedules=(("drone_strike", None), ("aid_package", None)),
        rule_mutes=(("drone_strike", until),),
    )
    assert plan(muted) == Delivery(HERE, until, Hold.MUTE)
    assert plan(muted, rules=("drone_strike", "aid_package")) == Delivery(HERE)


def test_digest_subscriptions_wait_for_their_time_unless_urgent() -> None:
    hourly = recipient(schedules=(("drone_strike", "hourly"),))
    top = NOW.replace(minute=0) + timedelta(hours=1)
    assert plan(hourly) == Delivery(HERE, top, Hold.DIGEST)
    assert plan(hourly, urgent=True) == Delivery(HERE)
    both = recipient(schedules=(("drone_strike", "hourly"), (ALL_RULES, None)))
    assert plan(both) == Delivery(HERE)  # followed at once too: at once
    daily = recipient(schedules=(("drone_strike", "daily 08:00 Europe/Kyiv"),))
    assert plan(daily) == Delivery(HERE, datetime(2026, 1, 11, 6, 0, tzinfo=UTC), Hold.DIGEST)


def test_a_mute_longer_than_the_digest_period_wins() -> None:
    until = NOW + timedelta(hours=5)
    muted = recipient(schedules=(("drone_strike", "hourly"),), muted_until=until)
    assert plan(muted) == Delivery(HERE, until, Hold.MUTE)


@pytest.mark.parametrize(
    ("hours", "quiet"), [("14:00-15:00 Europe/Kyiv", True), ("22:00-07:00 Europe/Kyiv", False)]
)
def test_quiet_hours_hold_until_their_end_unless_urgent(hours: str, quiet: bool) -> None:
    who = recipient(quiet_hours=hours)
    end = datetime(2026, 1, 10, 13, 0, tzinfo=UTC)
    assert plan(who) == (Delivery(HERE, end, Hold.QUIET) if quiet else Delivery(HERE))
    assert plan(who, urgent=True) == Delivery(HERE)


def test_plan_deliveries_splits_at_once_from_waiting() -> None:
    other = Destination("slack", "C1")
    at_once, held = plan_deliveries(
        [recipient(), recipient(destination=other, quiet_hours="14:00-15:00 Europe/Kyiv")],
        ["drone_strike"],
        urgent=False,
        now=NOW,
    )
    assert at_once == [HERE] and [d.destination for d in held] == [other]


def test_urgency_counts_distinct_outlets_within_the_window() -> None:
    urgency = Urgency(publishers=3, minutes=180)
    first = NOW
    reports = [("wire", first), ("agency", first + timedelta(minutes=20))]
    assert not urgency.reached(reports)
    assert not urgency.reached([*reports, ("wire", first + timedelta(minutes=30))])
    assert urgency.reached([*reports, ("desk", first + timedelta(minutes=179))])
    assert not urgency.reached([*reports, ("desk", first + timedelta(minutes=181))])
    assert not urgency.reached([])
