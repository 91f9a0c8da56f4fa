import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.interpolate import CubicSpline

from spinewise.signal.gait import StepDetector, _upward_crossings
from tests.signal.synth import segments_signal


def test_steps_counted_on_synthetic_walk_and_none_when_still():
    chunk, _ = segments_signal([("standing", 10, 0), ("walking", 60, 2), ("standing", 10, 0)],
                               rate_hz=50.0, cadence_spm=110.0)
    det = StepDetector(50.0)
    _bp, steps = det.update(chunk.acc_g, np.tile([0.0, 0.0, 1.0], (len(chunk), 1)))
    t = chunk.t_s[steps]
    assert abs(steps.sum() - 110) <= 3
    assert t.min() > 9.0 and t.max() < 71.0


def test_step_detector_is_chunk_invariant():
    chunk, _ = segments_signal([("walking", 20, 0)], rate_hz=25.0)
    up = np.tile([0.0, 0.0, 1.0], (len(chunk), 1))
    a = StepDetector(25.0).update(chunk.acc_g, up)[1]
    det = StepDetector(25.0)
    b = np.concatenate([det.update(chunk.acc_g[i:i + 7], up[i:i + 7])[1]
                        for i in range(0, len(chunk), 7)])
    assert np.array_equal(a, b)


# one vertical cycle per step at the lower back: the rise after the heel strike, the trough
# of single support; a double-peaked step dips and rises again ~0.3 step after the strike
_SINGLE = CubicSpline([0, 0.15, 0.5, 0.85, 1.0], [0.0, 0.25, 0.0, -0.25, 0.0], bc_type="periodic")
_DOUBLE = CubicSpline([0, 0.1, 0.22, 0.35, 0.85, 1.0], [0.0, 0.25, -0.12, 0.15, -0.25, 0.0],
                      bc_type="periodic")


def _vertical_walk(rate_hz, step_s, n_steps, double_every=0, lead_s=2.0, seed=0):
    """Body-frame acc (g) of a walk, every ``double_every``-th step double-peaked (0: none)
    -> (acc, up)."""
    n = int(round((2 * lead_s + n_steps * step_s) * rate_hz))
    x = (np.arange(n) / rate_hz - lead_s) / step_s
    k, ph = np.floor(x), np.mod(x, 1.0)
    double = (k % double_every == 1) if double_every else np.zeros(n, dtype=bool)
    v = np.where((x >= 0) & (x < n_steps), np.where(double, _DOUBLE(ph), _SINGLE(ph)), 0.0)
    acc = np.zeros((n, 3))
    acc[:, 2] = 1.0 + v + np.random.default_rng(seed).normal(0, 0.005, n)
    return acc, np.tile([0.0, 0.0, 1.0], (n, 1))


@pytest.mark.parametrize("rate_hz", [25.0, 52.0, 104.0])
@pytest.mark.parametrize("step_s", [0.46, 0.6, 0.86])        # 130, 100, 70 steps/min
def test_a_double_peaked_heel_strike_is_one_step(rate_hz, step_s):
    acc, up = _vertical_walk(rate_hz, step_s, 40, double_every=3)
    det = StepDetector(rate_hz)
    bp, flags = det.update(acc, up)
    assert 40 <= flags.sum() <= 42                # one step per heel strike
    if step_s > 0.8:
        # at 70 steps/min the second peak passes the band-pass and crosses on its own:
        # only the cadence rule removes it
        assert _upward_crossings(bp, det.threshold_g, 0)[0].sum() >= 50


def test_one_early_crossing_does_not_lock_the_period_on_every_other_step():
    """A lone crossing ~0.9 s before a 0.5 s-step walk (a weight shift before gait
    initiation) must not teach a long period that then rejects every other real step."""
    rate = 100.0
    acc, up = _vertical_walk(rate, 0.5, 30)
    i = int((2.0 - 0.93) * rate)
    acc[i - 15:i + 15, 2] += 0.15 * np.sin(np.linspace(-np.pi, np.pi, 30))
    flags = StepDetector(rate).update(acc, up)[1]
    assert 30 <= flags.sum() <= 31


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=60), st.integers(0, 1000))
def test_steps_are_chunk_invariant_and_state_restorable(sizes, seed):
    acc, up = _vertical_walk(25.0, 0.86, 25, double_every=3, seed=seed)
    whole = StepDetector(25.0).update(acc, up)[1]
    det, parts, i, k = StepDetector(25.0), [], 0, 0
    while i < len(acc):
        n = sizes[k % len(sizes)]
        parts.append(det.update(acc[i:i + n], up[i:i + n])[1])
        fresh = StepDetector(25.0)               # save and restore between every chunk
        fresh.set_state(det.get_state())
        det, i, k = fresh, i + n, k + 1
    assert np.array_equal(whole, np.concatenate(parts))


def _drop_packets(n, rate_hz, seed, lost_fraction=0.12, max_hole_s=0.4):
    """Mask of the samples a lossy radio delivers: holes of 1 sample .. ``max_hole_s``."""
    rng = np.random.default_rng(seed)
    keep = np.ones(n, dtype=bool)
    while (~keep).mean() < lost_fraction:
        i = int(rng.integers(0, n))
        keep[i:i + int(rng.integers(1, int(max_hole_s * rate_hz) + 1))] = False
    keep[0] = keep[-1] = True
    return keep


@pytest.mark.parametrize("step_s", [0.5, 0.6, 0.86])
def test_lost_samples_do_not_lose_steps(step_s):
    """Packets lost while walking (voisard: 2/3 of the trials) made the walk look faster
    than it is and the cadence rule dropped real steps as second peaks; with the sample
    times the holes are filled and the steps are all there."""
    rate = 100.0
    acc, up = _vertical_walk(rate, step_s, 40)
    t = np.arange(len(acc)) / rate
    keep = _drop_packets(len(acc), rate, seed=int(step_s * 100))
    flags = StepDetector(rate).update(acc[keep], up[keep], t[keep])[1]
    assert 39 <= flags.sum() <= 41
    assert flags.size == keep.sum()


def test_without_holes_the_sample_times_change_nothing():
    rate = 52.0
    acc, up = _vertical_walk(rate, 0.55, 30, double_every=3)
    t = 1000.0 + np.arange(len(acc)) / rate
    a = StepDetector(rate).update(acc, up)
    b = StepDetector(rate).update(acc, up, t)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=40), st.integers(0, 1000))
def test_filled_holes_are_chunk_invariant_and_state_restorable(sizes, seed):
    rate = 50.0
    acc, up = _vertical_walk(rate, 0.6, 25, seed=seed)
    t = np.arange(len(acc)) / rate
    keep = _drop_packets(len(acc), rate, seed)
    acc, up, t = acc[keep], up[keep], t[keep]
    whole_bp, whole = StepDetector(rate).update(acc, up, t)
    det, parts, bps, i, k = StepDetector(rate), [], [], 0, 0
    while i < len(acc):
        n = sizes[k % len(sizes)]
        bp, fl = det.update(acc[i:i + n], up[i:i + n], t[i:i + n])
        parts.append(fl)
        bps.append(bp)
        fresh = StepDetector(rate)
        fresh.set_state(det.get_state())
        det, i, k = fresh, i + n, k + 1
    assert np.array_equal(whole, np.concatenate(parts))
    assert np.allclose(whole_bp, np.concatenate(bps), atol=1e-12)


def _asymmetric_walk(rate_hz, step_s, n_steps, soft, seed=0):
    """A walk whose every other step (the soft foot) is ``soft`` x the other's amplitude."""
    acc, up = _vertical_walk(rate_hz, step_s, n_steps, seed=seed)
    v = acc[:, 2] - 1.0
    x = (np.arange(len(v)) / rate_hz - 2.0) / step_s
    weak = np.floor(x) % 2 == 1
    v[weak] *= soft
    acc[:, 2] = 1.0 + 0.4 * v            # 0.1 g strong, 0.1 x soft g soft steps
    return acc, up


@pytest.mark.parametrize("rate_hz", [25.0, 52.0])
@pytest.mark.parametrize("step_s", [0.6, 0.82])              # 100, 73 steps/min
def test_the_soft_foot_of_an_asymmetric_gait_is_counted(rate_hz, step_s):
    """Hard steps of 0.1 g, soft ones of 0.035 g (under the 0.04 g hysteresis): a stride-
    regular walk of strong steps alone opens the gate for the soft foot's midway crossings
    after 3 strides; before, every other step was lost."""
    acc, up = _asymmetric_walk(rate_hz, step_s, 60, soft=0.35)
    flags = StepDetector(rate_hz).update(acc, up)[1]
    assert 60 - 7 <= flags.sum() <= 60
    # the same walk with both feet hard: the gate stays shut, the count is unchanged
    acc, up = _asymmetric_walk(rate_hz, step_s, 60, soft=1.0)
    assert 59 <= StepDetector(rate_hz).update(acc, up)[1].sum() <= 61


def test_the_soft_foot_gate_is_chunk_invariant_and_restorable():
    acc, up = _asymmetric_walk(25.0, 0.82, 40, soft=0.35, seed=3)
    whole = StepDetector(25.0).update(acc, up)[1]
    det, parts = StepDetector(25.0), []
    for i in range(0, len(acc), 11):
        restored = StepDetector(25.0)
        restored.set_state(det.get_state())
        parts.append(restored.update(acc[i:i + 11], up[i:i + 11])[1])
        det = restored
    assert np.array_equal(whole, np.concatenate(parts))
