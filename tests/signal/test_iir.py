import numpy as np
from hypothesis import given, settings, strategies as st
from scipy import signal as sps

from spinewise.signal.iir import sosfilt_step

SOS_BP = sps.butter(2, (0.6, 3.5), btype="bandpass", fs=50.0, output="sos")
SOS_LP = sps.butter(2, 0.3, fs=50.0, output="sos")


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 200), st.integers(0, 3), st.integers(0, 10 ** 6))
def test_same_bits_as_scipy_sosfilt(n, channels, seed):
    rng = np.random.default_rng(seed)
    sos = SOS_BP if channels == 0 else SOS_LP
    shape = (n,) if channels == 0 else (n, channels)
    x = rng.normal(size=shape)
    zi = rng.normal(size=(sos.shape[0], 2) + shape[1:])
    zi_before = zi.copy()
    y_ref, z_ref = sps.sosfilt(sos, x, axis=0, zi=zi)
    y, z = sosfilt_step(sos, x, zi)
    assert np.array_equal(y, y_ref) and np.array_equal(z, z_ref)
    assert y.shape == y_ref.shape and z.shape == z_ref.shape
    assert np.array_equal(zi, zi_before)          # the caller's state is not touched


def test_chunked_equals_whole():
    x = np.random.default_rng(0).normal(size=(500, 3))
    zi = np.zeros((SOS_LP.shape[0], 2, 3))
    whole, _ = sosfilt_step(SOS_LP, x, zi)
    parts = []
    for a in range(0, 500, 25):
        y, zi = sosfilt_step(SOS_LP, x[a:a + 25], zi)
        parts.append(y)
    assert np.array_equal(np.concatenate(parts), whole)
