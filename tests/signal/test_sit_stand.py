"""Sitting vs standing from a lower-back sensor: transitions judged by their net vertical travel
(activity.net_travel_m), upright sitting (as upright as standing), accelerometer-only streams,
chunk invariance. Synthetic sagittal-plane signals, independent of spinewise.sim."""
from __future__ import annotations

import numpy as np
import pytest

from spinewise.config import SignalConfig
from spinewise.signal import day as daymod
from spinewise.signal.activity import F, net_travel_m
from spinewise.signal.analyzer import Analyzer
from spinewise.stream import GRAVITY_M_S2, ImuChunk

from .synth import random_mounting


def _min_jerk(x):
    x = np.clip(x, 0.0, 1.0)
    return x ** 3 * (10 - 15 * x + 6 * x * x)


def day_signal(rate_hz=50.0, sit_flex_deg=0.0, pace=1.0, lean_deg=25.0, seed=0, noise_g=0.004,
               bias_g=(0.015, -0.01, 0.008), gyro=True, R=None, plan=None, drop_m=0.45, shift_m=0.0, reach_deg=30.0,
               walk_g=0.25, reach_hold_s=0.0):
    """Calibration walk, standing (with sway), stand-to-sit, upright sitting with reaches,
    sit-to-stand, standing. Returns (chunk, [(start, end, 'sitting'|'standing')]).
    ``reach_hold_s``: the reaches lean in 1 s, hold that long at rest and come back in 1 s
    (else a 3 s sweep that never stops)."""
    rng = np.random.default_rng(seed)
    plan = plan or [("walk", 40.0), ("stand", 60.0), ("down", 3.0 * pace), ("sit", 400.0),
                    ("up", 2.5 * pace), ("stand", 300.0)]
    total = sum(d for _, d in plan)
    t = np.arange(int(total * rate_hz)) / rate_hz
    flex = np.zeros_like(t)
    z = np.zeros_like(t)                  # pelvis height (m)
    x = np.zeros_like(t)                  # pelvis forward (m): back onto the seat, forward off it
    walk = np.zeros_like(t, dtype=bool)
    walk_bob = np.zeros_like(t, dtype=bool)
    brake = np.zeros_like(t, dtype=bool)
    truth, t0 = [], 0.0
    for kind, dur in plan:
        m = (t >= t0) & (t < t0 + dur)
        xs = (t[m] - t0) / dur
        if kind == "walk":
            walk[m] = True
            truth.append((t0, t0 + dur, "walking"))
        elif kind == "stop":
            # a walk whose pelvis bob (2 cm at 1.8 Hz) is in the height itself and dies out in
            # its last 0.12 s, with a braking step (0.2 g forward for 0.5 s): the walk that
            # leads straight into a sit-down
            walk_bob[m] = True
            truth.append((t0, t0 + dur, "walking"))
            z[m] = 0.02 * np.sin(2 * np.pi * 1.8 * (t[m] - t0) + 1.0) * np.clip((t0 + dur - t[m]) / 0.12, 0, 1)
            brake[m] = np.clip(1.0 - (t0 + dur - t[m]) / 0.5, 0, 1) > 0
        elif kind == "stand":
            truth.append((t0, t0 + dur, "standing"))
            # postural sway of the pelvis (a few mm) and weight shifts
            z[m] = 0.003 * np.sin(2 * np.pi * 0.3 * t[m])
            flex[m] = 0.6 * np.sin(2 * np.pi * 0.17 * t[m])
        elif kind == "sit":
            truth.append((t0, t0 + dur, "sitting"))
            z[m] = -drop_m
            x[m] = -shift_m
            flex[m] = sit_flex_deg
            for c in (60.0, 150.0, 260.0):          # reaching forward 30 deg for ~3 s
                if reach_hold_s:
                    r = t[m] - t0 - c
                    flex[m] += reach_deg * (_min_jerk(r) - _min_jerk(r - 1.0 - reach_hold_s))
                else:
                    r = (t[m] - t0 - c) / 3.0
                    flex[m] += reach_deg * np.sin(np.pi * np.clip(r, 0, 1)) ** 2
        elif kind == "down":
            x[m] = -shift_m * _min_jerk(xs)
            z[m] = -drop_m * _min_jerk(xs)
            flex[m] = lean_deg * np.sin(np.pi * xs) ** 2 + sit_flex_deg * _min_jerk(xs)
        elif kind == "up":
            x[m] = -shift_m + shift_m * _min_jerk(xs)
            z[m] = -drop_m + drop_m * _min_jerk(xs)
            flex[m] = lean_deg * np.sin(np.pi * xs) ** 2 + sit_flex_deg * (1 - _min_jerk(xs))
        t0 += dur
    az = np.gradient(np.gradient(z, t), t) / GRAVITY_M_S2
    pitch = np.radians(flex)
    up = np.column_stack([-np.sin(pitch), np.zeros_like(t), np.cos(pitch)])
    ax = np.gradient(np.gradient(x, t), t) / GRAVITY_M_S2
    fwd = np.column_stack([np.cos(pitch), np.zeros_like(t), np.sin(pitch)])   # world forward, body frame
    acc = up * (1.0 + az)[:, None] + fwd * ax[:, None]
    w = 2 * np.pi * 1.8
    acc[walk, 2] += -walk_g * np.cos(w * t[walk])
    acc[walk, 0] += 0.6 * walk_g * np.sin(w * t[walk])
    acc[walk, 1] += 0.08 * np.sin(w / 2 * t[walk])
    acc[walk_bob, 0] += 0.15 * np.sin(w * t[walk_bob])
    acc[walk_bob, 1] += 0.08 * np.sin(w / 2 * t[walk_bob])
    acc[brake, 0] -= 0.2
    gyr = np.zeros_like(acc)
    gyr[:, 1] = np.degrees(np.gradient(pitch, t))
    R = np.eye(3) if R is None else np.asarray(R)
    acc_s = acc @ R.T + np.asarray(bias_g) + rng.normal(0, noise_g, acc.shape)
    gyr_s = gyr @ R.T + rng.normal(0, 0.1, acc.shape)
    return ImuChunk(t, acc_s, gyr_s if gyro else None, rate_hz=rate_hz), truth


def classify(chunk, chunk_size=None):
    """-> per-epoch (t0, class) from the whole Analyzer (day half)."""
    out = []
    orig = daymod.DayTracker._records

    def rec(self, decided):
        out.extend((row[F["t0"]], cls) for row, cls, _a, _n in decided)
        return orig(self, decided)
    daymod.DayTracker._records = rec
    try:
        an = Analyzer(SignalConfig(), posture_rate_hz=0.0, exercise=False)
        n = len(chunk)
        step = chunk_size or n
        for i in range(0, n, step):
            an.update(ImuChunk(chunk.t_s[i:i + step], chunk.acc_g[i:i + step],
                               None if chunk.gyro_dps is None else chunk.gyro_dps[i:i + step],
                               rate_hz=chunk.rate_hz))
        an.finish()
    finally:
        daymod.DayTracker._records = orig
    return out


def share(epochs, truth, label):
    """Share of the epochs inside the truth spans of ``label`` (5 s margins) classified so."""
    hit = tot = 0
    for a, b, lab in truth:
        if lab != label:
            continue
        for t0, cls in epochs:
            if a + 5 <= t0 < b - 5:
                tot += 1
                hit += cls == label
    return hit / tot


@pytest.mark.parametrize("rate_hz,pace,lean_deg,sit_flex_deg,gyro", [
    (50.0, 1.0, 25.0, 0.0, True),        # sits exactly as upright as they stand
    (25.0, 2.0, 12.0, 5.0, False),       # slow, little lean (hands on the desk), anterior, no gyro
    (104.0, 0.6, 40.0, -3.0, True),      # fast
])
def test_upright_sitting_between_two_transitions_stays_sitting(rate_hz, pace, lean_deg,
                                                              sit_flex_deg, gyro):
    chunk, truth = day_signal(rate_hz, sit_flex_deg, pace, lean_deg, gyro=gyro,
                              R=random_mounting(3))
    epochs = classify(chunk)
    assert share(epochs, truth, "sitting") > 0.97
    assert share(epochs, truth, "standing") > 0.97


@pytest.mark.parametrize("rate_hz,gyro", [(52.0, True), (25.0, False)])
def test_a_quick_sit_down_with_hardly_a_lean_is_a_sit_down(rate_hz, gyro):
    """Down onto the chair in 1.2 s, the trunk leaning 6 deg on the way, by someone who sits
    as upright as they stand: no epoch leans past TRANSITION_LEAN_DEG, but the drop jolts
    the pelvis, and its travel is judged like any other (wide simulator bodies: a whole
    afternoon read as standing)."""
    chunk, truth = day_signal(rate_hz, sit_flex_deg=-2.0, pace=0.4, lean_deg=6.0, gyro=gyro,
                              R=random_mounting(4), seed=3)
    epochs = classify(chunk)
    assert share(epochs, truth, "sitting") > 0.97
    assert share(epochs, truth, "standing") > 0.97


def test_a_noisy_clip_s_sit_down_is_taken_when_the_tilt_after_confirms_it():
    """25 Hz at 0.018 g noise: a 0.38 m sit-down's net travel is often inside 2.5 SD of what the
    noise makes of it, so it is only a hint; the person then sits 16 deg forward of their
    standing carriage, which confirms the hint (wide simulator bodies: a whole first hour
    read as standing). Below 1.5 SD nothing can tell: of 12 such days 8 now have both
    postures right, 6 did before (stand-ups take no hints: an upright sitter settles on the
    standing carriage, which confirms nothing)."""
    right = 0
    for seed in range(12):
        chunk, truth = day_signal(25.0, sit_flex_deg=16.0, pace=1.0, lean_deg=25.0, seed=seed,
                                  noise_g=0.018, drop_m=0.38, R=random_mounting(5 + seed))
        epochs = classify(chunk)
        right += share(epochs, truth, "sitting") > 0.97 and share(epochs, truth, "standing") > 0.97
    assert right >= 8


@pytest.mark.parametrize("gyro", [True, False])
def test_a_quick_sit_down_that_ends_a_gentle_walk_is_a_sit_down(gyro):
    """A gentle walker (0.08 g of vertical bob) drops onto a chair in 1 s straight out of the
    walk: the drop's epochs look gait-like, so they were read as the walk's end and its travel
    never judged (wide simulator bodies, mixed days: half the sedentary time lost). The last
    epochs of a walk that jolt as the walk does not are a candidate."""
    plan = [("walk", 40.0), ("down", 1.0), ("sit", 400.0), ("up", 2.5), ("stand", 200.0)]
    chunk, truth = day_signal(50.0, sit_flex_deg=3.0, lean_deg=12.0, gyro=gyro, plan=plan,
                              walk_g=0.08, R=random_mounting(6))
    epochs = classify(chunk)
    assert share(epochs, truth, "sitting") > 0.97
    assert share(epochs, truth, "standing") > 0.97


def test_a_sit_down_that_leans_inside_a_brisk_walk_s_last_epochs_is_a_sit_down():
    """A brisk walker (0.25 g bob) drops onto a chair in 1.2 s leaning 30 deg: the drop jolts no
    harder than the walk, but leans past the walk's carriage in its last epochs, which were read
    as walking. With a gyro 3 of 4 seeded days are right (none before); without one the |acc|
    travel right after a walk is too rough and these are still missed (README, issue 12)."""
    right = 0
    for seed in range(4):
        plan = [("walk", 40.0), ("down", 1.2), ("sit", 300.0), ("up", 2.5), ("stand", 100.0)]
        chunk, truth = day_signal(50.0, sit_flex_deg=2.0, lean_deg=30.0, plan=plan, seed=seed,
                                  R=random_mounting(seed + 10))
        epochs = classify(chunk)
        right += share(epochs, truth, "sitting") > 0.97 and share(epochs, truth, "standing") > 0.97
    assert right >= 3


def test_standing_still_with_sway_and_reaching_while_seated_keep_their_posture():
    # reaches lean as far as a transition but come back to the same height
    chunk, truth = day_signal(50.0, sit_flex_deg=0.0, seed=5, noise_g=0.01)
    epochs = classify(chunk)
    seated = [cls for t0, cls in epochs if 110 <= t0 < 500]
    assert seated.count("standing") == 0


@pytest.mark.parametrize("gyro", [True, False])
def test_reaches_held_while_seated_on_a_biased_accelerometer_stay_seated(gyro):
    # a 35-61 mg bias (the field's recordings fit to 12-38 mg, parts are specified to 40-80):
    # the bias seen along gravity moves with a 30 deg reach held 2.5 s, which the bias model,
    # having seen only the few still postures of the first minutes, does not know yet
    right = 0
    for seed, bias in enumerate([(0.02, -0.02, 0.02), (-0.03, 0.03, 0.03), (0.035, 0.0, -0.02)]):
        chunk, truth = day_signal(50.0, sit_flex_deg=-5.0, seed=seed, gyro=gyro, bias_g=bias,
                                  R=random_mounting(seed), reach_hold_s=2.5)
        seated = [cls for t0, cls in classify(chunk) if 110 <= t0 < 500]
        right += seated.count("standing") == 0
    assert right == 3


def test_decisions_do_not_depend_on_chunking():
    chunk, _ = day_signal(26.0, sit_flex_deg=2.0, pace=1.5, gyro=False, seed=2)
    assert classify(chunk) == classify(chunk, chunk_size=37)


def _epoch_rows(t, meas, direction, rate):
    """1 s epoch rows with the moments net_travel_m reads: the vertical acceleration's and the
    direction's zeroth and first (about the epoch's start), as day_features sums them."""
    rows = []
    for e in range(int(round(len(t) / rate))):
        m = (t >= e) & (t < e + 1)
        row = np.zeros(len(F))
        row[F["t0"]], row[F["n"]] = e, m.sum()
        row[F["acc_s0_m_s"]] = meas[m].sum() / rate
        row[F["acc_s1_m"]] = (meas[m] * (t[m] - e)).sum() / rate
        for i, c in enumerate("xyz"):
            row[F[f"dir0_{c}_s"]] = direction[m, i].sum() / rate
            row[F[f"dir1_{c}_s2"]] = (direction[m, i] * (t[m] - e)).sum() / rate
        rows.append(row)
    return rows


def test_net_travel_ignores_a_constant_bias_and_a_bias_that_moves_with_a_lean():
    rate = 50.0
    t = np.arange(int(10 * rate)) / rate
    z = -0.45 * _min_jerk((t - 4.0) / 2.5)             # a 0.45 m descent over 2.5 s
    a = np.gradient(np.gradient(z, t), t)
    lean = np.sin(np.pi * np.clip((t - 2.2) / 3.0, 0, 1)) ** 2   # 0..1, early in the span
    meas = a + 0.12 + 0.09 * lean                       # bias 0.12 m/s^2, +0.09 while leaning
    direction = np.column_stack([0.5 * lean, np.zeros_like(t), np.ones_like(t)])
    rows = _epoch_rows(t, meas, direction, rate)
    # bias model: 0.12 + 0.18 * the x-component of the direction
    bias = np.array([0.12, 0.18, 0.0, 0.0])
    d = net_travel_m(rows, (2, 8), (0, 2), (8, 10), rate, bias)
    assert d == pytest.approx(-0.45, abs=0.03)
    # without the bias model the lean-coupled bias is a phantom travel of several cm
    d_raw = net_travel_m(rows, (2, 8), (0, 2), (8, 10), rate, None)
    assert abs(d_raw - d) > 0.05


def test_net_travel_takes_the_bias_at_a_held_lean_from_its_epochs_at_rest():
    # a seated reach early in the span: lean 30 deg in 1 s, hold 2 s, back in 1 s; no vertical
    # travel, but the bias seen along gravity is 0.15 m/s^2 higher while leaning, which the
    # model lacks
    rate = 50.0
    t = np.arange(int(11 * rate)) / rate
    lean = _min_jerk(t - 2.2) - _min_jerk(t - 5.2)
    meas = 0.05 + 0.15 * lean
    direction = np.column_stack([0.5 * lean, np.zeros_like(t), 1.0 - 0.13 * lean])
    rows = _epoch_rows(t, meas, direction, rate)
    d_ramp = net_travel_m(rows, (2, 9), (0, 2), (9, 11), rate, None)
    assert abs(d_ramp) > 0.3                             # read as a stand-up
    at_rest = (0, 1, 4, 7, 8, 9, 10)                     # before, held, after
    d = net_travel_m(rows, (2, 9), (0, 2), (9, 11), rate, None, at_rest=at_rest)
    assert d == pytest.approx(0.0, abs=0.02)
    # epochs at rest all at one tilt teach no slope: the ramp in time stays
    assert net_travel_m(rows, (2, 9), (0, 2), (9, 11), rate, None, at_rest=(0, 1, 9, 10)) == d_ramp


def _demo_sedentary(acc_noise_g):
    from spinewise.sim import simulate
    sim = simulate("mixed", seed=3, duration_s=2280.0, exercises=["bridge", "plank", "dead_bug"],
                   dose_scale=0.5, start_utc="2026-03-02T09:00:00Z", acc_noise_g=acc_noise_g)
    an = Analyzer()
    for chunk in sim.chunks(4096):
        an.update(chunk)
    an.finish()
    return an.summary()["activity"]["sedentary_s"], sim.truth["activity"]["sedentary_s"]


@pytest.mark.parametrize("acc_noise_g", [0.006, None])        # None: the seed's own 0.018 g
def test_sit_down_right_after_a_walk(acc_noise_g):
    # the demo's former seed: a 0.32 m sit-down straight out of a walk, a fidget after it. The
    # span began in the walk's last step (pelvis bobbing at -0.04 m/s: v_a T / 2 = -0.12 m) and
    # the braking step read in |acc| as +0.15 m/s^2: net travel -0.03 m even at 0.002 g. Now the
    # walk's end velocity and (with a gyro) the projection on the fused up: -0.39 m at 0.002 g;
    # at the seed's own noise -0.34 m against a noisy-sensor threshold of 0.33 m (2.5 SD)
    got, want = _demo_sedentary(acc_noise_g)
    assert abs(got - want) < 0.05 * want


@pytest.mark.parametrize("walk_s,down_s,lean_deg", [
    (40.3, 3.0, 20.0), (40.55, 3.0, 20.0), (40.8, 3.0, 20.0),   # the walk ends at three bob phases
    (40.2, 1.3, 16.0), (40.45, 1.5, 20.0)])                     # quick sit-downs
def test_sit_down_straight_out_of_a_walk_is_a_sit_down(walk_s, down_s, lean_deg):
    # the span of the double integral starts inside the walk's last steps: their vertical
    # velocity (up to 0.2 m/s) and the braking step must not cancel the 0.45 m drop. A quick
    # one (1.3-1.5 s) begins inside the walk's last epoch; at 40.45 s its lean shows there
    # (4 deg), so the span takes that epoch in and the walk's velocity from the one before
    plan = [("walk", 40.0), ("stand", 30.0), ("stop", walk_s), ("down", down_s), ("sit", 300.0),
            ("up", 2.5), ("stand", 100.0)]
    chunk, truth = day_signal(50.0, sit_flex_deg=0.0, lean_deg=lean_deg, noise_g=0.003, plan=plan,
                              R=random_mounting(4))
    epochs = classify(chunk)
    assert share(epochs, truth, "sitting") > 0.97


@pytest.mark.parametrize("gyro", [True, False])
def test_a_sit_down_after_standing_a_moment_at_the_walk_s_end_is_a_sit_down(gyro):
    """Walk to the chair, stand still 2 s, sit down 0.35 m: the span of the double integral
    starts right after the walk's last gait-like epoch, but at rest. The walk's end velocity is
    an estimate from the bob of its steps (here +0.1 m/s from a walk that ends mid-bob; dev
    seeds of the wide simulator: +0.21 m/s from a slowing walk's last steps), and added as
    v_a T / 2 it ate the drop (here -0.12 m, in the simulator -0.03 m: half an hour of sitting
    read as standing). A quiet epoch between the walk and the movement means zero velocity
    there: -0.33 m."""
    walk_s = (72 + 0.75) / 1.8            # ends where the bob's velocity peaks upwards
    plan = [("walk", walk_s), ("stand", 2.0), ("down", 1.4), ("sit", 300.0), ("up", 2.5),
            ("stand", 100.0)]
    chunk, truth = day_signal(50.0, sit_flex_deg=5.0, lean_deg=20.0, noise_g=0.003, plan=plan,
                              gyro=gyro, R=random_mounting(7), drop_m=0.35)
    epochs = classify(chunk)
    assert share(epochs, truth, "sitting") > 0.97
    assert share(epochs, truth, "standing") > 0.97


def _rows_from_samples(t, meas, rate, dyn_mg):
    rows = []
    for e in range(int(t[-1]) + 1):
        m = (t >= e) & (t < e + 1)
        row = np.zeros(len(F))
        row[F["t0"]], row[F["n"]] = e, m.sum()
        row[F["acc_s0_m_s"]] = meas[m].sum() / rate
        row[F["acc_s1_m"]] = (meas[m] * (t[m] - e)).sum() / rate
        row[F["dir0_z_s"]] = m.sum() / rate
        row[F["dyn_mg"]] = dyn_mg[m].mean()
        rows.append(row)
    return rows


def test_net_travel_puts_the_norms_rectification_where_the_movement_was():
    # a 1 s plop onto a chair early in a 7 s span: 0.37 m down, and 2 m/s^2 of horizontal
    # acceleration that |acc| - 1 g reads as +a_h^2 / 2g (no gyro, no projection)
    rate = 100.0
    t = np.arange(int(9 * rate)) / rate
    z = -0.37 * _min_jerk(t - 2.0)
    xh = -0.35 * _min_jerk(t - 2.0)
    az = np.gradient(np.gradient(z, t), t)
    ah = np.gradient(np.gradient(xh, t), t)
    g = GRAVITY_M_S2
    meas = np.hypot(g + az, ah) - g + 0.05                 # the norm, and a 0.05 m/s^2 bias
    dyn_mg = 1000.0 * np.hypot(az, ah) / g + 15.0          # sensor noise floor 15 mg
    rows = _rows_from_samples(t, meas, rate, dyn_mg)
    plain = net_travel_m(rows, (1, 7), None, (7, 9), rate)
    fixed = net_travel_m(rows, (1, 7), None, (7, 9), rate, rectifies=True)
    assert abs(plain + 0.37) > 0.1                         # the uniform drift removal is far off
    assert fixed == pytest.approx(-0.37, abs=0.05)


def test_net_travel_walk_end_velocity():
    # the span starts in the last second of a walk whose pelvis bobs 2 cm at 1.8 Hz: the
    # velocity there (up to 0.23 m/s) is not 0; the walk's zero mean velocity tells it
    rate = 100.0
    t = np.arange(int(12 * rate)) / rate
    walk_end, drop_at = 4.6, 5.0
    z = np.where(t < walk_end, 0.02 * np.sin(2 * np.pi * 1.8 * t) * np.clip((walk_end - t) / 0.1, 0, 1), 0.0)
    z = z - 0.32 * _min_jerk((t - drop_at) / 2.5)
    meas = np.gradient(np.gradient(z, t), t) + 0.03
    rows = _rows_from_samples(t, meas, rate, np.full_like(t, 20.0))
    true = -0.32
    bias = np.array([0.03, 0.0, 0.0, 0.0])                 # the learned bias model
    plain = net_travel_m(rows, (3, 10), None, (10, 12), rate, bias)
    fixed = net_travel_m(rows, (3, 10), None, (10, 12), rate, bias, walk_before=(0, 3))
    assert fixed == pytest.approx(true, abs=0.05)
    assert abs(plain - true) > abs(fixed - true)


@pytest.mark.parametrize("gyro", [True, False])
def test_an_anterior_sitter_reaching_past_lying_inclination_stays_sitting(gyro):
    # sits 20 deg forward of standing and reaches 40 deg further (60 deg: past the 55 deg of
    # lying) for a few seconds: a bend, not lying; after it the posture was re-picked by tilt,
    # and 20 deg forward reads as standing (wide dev seed 704: -61 % sedentary)
    chunk, truth = day_signal(50.0, sit_flex_deg=20.0, lean_deg=30.0, reach_deg=40.0, gyro=gyro,
                              R=random_mounting(7))
    epochs = classify(chunk)
    assert share(epochs, truth, "sitting") > 0.97
