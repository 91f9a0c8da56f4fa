"""Where the weekly report reads from: one small interface, and the coaching store behind it.

The coaching store (SQLite, ``coaching.state_db``) is what every running pipeline and the
demo fill, with or without InfluxDB: the exercise log (sets, holds with their stability),
pain reports, the nudge history with outcomes, the flags and the coach's day totals per
local date. An InfluxDB source would implement the same methods over the measurements in
spinewise/storage/schema.py (set, hold, pain, nudge, nudge_outcome, activity_minute).
"""
from __future__ import annotations

from typing import Protocol

from spinewise.config import CoachingConfig, ConfigError
from spinewise.coaching import settings as user_settings
from spinewise.coaching.log import LogEntry, PainReport


class WeekSource(Protocol):
    def users(self) -> list[str]: ...
    def settings(self, user: str) -> CoachingConfig: ...
    def entries(self, user: str, until_t_s: float) -> list[LogEntry]: ...
    def pain(self, user: str, until_t_s: float) -> list[PainReport]: ...
    def nudges(self, user: str, since_t_s: float, until_t_s: float) -> list[dict]: ...
    def day_totals(self, user: str, first: str, last: str) -> dict[str, dict]: ...
    def flags(self, user: str) -> dict: ...
    def last_seen_t_s(self, user: str) -> float | None: ...


class CoachStoreSource:
    """A WeekSource over a CoachStore (the defaults are the config's coaching section)."""

    def __init__(self, store, defaults: CoachingConfig):
        self.store = store
        self.defaults = defaults

    def users(self) -> list[str]:
        return self.store.users()

    def settings(self, user: str) -> CoachingConfig:
        try:
            return user_settings.effective(self.defaults, self.store.settings(user))
        except (TypeError, ConfigError):        # a stale override: the service ignores it too
            return self.defaults

    def entries(self, user: str, until_t_s: float) -> list[LogEntry]:
        return self.store.entries(user, until_t_s=until_t_s)

    def pain(self, user: str, until_t_s: float) -> list[PainReport]:
        return self.store.pain(user, until_t_s=until_t_s)

    def nudges(self, user: str, since_t_s: float, until_t_s: float) -> list[dict]:
        return self.store.nudges(user, since_t_s, until_t_s)

    def day_totals(self, user: str, first: str, last: str) -> dict[str, dict]:
        return self.store.days(user, first, last)

    def flags(self, user: str) -> dict:
        return self.store.flags(user)

    def last_seen_t_s(self, user: str) -> float | None:
        return self.store.get(user, "last_t_s")
