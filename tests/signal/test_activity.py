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
