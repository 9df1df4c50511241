"""Quiet hours and digest schedules: parsing, one-line errors, and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from bot.core.schedules import DigestSchedule, QuietHours, parse_clock, quiet_until, zone_named


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("25:00", "'25:00' is not a time of day: use HH:MM from 00:00 to 23:59"),
        ("7:60", "'7:60' is not a time of day"),
        ("noon", "'noon' is not a time of day"),
    ],
)
def test_bad_clock_times(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_clock(text)


def test_zones_are_iana_names_in_any_case() -> None:
    assert zone_named("europe/kyiv").key == "Europe/Kyiv"
    with pytest.raises(ValueError, match="there is no time zone 'Europe/Kyev': use an IANA name"):
        zone_named("Europe/Kyev")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("22:00", "is not a window"),
        ("22:00-22:00", "differ"),
        ("22:00-07:00 Mars/Base", "no time zone 'Mars/Base'"),
        ("22:00-24:00", "'24:00' is not a time of day"),
    ],
)
def test_bad_quiet_hours(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        QuietHours.parse(text)


def test_quiet_hours_across_midnight() -> None:
    quiet = QuietHours.parse("22:00-07:00 Europe/Kyiv")  # UTC+2 in winter, UTC+3 in summer
    assert str(quiet) == "22:00-07:00 Europe/Kyiv"
    assert quiet.quiet_at(utc(2026, 1, 10, 21, 0)) and not quiet.quiet_at(utc(2026, 1, 10, 5, 0))
    assert quiet.ends_after(utc(2026, 1, 10, 21, 0)) == utc(2026, 1, 11, 5, 0)
    assert quiet.ends_after(utc(2026, 1, 11, 1, 0)) == utc(2026, 1, 11, 5, 0)
    assert quiet.ends_after(utc(2026, 1, 11, 12, 0)) == utc(2026, 1, 11, 12, 0)  # not quiet


def test_quiet_hours_over_the_spring_and_autumn_changes() -> None:
    quiet = QuietHours.parse("22:00-07:00 Europe/Kyiv")
    # The night of 28-29 March 2026 is an hour shorter: 07:00 is at 04:00 UTC, not 05:00.
    assert quiet.ends_after(utc(2026, 3, 28, 21, 0)) == utc(2026, 3, 29, 4, 0)
    # The night of 24-25 October 2026 is an hour longer.
    assert quiet.ends_after(utc(2026, 10, 24, 20, 0)) == utc(2026, 10, 25, 5, 0)


def test_a_window_within_one_day() -> None:
    quiet = QuietHours.parse("12:30-14:00")
    assert quiet.zone == "UTC" and quiet.quiet_at(utc(2026, 5, 1, 13, 0))
    assert quiet_until(str(quiet), utc(2026, 5, 1, 13, 0)) == utc(2026, 5, 1, 14, 0)
    assert quiet_until(str(quiet), utc(2026, 5, 1, 15, 0)) is None
    assert quiet_until("not hours", utc(2026, 5, 1, 13, 0)) is None


def test_daily_digests_keep_their_local_time_over_dst() -> None:
    daily = DigestSchedule.parse("daily 08:00 europe/kyiv")
    assert str(daily) == "daily 08:00 Europe/Kyiv" and daily.daily_at == time(8, 0)
    first = daily.next_after(utc(2026, 3, 28, 7, 0))  # after 08:00 EET on the 28th
    assert first == utc(2026, 3, 29, 5, 0)  # 08:00 EEST, 23 hours later
    assert daily.next_after(first) == utc(2026, 3, 30, 5, 0)
    assert daily.next_after(utc(2026, 3, 28, 5, 59)) == utc(2026, 3, 28, 6, 0)


def test_a_daily_time_in_the_spring_gap_falls_after_it() -> None:
    daily = DigestSchedule.parse(
        "daily 03:30 Europe/Kyiv"
    )  # 03:00-04:00 does not exist on 29 March
    at = daily.next_after(utc(2026, 3, 28, 12, 0))
    assert at == utc(2026, 3, 29, 1, 30)  # read at the old offset: 04:30 by the new clock
    assert daily.next_after(at) == utc(2026, 3, 30, 0, 30)


def test_hourly_digests_and_the_default_zone() -> None:
    hourly = DigestSchedule.parse("hourly")
    assert str(hourly) == "hourly"
    assert hourly.next_after(utc(2026, 1, 1, 10, 0)) == utc(2026, 1, 1, 11, 0)
    assert hourly.next_after(utc(2026, 1, 1, 10, 59, 59)) == utc(2026, 1, 1, 11, 0)
    india = DigestSchedule.parse("hourly Asia/Kolkata")  # UTC+5:30: local tops of the hour
    assert india.next_after(utc(2026, 1, 1, 10, 0)) == utc(2026, 1, 1, 10, 30)
    assert DigestSchedule.parse("daily 08:00", default_zone="Europe/Kyiv").zone == "Europe/Kyiv"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("weekly", "a digest is `hourly` or `daily HH:MM`"),
        ("daily", "write `daily HH:MM`"),
        ("daily 25:00", "'25:00' is not a time of day"),
        ("daily 08:00 Nowhere/City", "no time zone 'Nowhere/City'"),
    ],
)
def test_bad_digest_schedules(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        DigestSchedule.parse(text)
