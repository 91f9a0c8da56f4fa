"""FrameBuilder: chunk-invariant 10 Hz frames; tremor only where the rate allows."""
from __future__ import annotations

import os

import numpy as np
import pytest

from spinewise.signal.body import BodySamples, angles_from_up
from spinewise.signal.exercise import frames
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


# -- the gyro/accelerometer fusion, vectorised over a chunk (FrameBuilder._fuse) ----------------
def _moving_body(seed: int, n: int = 6000, rate: float = 52.0) -> BodySamples:
    """Still spells, slow drifts and sudden turns, with the gyro's direction off the
    accelerometer's by a wandering offset: every branch of the fusion."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate + 50.0
    ang = np.cumsum(np.where(rng.random(n) < 0.002, rng.normal(0, 40, n), rng.normal(0, 0.05, n)))
    tilt = np.radians(np.clip(ang, -170, 170))
    up = np.column_stack([np.sin(tilt), 0.1 * np.sin(0.05 * t), np.cos(tilt)])
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    acc = up + 0.01 * rng.standard_normal((n, 3)) + np.radians(2.0) * np.sin(0.01 * t)[:, None]
    f, la, inc = angles_from_up(up)
    return BodySamples(t, acc, rng.normal(0, 1, (n, 3)), up, f, la, inc, True, rate)


def _fused(body, size, reference, monkeypatch, compiled=True, loop_max=0):
    monkeypatch.undo()
    if reference:
        monkeypatch.setattr(FrameBuilder, "_fuse", FrameBuilder._fuse_frame_by_frame)
    else:
        monkeypatch.setattr(frames, "FUSE_LOOP_MAX_FRAMES", loop_max)
        if not compiled:
            monkeypatch.setattr(frames, "_loop", None)
    fb = FrameBuilder(body.rate_hz)
    out, states = [], []
    for i in range(0, len(body), size):
        out.append(fb.update(_slice(body, i, i + size)).up)
        states.append(repr(fb.get_state()["fusion"]))
    out.append(fb.flush().up)
    return np.concatenate(out), states


def test_the_compiled_fusion_loop_is_built():
    """CI builds it (setup.py: an optional extension), as the idle loop (test_idle.py)."""
    if os.environ.get("CI") == "true":
        assert frames._loop is not None, "spinewise/signal/exercise/_fusion_loop.c was not built"
    elif frames._loop is None:
        pytest.skip("the C loop is not built here (no compiler?): the Python loop runs")


@pytest.mark.parametrize("loop_max", [0, frames.FUSE_LOOP_MAX_FRAMES], ids=["vectorised", "as shipped"])
@pytest.mark.parametrize("compiled", [True, False], ids=["C loop", "Python loop"])
def test_vectorised_fusion_equals_the_frame_by_frame_loop(compiled, loop_max, monkeypatch):
    """FrameBuilder._fuse_frame_by_frame is the specification. Vectorised (loop_max 0) and as
    shipped (chunks of a few frames, the live messages, go frame by frame)."""
    if compiled and frames._loop is None:
        pytest.skip("the C loop is not built here")
    for seed in range(4):
        body = _moving_body(seed)
        for size in (1000, 37, 400):
            ref_up, ref_states = _fused(body, size, True, monkeypatch)
            up, states = _fused(body, size, False, monkeypatch, compiled, loop_max)
            assert np.array_equal(up, ref_up)          # bit for bit
            assert states == ref_states
