"""Local time of day from event time: the user's IANA zone applied to epoch seconds.

Coaching never reads the wall clock: every time here comes from an event (epoch seconds
live; recording seconds + ``t0_epoch_s`` offline).
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class TimeSettingError(ValueError):
    """A time zone or HH:MM value that cannot be used; the message names it."""


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeSettingError(f"timezone: unknown IANA time zone {name!r}") from None


@lru_cache(maxsize=256)
def parse_hhmm(text: str, where: str = "time") -> time:
    try:
        hh, mm = str(text).split(":")
        return time(int(hh), int(mm))
    except (ValueError, TypeError):
        raise TimeSettingError(f"{where}: expected HH:MM (24 h), got {text!r}") from None


def local_datetime(epoch_s: float, tz: str) -> datetime:
    return datetime.fromtimestamp(float(epoch_s), tz=timezone.utc).astimezone(zone(tz))


def local_date(epoch_s: float, tz: str) -> date:
    return local_datetime(epoch_s, tz).date()


def in_daily_window(epoch_s: float, tz: str, start: str, end: str) -> bool:
    """Whether the local time of day lies in [start, end); windows may wrap midnight."""
    now = local_datetime(epoch_s, tz).time().replace(tzinfo=None)
    lo, hi = parse_hhmm(start), parse_hhmm(end)
    if lo == hi:
        return False
    if lo < hi:
        return lo <= now < hi
    return now >= lo or now < hi


def iso_local(epoch_s: float, tz: str = "UTC") -> str:
    """ISO 8601 local time with its offset (Home Assistant timestamp sensors need the offset)."""
    return local_datetime(epoch_s, tz).isoformat(timespec="seconds")
