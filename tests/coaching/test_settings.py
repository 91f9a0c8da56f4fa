import pytest

from spinewise.config import CoachingConfig, ConfigError
from spinewise.coaching.localtime import in_daily_window, iso_local, local_date
from spinewise.coaching.settings import effective, validate_overrides
from tests.coaching.helpers import epoch


def test_daily_windows_wrap_midnight_and_follow_dst():
    tz = "Europe/Berlin"
    assert in_daily_window(epoch("2026-03-02T23:30:00"), tz, "22:00", "07:00")
    assert in_daily_window(epoch("2026-03-02T06:59:00"), tz, "22:00", "07:00")
    assert not in_daily_window(epoch("2026-03-02T07:00:00"), tz, "22:00", "07:00")
    assert in_daily_window(epoch("2026-03-02T12:00:00"), tz, "09:00", "17:00")
    assert not in_daily_window(epoch("2026-03-02T12:00:00"), tz, "10:00", "10:00")
    # the day clocks go forward: local 06:30 is still quiet, local noon is UTC+2
    assert in_daily_window(epoch("2026-03-29T06:30:00"), tz, "22:00", "07:00")
    assert iso_local(epoch("2026-03-29T12:00:00"), tz) == "2026-03-29T12:00:00+02:00"
    assert local_date(epoch("2026-03-02T00:30:00"), tz).isoformat() == "2026-03-02"


def test_overrides_are_validated_and_name_the_key():
    ok = validate_overrides({"snooze_min": "15", "quiet_start": "23:00", "timezone": "America/New_York"})
    cfg = effective(CoachingConfig(), ok)
    assert (cfg.snooze_min, cfg.quiet_start, cfg.timezone) == (15.0, "23:00", "America/New_York")
    for bad, key in [({"snooze_min": "soon"}, "snooze_min"), ({"quiet_end": "7am"}, "quiet_end"),
                     ({"timezone": "Nowhere/City"}, "timezone"), ({"state_db": "/tmp/x"}, "state_db"),
                     ({"daily_cap": -1}, "daily_cap"), ({"deload_factor": 1.5}, "deload_factor"),
                     ({"deload_every_weeks": 0}, "deload_every_weeks"), ({"colour": 1}, "colour")]:
        with pytest.raises(ConfigError, match=key):
            validate_overrides(bad)
    with pytest.raises(ConfigError):
        validate_overrides(["snooze_min"])
