"""FrameBuilder: chunk-invariant 10 Hz frames; tremor only where the rate allows."""
from __future__ import annotations

import numpy as np

from spinewise.signal.body import BodySamples, angles_from_up
from spinewise.signal.exercise.frames import FrameBuilder, tremor_available


def _body(n=1000, rate=52.0, gyro=True, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate + 100.0
    up = np.column_stack([np.sin(0.3 * t), np.zeros(n), np.cos(0.3 * t)])
    acc = up + 0.01 * rng.standard_normal((n, 3)) + 0.02 * np.sin(2 * np.pi * 10 * t)[:, None]
    f, la, inc = angles_from_up(up)
    return BodySamples(t, acc, np.zeros((n, 3)) if gyro else None, up, f, la, inc, True, rate)


def _slice(b, i, j):
    return BodySamples(b.t_s[i:j], b.acc_body_g[i:j], None if b.gyro_body_dps is None else b.gyro_body_dps[i:j],
                       b.up_body[i:j], b.flexion_deg[i:j], b.lateral_deg[i:j], b.incl_deg[i:j], True, b.rate_hz)


def _run(body, size):
    fb = FrameBuilder(body.rate_hz)
    out = [fb.update(_slice(body, i, i + size)) for i in range(0, len(body), size)] + [fb.flush()]
    return (np.concatenate([o.t_s for o in out]), np.concatenate([o.up for o in out]),
            np.concatenate([o.tremor_g2 for o in out]))


def test_chunk_invariant_and_restorable():
    for gyro in (True, False):
        body = _body(gyro=gyro)
        a, b = _run(body, 10 ** 6), _run(body, 7)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)
        assert np.allclose(np.diff(a[0]), 0.1)
    fb = FrameBuilder(52.0)
    body = _body()
    fb.update(_slice(body, 0, 333))
    fb2 = FrameBuilder(52.0)
    fb2.set_state(fb.get_state())
    np.testing.assert_allclose(fb.update(_slice(body, 333, 1000)).up, fb2.update(_slice(body, 333, 1000)).up)


def test_tremor_availability():
    assert not tremor_available(25.0, 30.0) and tremor_available(52.0, 30.0)
    assert np.all(np.isnan(_run(_body(rate=25.0), 100)[2]))
    trem = _run(_body(rate=104.0, n=3000), 100)[2]
    # 20 mg sine per axis at 10 Hz: band power ~ 3 * 0.02^2 / 2
    assert np.isclose(np.median(trem[20:]), 3 * 0.02 ** 2 / 2, rtol=0.3)


def test_effort_unknown_where_the_rate_leaves_no_band():
    """A 6 Hz stream (fuzzed or a slow sensor) has no 3-12 Hz band: effort is NaN, never an error."""
    fb = FrameBuilder(6.0)
    frames = fb.update(_body(n=120, rate=6.0))
    assert len(frames) > 0 and np.all(np.isnan(frames.effort2))
    ok = FrameBuilder(25.0).update(_body(n=500, rate=25.0))
    assert np.all(np.isfinite(ok.effort2))
