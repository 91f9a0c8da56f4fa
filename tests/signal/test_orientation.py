import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from spinewise.signal.orientation import GravityEstimator, up_from_quat


def test_up_from_quat_matches_scipy():
    q = Rotation.random(50, random_state=1)
    wxyz = np.roll(q.as_quat(), 1, axis=1)
    expected = q.inv().apply([0.0, 0.0, 1.0])
    assert np.allclose(up_from_quat(wxyz), expected, atol=1e-12)


@pytest.mark.parametrize("has_gyro", [True, False])
def test_static_tilt_is_found_and_chunking_does_not_matter(has_gyro):
    rate = 50.0
    up_true = np.array([np.sin(np.radians(30)), 0.0, np.cos(np.radians(30))])
    n = 1500
    rng = np.random.default_rng(0)
    acc = up_true + rng.normal(0, 0.01, (n, 3))
    gyro = rng.normal(0, 0.2, (n, 3)) + [1.0, -0.5, 0.3] if has_gyro else None
    e1 = GravityEstimator(rate, has_gyro)
    up1 = e1.update(acc, gyro)
    err = np.degrees(np.arccos(np.clip(up1[-200:] @ up_true, -1, 1)))
    assert err.max() < 1.5
    e2 = GravityEstimator(rate, has_gyro)
    parts = []
    for i in range(0, n, 25):
        if i == 700:                           # restore mid-stream
            s = e2.get_state()
            e2 = GravityEstimator(rate, has_gyro)
            e2.set_state(s)
        parts.append(e2.update(acc[i:i + 25], None if gyro is None else gyro[i:i + 25]))
    assert np.array_equal(np.vstack(parts), up1)


def test_state_for_another_stream_is_refused():
    s = GravityEstimator(50.0, True).get_state()
    with pytest.raises(ValueError):
        GravityEstimator(25.0, True).set_state(s)
