"""Mounting calibration: angles must not depend on how the clip sits."""
import numpy as np
import pytest

from spinewise.signal.body_tracker import BodyTracker
from spinewise.signal.calibration import rotation_from_axes
from tests.signal.synth import random_mounting, segments_signal

PLAN = [("standing", 8, 0), ("walking", 40, 0), ("sitting", 40, -15), ("standing", 20, 0),
        ("walking", 15, 0), ("sitting", 30, -30)]


def _angles(R, has_gyro=True, seed=0):
    chunk, _ = segments_signal(PLAN, rate_hz=50.0, seed=seed, R_sensor_from_body=R,
                               has_gyro=has_gyro, gyro_bias_dps=(1.5, -1.0, 0.8))
    bt = BodyTracker()
    body, events = bt.update(chunk)
    return body, events, bt


def _rot_err_deg(A, B):
    return float(np.degrees(np.arccos(np.clip((np.trace(A.T @ B) - 1) / 2, -1, 1))))


@pytest.mark.parametrize("has_gyro", [True, False])
def test_two_mountings_give_the_same_angles(has_gyro):
    b1, ev1, bt1 = _angles(random_mounting(3), has_gyro)
    b2, ev2, bt2 = _angles(random_mounting(11), has_gyro)
    assert [e.kind for e in ev1] == ["calibrated"] and ev1[0].data["reason"] == "walking"
    after = b1.t_s > 60
    for name in ("flexion_deg", "lateral_deg", "incl_deg"):
        diff = np.abs(getattr(b1, name)[after] - getattr(b2, name)[after])
        assert np.percentile(diff, 99) < 1.0, name
    # sitting posterior tilt comes out negative (the anterior sign is right)
    sit = (b1.t_s > 75) & (b1.t_s < 85)
    assert -17 < np.median(b1.flexion_deg[sit]) < -13


def test_calibration_recovers_the_mounting():
    R = random_mounting(5)
    _body, _ev, bt = _angles(R)
    assert bt.calibrated and _rot_err_deg(bt.R, R) < 2.0


def test_explicit_calibrate_takes_current_gravity_as_superior():
    R = random_mounting(8)
    chunk, _ = segments_signal([("standing", 5, 4.0)], R_sensor_from_body=R)
    bt = BodyTracker()
    bt.update(chunk)
    assert not bt.calibrated
    ev = bt.calibrate()
    assert ev[0].kind == "calibrated" and ev[0].data["reason"] == "user"
    again = type(chunk)(chunk.t_s + 10.0, chunk.acc_g, chunk.gyro_dps, rate_hz=50.0)
    body, _ = bt.update(again)                     # same posture again: now 0 deg inclination
    assert np.abs(body.incl_deg[-50:]).max() < 1.0


def test_clip_moved_is_recalibrated():
    R1, R2 = random_mounting(1), random_mounting(2)
    c1, _ = segments_signal([("standing", 5, 0), ("walking", 40, 0), ("standing", 10, 0)],
                            R_sensor_from_body=R1, seed=1)
    c2, _ = segments_signal([("standing", 5, 0), ("walking", 80, 0), ("standing", 10, 0)],
                            R_sensor_from_body=R2, seed=2)
    bt = BodyTracker()
    _, ev1 = bt.update(c1)
    shifted = type(c2)(c2.t_s + c1.t_s[-1] + 0.02, c2.acc_g, c2.gyro_dps, rate_hz=50.0)
    _, ev2 = bt.update(shifted)
    reasons = [e.data["reason"] for e in ev1 + ev2]
    assert reasons[0] == "walking" and "moved" in reasons
    assert _rot_err_deg(bt.R, R2) < 3.0


def test_rotation_from_axes_is_a_proper_rotation():
    R = rotation_from_axes(np.array([0.1, 0.2, 1.0]), np.array([1.0, 0.0, 0.3]))
    assert np.allclose(R.T @ R, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(R), 1.0)
