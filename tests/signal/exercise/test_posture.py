"""Posture classes and body rotations from the gravity direction."""
from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from spinewise.signal.exercise.posture import body_rotation1_deg, body_rotation_deg, classify, \
    classify1, elevation_deg


def _up_after(rest_up, axis, deg):
    """World-up in the body frame after the body turns ``deg`` about its own ``axis``."""
    rv = np.zeros(3)
    rv["xyz".index(axis)] = np.radians(deg)
    return Rotation.from_rotvec(rv).inv().apply(rest_up)


def test_classes():
    ups = np.array([[0, 0, 1], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0],
                    [-np.cos(np.radians(12)), 0, np.sin(np.radians(12))]])
    assert classify(ups) == ["upright", "supine", "prone", "side_right", "side_left", "prone"]
    assert np.isclose(elevation_deg(ups[-1])[0], 12.0)


def test_rotation_signs_match_the_architecture():
    # forward flexion standing: + about body y; bend right: + about x; roll: + about z
    for rest in ([0, 0, 1.0], [1.0, 0, 0], [-1.0, 0, 0]):
        for axis in "xyz":
            up = _up_after(np.array(rest), axis, 20.0)
            rot = body_rotation_deg(up, rest)[0]
            k = "xyz".index(axis)
            if abs(np.dot(rest, np.eye(3)[k])) > 0.9:    # about the vertical: invisible
                assert np.linalg.norm(rot) < 1e-6
            else:
                assert np.isclose(rot[k], 20.0, atol=1e-6) and np.linalg.norm(rot) < 20.0 + 1e-6


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0), min_size=6, max_size=6))
def test_one_orientation_twins_match_the_array_versions(v):
    # the per-frame path uses plain-float twins; they must agree with the array functions
    a, b = np.asarray(v[:3]), np.asarray(v[3:])
    assume(np.linalg.norm(a) > 0.1 and np.linalg.norm(b) > 0.1)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    assert np.allclose(body_rotation1_deg(a, b), body_rotation_deg(a, b)[0], atol=1e-9)
    assert classify1(a) == classify(a)[0]
