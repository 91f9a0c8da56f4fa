"""Event builders shared by the coaching tests."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from spinewise.events import Event


def epoch(iso_local: str, tz: str = "Europe/Berlin") -> float:
    return datetime.fromisoformat(iso_local).replace(tzinfo=ZoneInfo(tz)).timestamp()


def minute(start_s: float, activity: str = "sitting", seconds: float = 60.0) -> Event:
    """A DayTracker-style minute event spent in one activity (sedentary = sitting or lying)."""
    data = {"start_s": start_s, "sitting_s": 0.0, "standing_s": 0.0, "walking_s": 0.0,
            "lying_s": 0.0, "exercise_s": 0.0, "sedentary_s": 0.0, "steps": 0, "enmo_mg": 0.0,
            "slouch_s": 0.0}
    data[f"{activity}_s"] = seconds
    if activity in ("sitting", "lying"):
        data["sedentary_s"] = seconds
    return Event("minute", start_s + 60.0, data)


def minutes(start_s: float, n: int, activity: str = "sitting") -> list[Event]:
    return [minute(start_s + 60.0 * i, activity) for i in range(n)]


def brk(start_s: float, end_s: float) -> Event:
    return Event("break", end_s, {"start_s": start_s, "end_s": end_s})
