"""Scenarios: what a simulated person does, as a plan of segments.

- ``exercise_session``: calibration intro, walk to the mat, the nine exercises of the guide (or a
  subset, ``exercises=[...]``) with rests and getting down / up, squats standing, walk away.
- ``office_day`` (default 8 h): sitting bouts of 20-90 min (fidgets, reaching, slumps), standing
  (sometimes slouched), walks of 1-10 min, a lunch walk.
- ``mixed`` (default 1 h): office life around a full exercise session.
- ``office_snippet`` (default 8 min, for fixtures): sitting with a slump of 1-2.5 min, standing
  up, a 1.5-2.5 min walk, sitting down again.
- ``day24`` (default 24 h, any duration: days repeat): clock-driven life from ``start_utc``:
  night sleep 23:00-07:00 with turning over, morning routine, office hours, commute walks, an
  evening exercise session, sofa time.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from spinewise.sim import daily
from spinewise.sim.exercises import EXERCISES, exercise_session
from spinewise.sim.plan import Planner

SCENARIOS = ("exercise_session", "office_day", "mixed", "day24", "office_snippet")
DEFAULT_DURATION_S = {"office_day": 8 * 3600.0, "mixed": 3600.0, "day24": 24 * 3600.0,
                      "office_snippet": 480.0}


def build(scenario: str, pl: Planner, duration_s: float | None, exercises: list[str] | None,
          start: datetime, calibration: bool = True) -> float | None:
    """Fill the planner; return the duration to cut at (None = natural end)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}: choose from {', '.join(SCENARIOS)}")
    pl.daily_life = scenario != "exercise_session"
    if calibration:
        daily.calibration_intro(pl)
    if scenario == "exercise_session":
        exercise_session(pl, exercises or list(EXERCISES))
        daily.stand(pl, pl.rng.uniform(3, 8))
        daily.walk(pl, pl.rng.uniform(15, 40))
        daily.stand(pl, 3.0)
        return duration_s
    duration_s = float(duration_s or DEFAULT_DURATION_S[scenario])
    if scenario == "office_day":
        _office(pl, duration_s)
    elif scenario == "office_snippet":
        _snippet(pl, duration_s)
    elif scenario == "mixed":
        _mixed(pl, duration_s, exercises)
    else:
        _day(pl, duration_s, start, exercises)
    return duration_s


def _office_block(pl: Planner, until_s: float) -> None:
    """Alternate sitting bouts with breaks (standing and/or a walk of 1-10 min)."""
    rng = pl.rng
    while until_s - pl.t_s > 30:
        left = until_s - pl.t_s
        daily.sit(pl, min(left, rng.uniform(20, 90) * 60.0), slouch_prob=0.4)
        left = until_s - pl.t_s
        if left < 20:
            break
        r = rng.random()
        if r < 0.5:
            daily.walk(pl, min(left, rng.uniform(1, 10) * 60.0))
            daily.stand(pl, min(max(2.0, until_s - pl.t_s), rng.uniform(5, 60)))
        elif r < 0.8:
            daily.stand(pl, min(left, rng.uniform(1, 6) * 60.0), slouch_prob=0.3)
        else:
            daily.stand(pl, min(left, rng.uniform(10, 40)))


def _snippet(pl: Planner, duration_s: float) -> None:
    rng = pl.rng
    sit_s = max(120.0, duration_s * 0.45)
    daily.sit(pl, sit_s, slouch_prob=0.0, slump_s=rng.uniform(60, 150))
    daily.walk(pl, max(20.0, min(rng.uniform(90, 150), duration_s - pl.t_s - 40)))
    daily.stand(pl, rng.uniform(5, 15))
    daily.sit(pl, duration_s + 60 - pl.t_s, slouch_prob=0.0)


def _office(pl: Planner, duration_s: float) -> None:
    rng = pl.rng
    lunch_at = duration_s * rng.uniform(0.4, 0.55)
    _office_block(pl, lunch_at)
    daily.walk(pl, rng.uniform(5, 10) * 60.0, detail="lunch_walk")
    daily.stand(pl, rng.uniform(20, 60))
    daily.sit(pl, rng.uniform(15, 30) * 60.0, slouch_prob=0.5, detail="lunch")
    _office_block(pl, duration_s + 60.0)


def _mixed(pl: Planner, duration_s: float, exercises) -> None:
    rng = pl.rng
    daily.sit(pl, min(duration_s * 0.2, rng.uniform(8, 15) * 60.0), slouch_prob=0.8)
    daily.walk(pl, rng.uniform(1, 3) * 60.0)
    exercise_session(pl, exercises or list(EXERCISES))
    daily.stand(pl, rng.uniform(10, 30))
    daily.walk(pl, rng.uniform(1, 4) * 60.0)
    _office_block(pl, duration_s + 60.0)


def _clock_s(start: datetime, t_s: float) -> float:
    """Seconds since local midnight at recording time t_s."""
    now = start + timedelta(seconds=t_s)
    return now.hour * 3600 + now.minute * 60 + now.second + now.microsecond * 1e-6


def _day(pl: Planner, duration_s: float, start: datetime, exercises) -> None:
    """Clock-driven days: sleep 23:00-07:00, office 08:30-17:30 on weekdays, evening session."""
    rng = pl.rng
    while duration_s + 60 - pl.t_s > 30:
        clock = _clock_s(start, pl.t_s)
        weekday = (start + timedelta(seconds=pl.t_s)).weekday() < 5
        bed_h = rng.uniform(22.5, 23.5)
        if clock >= bed_h * 3600 or clock < 6.5 * 3600:     # night
            wake = rng.uniform(6.5, 7.25) * 3600
            until_wake = (wake - clock) % 86400
            daily.lie_down_bed(pl)
            daily.sleep(pl, max(60.0, until_wake))
            daily.get_out_of_bed(pl)
            daily.stand(pl, rng.uniform(60, 300))
            daily.walk(pl, rng.uniform(1, 3) * 60)
            daily.sit(pl, rng.uniform(10, 25) * 60, slouch_prob=0.4, detail="breakfast")
        elif clock < 8.5 * 3600:                            # morning
            daily.stand(pl, rng.uniform(2, 8) * 60, slouch_prob=0.2)
            daily.walk(pl, rng.uniform(5, 15) * 60, detail="commute")
            daily.stand(pl, rng.uniform(30, 120))
        elif clock < 17.5 * 3600 and weekday:               # office hours
            until = pl.t_s + (17.5 * 3600 - clock)
            lunch_at = pl.t_s + max(0.0, 12.5 * 3600 - clock)
            if lunch_at > pl.t_s + 600:
                _office_block(pl, lunch_at)
                daily.walk(pl, rng.uniform(5, 12) * 60, detail="lunch_walk")
                daily.sit(pl, rng.uniform(15, 30) * 60, slouch_prob=0.5, detail="lunch")
            _office_block(pl, until)
            daily.walk(pl, rng.uniform(5, 15) * 60, detail="commute")
        elif clock < 17.5 * 3600:                           # weekend day: chores, outings
            until = pl.t_s + (17.5 * 3600 - clock)
            while until - pl.t_s > 60:
                r = rng.random()
                if r < 0.35:
                    daily.sit(pl, min(until - pl.t_s, rng.uniform(15, 60) * 60), slouch_prob=0.7, detail="sofa")
                elif r < 0.65:
                    daily.stand(pl, min(until - pl.t_s, rng.uniform(3, 20) * 60), slouch_prob=0.3)
                else:
                    daily.walk(pl, min(until - pl.t_s, rng.uniform(5, 40) * 60), detail="outing")
        elif clock < 19.5 * 3600:                           # evening: exercise
            daily.stand(pl, rng.uniform(2, 10) * 60, slouch_prob=0.3)
            exercise_session(pl, exercises or list(EXERCISES), sets_scale=rng.uniform(0.6, 1.0))
            daily.stand(pl, rng.uniform(30, 90))
            daily.sit(pl, rng.uniform(20, 40) * 60, slouch_prob=0.5, detail="dinner")
        else:                                               # sofa, chores
            until = pl.t_s + (bed_h * 3600 - clock)
            while until - pl.t_s > 60:
                daily.sit(pl, min(until - pl.t_s, rng.uniform(20, 60) * 60), slouch_prob=0.9, detail="sofa")
                daily.stand(pl, min(max(5.0, until - pl.t_s), rng.uniform(2, 8) * 60), slouch_prob=0.2)
                if rng.random() < 0.4:
                    daily.walk(pl, rng.uniform(1, 3) * 60)
