"""Walking part of activity.ActivityClassifier: the run and uprightness rules."""
import pytest

from spinewise.signal.activity import FLEX, GAIT, STEPS, WALK_MIN_EPOCHS, ActivityClassifier
from spinewise.signal.day_features import FEATURES


def _rows(gait, flex_deg):
    rows = []
    for g, f in zip(gait, flex_deg):
        r = [0.0] * (len(FEATURES) + 3)
        r[GAIT], r[STEPS], r[FLEX] = float(g), 2.0 * g, float(f)
        rows.append(r)
    return rows


def _walking(gait, flex_deg):
    clf = ActivityClassifier(100.0)
    clf._rows = _rows(gait, flex_deg)
    return [clf._walking(k) for k in range(len(gait))]


def test_a_second_of_trunk_pitch_inside_a_walk_is_still_walking():
    """With a gyro the epoch's gravity direction is exact: a walker's trunk pitches past
    15 deg for a second in a turn or a halting step (mobgap MS walker: 18-23 deg between
    2-4 deg epochs); the walk is upright on average and stays one walk."""
    flex = [3, 4, 2, 23, 3, 2, 4, 3, 2]
    assert all(_walking([1] * len(flex), flex))
    # four gait-like epochs, one of them pitched: still a walk
    assert _walking([0, 1, 1, 1, 1, 0], [0, 13, 4, 2, 18, 0])[1:5] == [True] * 4


@pytest.mark.parametrize("flex", [[25, 8, 30, 6, 28, 9, 26, 7], [20] * 8,
                                  [-3, 10, 30, -3, 9, 32, 0, 6, 29, 0, 7, 27]])
def test_leaning_in_every_rep_is_not_walking(flex):
    """Squat reps bob at gait-like rates with the trunk well forward in every rep, the deep
    epoch every 2-3 s (the rest upright: the mean tilt of a run can stay under 15 deg), also
    at the first and last reps of the set."""
    for cut in range(3):
        f = [0] * 4 + flex[cut:] + flex[:cut] + [0] * 4
        g = [0] * 4 + [1] * len(flex) + [0] * 4
        assert not any(_walking(g, f))


def test_gait_runs_shorter_than_the_minimum_are_not_walking():
    gait = [0] + [1] * (WALK_MIN_EPOCHS - 1) + [0] * 3
    assert not any(_walking(gait, [2] * len(gait)))


@pytest.mark.parametrize("rate_hz", [25.0, 52.0, 104.0])
@pytest.mark.parametrize("turn_dps", [0.0, 2.0, 30.0])
def test_an_epoch_s_turn_rate_from_its_direction_moments(rate_hz, turn_dps):
    """_turn_dps reads the linear trend of the specific-force direction within an epoch from
    its zeroth and first moments (sums over the samples at k dt from the epoch's start): a
    still epoch reads 0 (not the 3 deg/s a continuous-time centre of dur / 2 would make of it
    at 104 Hz), a steady turn its rate; _at_rest takes under 3 deg/s with |acc| quiet."""
    import numpy as np

    from spinewise.signal.activity import AVAR, D0X, D0Y, D0Z, D1X, D1Y, D1Z, N
    n = int(rate_hz)
    t = np.arange(n) / rate_hz
    a = np.radians(10.0 + turn_dps * (t - t.mean()))
    u = np.column_stack([-np.sin(a), np.zeros(n), np.cos(a)])
    row = [0.0] * (len(FEATURES) + 3)
    row[N], row[AVAR] = float(n), 0.01
    for c0, c1, k in ((D0X, D1X, 0), (D0Y, D1Y, 1), (D0Z, D1Z, 2)):
        row[c0], row[c1] = u[:, k].sum() / rate_hz, (u[:, k] * t).sum() / rate_hz
    clf = ActivityClassifier(rate_hz)
    clf._rows, clf.noise_var = [row], 0.01
    assert clf._turn_dps(0) == pytest.approx(turn_dps, abs=0.05 + 0.01 * turn_dps)
    assert clf._at_rest(0) == (turn_dps < 3.0)
