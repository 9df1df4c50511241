"""When a chat wants its alerts: quiet hours and digest schedules, in IANA time zones.

    QuietHours.parse("22:00-07:00 Europe/Kyiv")   # alerts wait from 22:00 to 07:00 local
    DigestSchedule.parse("daily 08:00 Europe/Kyiv")   # or "hourly"

Both work on wall-clock times in the chat's zone (`zoneinfo`, with the
`tzdata` package as the zone database where the OS has none) and compute in
UTC, so a daylight-saving change never loses or repeats a digest: a daily
time is found on the next local calendar day, not 24 hours later; a local
time that does not exist that day (the spring-forward gap) is read with the
offset before the change (02:30 becomes 03:30 by the new clock), and one that
happens twice (fall back) is its first occurrence.

Parsers raise `ValueError` with one line naming what is wrong and how to
write it; the chat commands show that line.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

log = logging.getLogger(__name__)

DEFAULT_ZONE = "UTC"
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_HOUR = timedelta(hours=1)


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone `name` (case-insensitive); ValueError if there is none."""
    wanted = name.strip()
    try:
        return ZoneInfo(wanted)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    proper = _zone_names().get(wanted.casefold())
    if proper is None:
        raise ValueError(
            f"there is no time zone {wanted!r}: use an IANA name such as Europe/Kyiv, "
            "America/New_York or UTC"
        )
    return ZoneInfo(proper)


def parse_clock(text: str) -> time:
    """`HH:MM` (00:00 to 23:59) as a time; ValueError otherwise (e.g. `25:00`)."""
    found = _CLOCK.fullmatch(text.strip())
    if found is None or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise ValueError(f"{text.strip()!r} is not a time of day: use HH:MM from 00:00 to 23:59")
    return time(int(found.group(1)), int(found.group(2)))


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `zone` (see the module docstring
    for times that do not exist or happen twice)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _clock_label(at: time) -> str:
    return at.strftime("%H:%M")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window of local time when alerts wait; it may cross midnight."""

    start: time
    end: time
    zone: str = DEFAULT_ZONE

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """`HH:MM-HH:MM [Zone]` (the zone defaults to UTC)."""
        window, _, zone = text.strip().partition(" ")
        first, dash, second = window.partition("-")
        if not dash:
            raise ValueError(f"{window!r} is not a window: write start-end, e.g. 22:00-07:00")
        start, end = parse_clock(first), parse_clock(second)
        if start == end:
            raise ValueError("quiet hours need a start and an end that differ")
        name = zone.strip() or DEFAULT_ZONE
        return cls(start, end, zone_named(name).key)

    def __str__(self) -> str:
        return f"{_clock_label(self.start)}-{_clock_label(self.end)} {self.zone}"

    def quiet_at(self, when: datetime) -> bool:
        """Whether `when` (an aware time) falls inside the window."""
        local = when.astimezone(ZoneInfo(self.zone)).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, when: datetime) -> datetime:
        """The end of the quiet window `when` is in (UTC), or `when` itself if it is not."""
        if not self.quiet_at(when):
            return when
        zone = ZoneInfo(self.zone)
        local = when.astimezone(zone)
        day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)
        end = local_instant(day, self.end, zone)
        while end <= when:  # only if the zone's rules moved the wall clock past it
            day += timedelta(days=1)
            end = local_instant(day, self.end, zone)
        return end


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """When a digest subscription's alerts go out: every hour, or daily at a local time."""

    daily_at: time | None = None
    """None for hourly."""
    zone: str = DEFAULT_ZONE

    @classmethod
    def parse(cls, text: str, *, default_zone: str = DEFAULT_ZONE) -> DigestSchedule:
        """`hourly [Zone]` or `daily HH:MM [Zone]`."""
        words = text.split()
        if not words or words[0].lower() not in ("hourly", "daily"):
            raise ValueError("a digest is `hourly` or `daily HH:MM`, e.g. daily 08:00 Europe/Kyiv")
        if words[0].lower() == "hourly":
            if len(words) > 2:
                raise ValueError("write `hourly` or `hourly <Zone>`")
            return cls(None, zone_named(words[1]).key if len(words) > 1 else default_zone)
        if len(words) not in (2, 3):
            raise ValueError("write `daily HH:MM`, optionally with a zone: daily 08:00 Europe/Kyiv")
        zone = zone_named(words[2]).key if len(words) == 3 else default_zone
        return cls(parse_clock(words[1]), zone)

    def __str__(self) -> str:
        if self.daily_at is None:
            return "hourly" if self.zone == DEFAULT_ZONE else f"hourly {self.zone}"
        return f"daily {_clock_label(self.daily_at)} {self.zone}"

    def next_after(self, when: datetime) -> datetime:
        """The first digest time strictly after `when`, in UTC."""
        zone = ZoneInfo(self.zone)
        local = when.astimezone(zone)
        if self.daily_at is None:
            top = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
            return top + _HOUR
        day = local.date()
        while True:
            candidate = local_instant(day, self.daily_at, zone)
            if candidate > when:
                return candidate
            day += timedelta(days=1)


def quiet_until(quiet_hours: str | None, now: datetime) -> datetime | None:
    """The end of the quiet hours (a `QuietHours` text) that `now` falls in, or None:
    not quiet, none set, or unreadable (logged and ignored: alerts are not held back
    by a setting nobody can read)."""
    if not quiet_hours:
        return None
    try:
        end = QuietHours.parse(quiet_hours).ends_after(now)
    except ValueError:
        log.warning("unreadable quiet hours %r: ignored", quiet_hours)
        return None
    return end if end > now else None
