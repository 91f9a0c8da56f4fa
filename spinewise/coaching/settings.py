"""Per-user coaching settings: CoachingConfig defaults plus validated per-user overrides.

The overrides are stored in the CoachStore and arrive with the ``settings`` command; they
are checked with the same coercion rules as the TOML file so a bad value names its key.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any

from spinewise.config import CoachingConfig, ConfigError, _coerce
from spinewise.coaching.localtime import TimeSettingError, parse_hhmm, zone

# state_db is a service setting, not a user's
USER_KEYS = tuple(f.name for f in dataclasses.fields(CoachingConfig) if f.name != "state_db")
_HINTS = typing.get_type_hints(CoachingConfig)
_TIME_KEYS = {"quiet_start", "quiet_end", "lying_night_start", "lying_night_end", "morning_end"}
_NON_NEGATIVE = {k for k in USER_KEYS if _HINTS[k] in (int, float)}
_FRACTIONS = {"deload_factor", "pain_reduction_factor"}


def validate_overrides(values: dict[str, Any], where: str = "settings") -> dict[str, Any]:
    """Coerced copy of ``values``; raises ConfigError naming the first bad key."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected an object of setting names to values")
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{where}.{key}"
        if key not in USER_KEYS:
            raise ConfigError(f"{name}: unknown setting (known: {', '.join(USER_KEYS)})")
        coerced = _coerce(value, _HINTS[key], name)
        try:
            if key in _TIME_KEYS:
                parse_hhmm(coerced, name)
            if key == "timezone":
                zone(coerced)
        except TimeSettingError as exc:
            raise ConfigError(str(exc)) from None
        if key in _NON_NEGATIVE and coerced < 0:
            raise ConfigError(f"{name}: must be >= 0, got {coerced!r}")
        if key in _FRACTIONS and not 0 < coerced <= 1:
            raise ConfigError(f"{name}: must be in (0, 1], got {coerced!r}")
        if key in {"deload_every_weeks", "phase_min_weeks", "phase_max_weeks"} and coerced < 1:
            raise ConfigError(f"{name}: must be >= 1, got {coerced!r}")
        out[key] = coerced
    return out


def effective(defaults: CoachingConfig, overrides: dict[str, Any] | None) -> CoachingConfig:
    """The user's settings: defaults with overrides applied (overrides already validated)."""
    return dataclasses.replace(defaults, **(overrides or {}))
