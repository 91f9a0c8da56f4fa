"""Activity class per 1 s epoch: sitting, standing, walking, lying (exercise is marked later).

Decided per epoch with a 10-epoch look-ahead (a bounded, chunk-independent delay); the
reasoning and the measured figures are in docs/signal-day.md.

- walking: gait-like, upright epochs (gait.py) in a run of >= WALK_MIN_EPOCHS (a
  sit-to-stand makes 2-3 gait-like epochs); a single non-gait epoch inside a walk is bridged.
- lying: trunk inclination beyond ``LYING_INCL_DEG`` from the calibrated upright.
- sitting vs standing from a lower-back sensor is a *state* changed by transitions, with
  pelvic tilt as evidence (people sit as upright as they stand, so tilt alone cannot tell):
  * a sit-to-stand leans the trunk forward and raises the pelvis ~0.45 m, a stand-to-sit
    leans and lowers it. At the first epoch of a forward lean (relative to the posture before
    it), or of a jolt (a quick transition that hardly leans, or one at a walk's end), the net
    vertical travel over the lean +-2 s (net_travel_m: zero-velocity double
    integration, the accelerometer bias learned per tilt removed) beyond +/- NET_TRAVEL_M and
    beyond what the sensor's noise explains flips the state. Reaching forward while seated
    leans as far but comes back to the same height, so fidgeting and reaching stay seated;
  * 8 s after a transition that was not beyond doubt the settled tilt must not clearly
    contradict the new posture;
  * walking ends in standing; leaving lying (or starting up) picks the posture by tilt;
  * a sustained posterior tilt that standing cannot explain (> ``TILT_OVERRIDE_DEG`` behind
    standing neutral, or nearer the personal sitting neutral than the midpoint) while
    "standing" (a missed sit-down) switches to sitting after ``TILT_OVERRIDE_EPOCHS``.
Personal neutral flexion per posture (neutral.py) is learned from still epochs.
"""
from __future__ import annotations

import numpy as np

from spinewise.signal.acc_bias import AccBiasModel
from spinewise.signal.body import angles_from_up
from spinewise.signal.day_features import DIR_COLS, FEATURES
from spinewise.signal.neutral import NeutralEstimator
from spinewise.stream import GRAVITY_M_S2

LYING_INCL_DEG = 55.0
SIT_TILT_DEG = 6.0             # posterior tilt vs standing neutral that says "seated" (no transition seen)
TILT_OVERRIDE_DEG = 7.0
TILT_OVERRIDE_EPOCHS = 30
SETTLED_SPAN_EPOCHS = 30        # after a sit-down: these still epochs teach sitting neutral...
SETTLED_WEIGHT = 10.0           # ...with this weight
COOLDOWN_EPOCHS = 3
LEAN_DEG = 10.0
STILL_DYN_MG = 60.0
STAND_NEUTRAL_BAND_DEG = 5.0
STAND_NEUTRAL_LIMITS_DEG = (-4.0, 4.0)  # walking carriage is 0 by calibration
# upright sitting ranges from a clear posterior tilt to anterior (field: -8..+12 deg from the
# standing carriage; simulator prior -20..+20)
SIT_NEUTRAL_LIMITS_DEG = (-22.0, 20.0)
SIT_NEUTRAL_MAX_DEG = 20.0    # still sitting further forward than this is a lean, not a posture
WALK_MIN_EPOCHS = 4
WALK_MAX_TILT_DEG = 15.0
NET_TRAVEL_M = 0.2            # half a sit/stand's ~0.4-0.5 m; a reach or a bend comes back to 0
NET_TRAVEL_Z = 3.0            # ...and 3 SD of what the sensor's noise makes of the double integral
NET_TRAVEL_Z_NOISY = 2.5      # a noisy sensor (3 SD > NET_TRAVEL_M): 2.5 SD
NET_TRAVEL_Z_HINT = 1.5       # ...or 1.5 SD, a hint the settled tilt must then confirm
STILL_VAR_RATIO = 2.0         # an epoch at rest: |acc| spread within 2x the sensor's noise...
STILL_TILT_STEP_DEG = 2.0     # ...and its tilt within 2 deg of both neighbours (sway, breathing)
MOVING_VAR_RATIO = 6.0        # |acc| spread beyond 6x the noise: not at rest
NOISE_EMA = 1.0 / 300.0       # the noise variance follows the still epochs over ~5 min
MAX_LEAN_EPOCHS = 5           # a lean longer than this is no transition's (its travel is judged over the first 5 s)
TRANSITION_LEAN_DEG = 7.0     # forward lean (epoch mean) over the posture before it...
LEAN_BASE_EPOCHS = 3          # ...the most upright of the 3 epochs before
TRANSITION_DYN_MG = 75.0      # or an epoch moving this hard (dyn_mg) after one that did not
MAX_TRAVEL_M = 0.9            # a jolt's travel beyond this is no sit/stand's (seats drop 0.3-0.6 m)
WALK_TAIL_EPOCHS = 2          # a walk's last epochs may hide a sit-down (_walk_tail_onsets)...
WALK_TAIL_JOLT = 1.8          # ...one jolting this many times the walk's own dyn_mg (2 epochs:
#                               its span needs PAD_BEFORE + BIAS epochs before, in HISTORY)
HUMP_DEG = 5.0                # a lean that falls and rises again by this much is two movements
PAD_BEFORE_EPOCHS = 2         # the descent can start just before the lean shows in an epoch mean
PAD_EPOCHS = 2                # the rise or descent runs on up to 2 s after the lean
BIAS_EPOCHS = 2               # epochs either side that give the accelerometer bias
AT_REST_TURN_DPS = 3.0        # an epoch turning slower than this (and not shaking) is at rest
TILT_FIT_MIN_TURN = 0.17      # epochs at rest ~10 deg or more apart around a span: the bias
TILT_FIT_MAX_SLOPE = 1.5      # follows their tilt, up to 1.5 m/s^2 per unit turn (0.15 g)
WALK_RUN = 3                  # gait-like epochs in a row that are walking, not a transition's own
WALK_FIT_EPOCHS = 4           # walking epochs next to a span that give its end velocity
LOOKAHEAD = MAX_LEAN_EPOCHS - 1 + PAD_EPOCHS + BIAS_EPOCHS + WALK_RUN - 1
HISTORY = max(PAD_BEFORE_EPOCHS + BIAS_EPOCHS + WALK_RUN - 1, WALK_MIN_EPOCHS - 1,
              LEAN_BASE_EPOCHS + 1)
SETTLE_EPOCHS = 8
BEND_SETTLE_EPOCHS = 3
SETTLE_MARGIN_DEG = 1.5        # margin around the neutral midpoint (tilt override)
SETTLE_SIT_DEG = 4.0
SETTLE_STAND_DEG = 3.0

F = {name: i for i, name in enumerate(FEATURES)}
CLASSES = ("sitting", "standing", "walking", "lying", "exercise")


# angle columns appended to each row by push() (vectorised once per batch)
FLEX, LAT, INCL = len(FEATURES), len(FEATURES) + 1, len(FEATURES) + 2
GAIT, STEPS, DYN = F["gait"], F["steps"], F["dyn_mg"]
T0, N, S0, S1 = F["t0"], F["n"], F["acc_s0_m_s"], F["acc_s1_m"]
UPX, UPY, UPZ = F["up_x"], F["up_y"], F["up_z"]
D0X, D0Y, D0Z, D1X, D1Y, D1Z = (F[c] for c in DIR_COLS)
AVAR = F["acc_var_m2_s4"]


def net_travel_m(rows, span: tuple[int, int], pre: tuple[int, int] | None,
                 post: tuple[int, int] | None, rate_hz: float, bias=None,
                 walk_before: tuple[int, int] | None = None,
                 walk_after: tuple[int, int] | None = None, rectifies: bool = False,
                 at_rest: tuple[int, ...] = ()) -> float:
    """Net vertical travel (m, + up) over the epochs rows[span[0]:span[1]]: the vertical
    acceleration double-integrated with zero velocity at both ends of the span.

    With a = acceleration minus the accelerometer's bias b(t), velocity v(t) = int a and the
    travel int v dt over the span [t_a, t_b]; forcing v(t_b) = 0 by a linear velocity drift
    (zero-velocity update: the body is still, or walking at a steady pace, around a transition)
    leaves D = int a(t) (t_mid - t) dt, minus the first moment of a about the span's middle.
    ``bias`` ([c, bx, by, bz] m/s^2, or None): what |acc| - 1 g reads at rest along each
    specific-force direction (acc_bias.AccBiasModel), removed sample by sample first (from the
    direction moments): a lean moves the bias seen along gravity for as long as it lasts. What
    remains is removed as a linear ramp between the mean of the ``pre`` and ``post`` epochs
    (either may be None: walking next to the transition; then the other one's mean is the
    constant). A constant cancels in D anyway. From the per-epoch moments (day_features
    acc_s0_m_s, acc_s1_m, dir*), so exact whatever the chunking.

    Unless the epochs at rest around and in the span (``at_rest``: in the ``pre`` and ``post``
    windows, or inside the span: a reach held 1-4 s) sit at tilts TILT_FIT_MIN_TURN apart:
    then what remains follows the tilt, not the time (_tilt_fit). At rest the body does not
    accelerate, so what those epochs read is the bias model's error at their tilts; a model
    learned from an office morning's few still postures knows it near those only. Over a
    ramp in time, a 38 mg bias read seated reaches held at 30 deg as 0.3-0.5 m stand-ups.

    A span that starts or ends in a walk (``walk_before`` / ``walk_after``: the walking epochs
    next to it) does not start or end at zero velocity: the pelvis bobs at ~0.1-0.2 m/s within
    each step, and v(t_a) T / 2 is tens of cm (the demo's sit-down straight after a walk read
    -0.02 m of a 0.3 m drop). Walking at a steady pace has zero mean vertical velocity, so the
    velocity at the span's end is what the walk's integrated velocity reads there minus its
    per-epoch means (_walk_end_velocity); with end velocities v_a, v_b the travel is
    D + (v_a + v_b) T / 2.

    ``rectifies`` (|acc| - 1 g, accelerometer only): the norm reads the horizontal acceleration
    too, |a_h|^2 / 2g > 0, only while moving: a 1 s plop onto a chair (1-2 m/s^2 forward and
    back) gains +0.3 m/s of phantom velocity in its second, which the uniform drift removal
    spreads over the whole span (+1 m: a sit-down read as a stand-up). The velocity the span
    gains beyond its end velocities is then put where the movement was first, up to what the
    epochs' dynamic acceleration (dyn_mg, above the span's quietest epoch) can rectify, as
    dyn^2 / 2g; what is left is a bias, spread uniformly.
    """
    def moments(i: int) -> tuple[float, float, float, float]:
        r = rows[i]
        dur = r[N] / rate_hz
        s0, s1 = r[S0], r[S1]
        if bias is not None:
            s0 -= bias[0] * dur + bias[1] * r[D0X] + bias[2] * r[D0Y] + bias[3] * r[D0Z]
            s1 -= bias[0] * dur * dur / 2.0 + bias[1] * r[D1X] + bias[2] * r[D1Y] + bias[3] * r[D1Z]
        return r[T0], dur, s0, s1

    def mean_acc(a: int, b: int) -> tuple[float, float]:
        m = [moments(i) for i in range(a, b)]
        s0, dur = sum(x[2] for x in m), sum(x[1] for x in m)
        t_c = 0.5 * (m[0][0] + m[-1][0] + m[-1][1])
        return (s0 / dur if dur > 0 else 0.0), t_c
    if pre is None and post is None:
        b_pre, t_pre, b_post, t_post = 0.0, 0.0, 0.0, 0.0
    else:
        b_pre, t_pre = mean_acc(*(pre or post))
        b_post, t_post = mean_acc(*(post or pre))
    slope = (b_post - b_pre) / (t_post - t_pre) if t_post > t_pre else 0.0

    def ramp(i: int) -> tuple[float, float]:
        # the bias b(t) = b_pre + slope (t - t_pre) integrated over the epoch (moments 0 and 1)
        te, dur = rows[i][T0], rows[i][N] / rate_hz
        c = b_pre + slope * (te - t_pre)
        return c * dur + slope * dur * dur / 2.0, c * dur * dur / 2.0 + slope * dur ** 3 / 3.0
    local = _tilt_fit(rows, list(at_rest), moments, rate_hz) if len(at_rest) >= 2 else None
    if local is not None:
        ramp = local
    seg = []
    for i in range(*span):
        te, dur, s0, s1 = moments(i)
        r0, r1 = ramp(i)
        seg.append((te, dur, s0 - r0, s1 - r1))
    t_mid = 0.5 * (seg[0][0] + seg[-1][0] + seg[-1][1])
    d = 0.0
    for te, dur, s0, s1 in seg:
        d -= s1 + (te - t_mid) * s0
    span_s = seg[-1][0] + seg[-1][1] - seg[0][0]
    v_a = v_b = 0.0
    if walk_before is not None:
        v_a = _walk_end_velocity([moments(i) for i in range(*walk_before)], True, rectifies)
    if walk_after is not None:
        v_b = _walk_end_velocity([moments(i) for i in range(*walk_after)], False, rectifies)
    d += (v_a + v_b) * span_s / 2.0
    if rectifies:
        d += _rectification_travel(rows, span, seg, t_mid, v_b - v_a)
    return d


def _tilt_fit(rows, rest: list[int], moments, rate_hz: float):
    """The bias left after the model as a line in the tilt, fitted to epochs at rest (``rest``:
    their s0 / dur is that bias at their direction): along e, the direction in which their
    mean directions spread most, r(u) = c + g (u . e) by least squares weighted by duration.
    Returns the per-epoch moments of that bias, i -> (c dur + g e.dir0, c dur^2/2 + g e.dir1),
    or None where the epochs span less than TILT_FIT_MIN_TURN along e (nothing to fit a slope
    on: the caller keeps its ramp in time)."""
    m = [moments(i) for i in rest]
    dur = np.array([x[1] for x in m])
    if np.any(dur <= 0):
        return None
    u = np.array([[rows[i][D0X], rows[i][D0Y], rows[i][D0Z]] for i in rest]) / dur[:, None]
    r = np.array([x[2] for x in m]) / dur
    w = dur / dur.sum()
    centred = u - w @ u
    e = np.linalg.eigh((centred * w[:, None]).T @ centred)[1][:, -1]
    x = u @ e
    if x.max() - x.min() < TILT_FIT_MIN_TURN:
        return None
    xm, rm = float(w @ x), float(w @ r)
    g = float(np.clip(w @ ((x - xm) * (r - rm)) / (w @ ((x - xm) ** 2)), -TILT_FIT_MAX_SLOPE, TILT_FIT_MAX_SLOPE))
    c = rm - g * xm

    def local(i: int) -> tuple[float, float]:
        row = rows[i]
        d_ = row[N] / rate_hz
        return (c * d_ + g * (e[0] * row[D0X] + e[1] * row[D0Y] + e[2] * row[D0Z]),
                c * d_ * d_ / 2.0 + g * (e[0] * row[D1X] + e[1] * row[D1Y] + e[2] * row[D1Z]))
    return local


def _rectification_travel(rows, span, seg, t_mid, dv_true) -> float:
    """The travel correction when the span's excess velocity gain is the norm's rectification
    (net_travel_m, ``rectifies``): moved from uniform over the span to the moving epochs.
    ``seg``: the span's epoch moments with the bias around it removed."""
    s0_sum = sum(s0 for _te, _dur, s0, _s1 in seg)
    excess = s0_sum - dv_true                     # m/s the span gained that it did not
    if excess <= 0.0:
        return 0.0                                # rectification only ever adds
    dyn2 = [(rows[i][DYN] / 1000.0) ** 2 for i in range(*span)]
    floor = min(dyn2)
    cap = [max(x - floor, 0.0) / 2.0 * GRAVITY_M_S2 * dur
           for x, (_te, dur, _s0, _s1) in zip(dyn2, seg)]
    total = sum(cap)
    if total <= 0.0:
        return 0.0
    share = min(1.0, excess / total)
    # the uniform removal took excess/T from each instant (weight t_mid - t: net 0 over the
    # span); the rectification r_i sits in its epoch (centre te + dur/2): D changes by
    # -sum r_i (t_mid - t_c,i)
    return -sum(c * share * (t_mid - (te + dur / 2.0)) for c, (te, dur, _s0, _s1) in zip(cap, seg))


def _walk_end_velocity(epochs, at_end: bool, detrend: bool) -> float:
    """Vertical velocity (m/s) at the last (``at_end``) or first edge of a run of walking epochs
    [(t0, dur, s0, s1)]: the integrated velocity there minus the mean of the per-epoch mean
    velocities, which are ~0 when walking at a steady pace. ``detrend`` (|acc| - 1 g: walking's
    rectification, ~0.05-0.1 m/s^2, is an offset the bias model does not know): minus the line
    through them instead (a cadence that beats against the 1 s epochs looks like a slope too,
    so only then)."""
    if len(epochs) < 2:
        return 0.0
    u, t_c, u_mean = 0.0, [], []
    for te, dur, s0, s1 in epochs:
        # mean over the epoch of u(te) + int_te^t a = u + (dur s0 - s1) / dur
        u_mean.append(u + (dur * s0 - s1) / dur if dur > 0 else u)
        t_c.append(te + dur / 2.0)
        u += s0
    t_c, u_mean = np.asarray(t_c), np.asarray(u_mean)
    t_edge = epochs[-1][0] + epochs[-1][1] if at_end else epochs[0][0]
    u_edge = u if at_end else 0.0
    if detrend and len(epochs) >= 3:
        _slope, icpt = np.polyfit(t_c - t_edge, u_mean, 1)
        return float(u_edge - icpt)
    return float(u_edge - u_mean.mean())


def with_angles(rows: np.ndarray) -> np.ndarray:
    up = rows[:, [F["up_x"], F["up_y"], F["up_z"]]]
    flex, lat, incl = angles_from_up(up)
    return np.column_stack([rows, flex, lat, incl])


def angles(row) -> tuple[float, float, float]:
    return row[FLEX], row[LAT], row[INCL]


class ActivityClassifier:
    def __init__(self, rate_hz: float = 50.0) -> None:
        self.rate_hz = float(rate_hz)       # the nominal rate the epoch moments were summed at
        self._rows: list[list[float]] = []     # up to HISTORY decided rows, then the undecided
        self._k = 0                             # index of the next row to decide
        self.posture: str | None = None         # sitting | standing | lying | None
        self._cooldown = 0
        self._since_travel = 10 ** 6
        self._travel_sign = 0
        self._travel_peak = 0.0
        self._last_peak = 0.0
        self._last_strong = False
        self._travel_strong = False
        self._last_hint = False
        self._hint_from: str | None = None      # posture before a hinted transition
        self._override_run = 0
        self._last_cls: str | None = None
        self.sit_neutral = NeutralEstimator(0.75, -12.0, limits_deg=SIT_NEUTRAL_LIMITS_DEG)
        self.stand_neutral = NeutralEstimator(0.50, 0.0, limits_deg=STAND_NEUTRAL_LIMITS_DEG)
        self.acc_bias = AccBiasModel()
        self.noise_var = 0.0                   # of |acc| - 1 g at rest, (m/s^2)^2, per sample
        # the vertical moments come from |acc| (no gyro, day_features): they rectify movement
        self.acc_only = False

    def push(self, rows: np.ndarray) -> list[tuple]:
        """rows: (K, len(FEATURES)) in the body frame -> decided
        (row, class, (flexion, lateral, incl), (sitting neutral, standing neutral))."""
        if len(rows):
            self._rows.extend(with_angles(np.asarray(rows, dtype=np.float64)).tolist())
        out = []
        while len(self._rows) - self._k > LOOKAHEAD:
            out.append(self._decide(self._k))
            self._advance()
        return out

    def flush(self):
        out = []
        while len(self._rows) > self._k:
            out.append(self._decide(self._k))
            self._advance()
        return out

    def _advance(self) -> None:
        self._k += 1
        if self._k > HISTORY:
            del self._rows[0]
            self._k -= 1

    def _walking(self, k: int) -> bool:
        """Gait-like epoch inside a run of >= WALK_MIN_EPOCHS (a sit-to-stand makes 2-3
        gait-like epochs); a single non-gait epoch inside a walk is bridged."""
        rows = self._rows
        n = WALK_MIN_EPOCHS
        lo, hi = k - n + 1, k + n
        # upright too: squats and other in-place exercise bob at gait-like rates with the
        # trunk leaning well forward
        win = rows[max(lo, 0):hi]
        pad = [False] * max(0, -lo), [False] * (2 * n - 1 - max(0, -lo) - len(win))
        gait = pad[0] + [r[GAIT] > 0.5 for r in win] + pad[1]
        tilt = [0.0] * len(pad[0]) + [abs(r[FLEX]) for r in win] + [0.0] * len(pad[1])
        g = [gi and t < WALK_MAX_TILT_DEG for gi, t in zip(gait, tilt)]
        c = n - 1                                   # index of k in g
        if gait[c]:
            # one epoch leaning past the limit among the 2n - 1 around may start or end a run,
            # never lie inside it: with a gyro the epoch's mean gravity direction is exact, and
            # a walker's trunk pitches past 15 deg for a second in a turn or a halting step
            # (mobgap MS walker: 18-23 deg epochs between 2-4 deg ones; the accelerometer-only
            # tilt, smoothed, stays under 15 deg, so only the gyro run lost those walks). An
            # isolated pitched epoch ends one window and starts the next, so the walk goes on
            # through it. Squats lean in every rep, 2-3 s apart: two or more leaning epochs.
            lean = [t >= WALK_MAX_TILT_DEG for t in tilt]
            if sum(lean) <= 1 and any(all(gait[i:i + n]) and not any(lean[i + 1:i + n - 1])
                                      for i in range(0, n)):
                return True
        if g[c]:
            return any(all(g[i:i + n]) for i in range(0, n))
        # a hole (not gait-like, or leaning) must sit inside a walk: a full look-back or
        # look-ahead of gait on one side (squat reps alternate 2 upright gait-like epochs
        # with a deep one: no walk)
        return (all(g[c - 2:c]) and all(g[c + 1:c + 3]) and rows[k][STEPS] >= 1
                and (all(g[:c]) or all(g[c + 1:])))

    def _turn_dps(self, i: int) -> float:
        """How fast epoch i's specific-force direction turns (deg/s): its linear trend from the
        direction's moments over the n samples t_k = k dt,
        D1 - D0 t_c = u' dt^3 n (n^2 - 1) / 12 with t_c = (n - 1) dt / 2."""
        r = self._rows[i]
        n, dt = r[N], 1.0 / self.rate_hz
        if n < 2:
            return 0.0
        t_c, k = (n - 1) * dt / 2.0, 12.0 / (dt ** 3 * n * (n * n - 1))
        return float(np.degrees(np.sqrt(sum(((r[d1] - r[d0] * t_c) * k) ** 2
                                            for d0, d1 in ((D0X, D1X), (D0Y, D1Y), (D0Z, D1Z))))))

    def _at_rest(self, i: int) -> bool:
        """Epoch i neither turns (under AT_REST_TURN_DPS) nor shakes (|acc| spread within
        STILL_VAR_RATIO x the noise): a reach held for a second is at rest though its
        neighbours move."""
        r = self._rows[i]
        return (r[N] >= 2 and r[AVAR] < STILL_VAR_RATIO * self.noise_var
                and self._turn_dps(i) < AT_REST_TURN_DPS)

    def _transition(self, k: int, stand0: float, jolt_mg: float = TRANSITION_DYN_MG,
                    forced: str | None = None) -> int:
        """+1 sit-to-stand, -1 stand-to-sit, 0 none, decided at the first epoch of a forward
        lean. A sit/stand transition leans the trunk forward (the trunk goes over the feet)
        *and* moves the pelvis ~0.45 m vertically; reaching while seated or bending while
        standing leans as far but comes back to the same height. The net vertical travel over
        the lean and PAD_EPOCHS either side (net_travel_m: zero velocity at both ends, so a slow,
        fast or asymmetric transition - a slow descent that ends on the chair - all count in
        full) must exceed NET_TRAVEL_M."""
        rows = self._rows
        self._last_hint = False
        if k - max(PAD_BEFORE_EPOCHS + BIAS_EPOCHS, LEAN_BASE_EPOCHS + 1) < 0:
            return 0
        # the lean is relative to the posture before it (sitters rest anywhere from a clear
        # posterior tilt to anterior), and small (pushing up from the desk leans little)
        base = min(rows[i][FLEX] for i in range(k - LEAN_BASE_EPOCHS, k))

        def leaning(i: int) -> bool:
            return rows[i][FLEX] - base >= TRANSITION_LEAN_DEG

        def jolting(i: int) -> bool:
            return rows[i][DYN] >= jolt_mg

        # walking next to a transition (walk to the chair, stand up and go) is no rest: its
        # |acc| - 1 g does not average to the bias. The span stops at it, and the bias comes
        # from the still side only (a transition itself looks gait-like for 1-3 epochs: only
        # WALK_RUN gait-like epochs in a row are walking)
        def walk(i: int, step: int) -> bool:        # i and the next WALK_RUN - 1 epochs (step +-1) gait-like
            js = [i + step * j for j in range(WALK_RUN)]
            return all(0 <= j < len(rows) and rows[j][GAIT] > 0.5 for j in js)

        stop = min(len(rows), k + MAX_LEAN_EPOCHS)

        def run_end(moving) -> int:                 # the last epoch of the movement from k
            end = k
            while end + 1 < stop and moving(end + 1):
                end += 1
            return end
        jolt = forced is not None
        if forced:                # the caller found the onset (_walk_tail_onsets): "jolt" or "lean"
            end = at_peak = run_end(jolting if forced == "jolt" else leaning)
        elif leaning(k) and not leaning(k - 1):
            end, peak, low, at_peak = k, rows[k][FLEX], rows[k][FLEX], k
            while end + 1 < stop and leaning(end + 1):
                f = rows[end + 1][FLEX]
                if low < peak - HUMP_DEG and f > low + HUMP_DEG:
                    break                 # the lean came back and rises again: a second movement
                end += 1
                if f > peak:
                    peak = low = f
                    at_peak = end
                low = min(low, f)
        elif jolting(k) and not jolting(k - 1) and not leaning(k - 1) and not walk(k, 1):
            # A quick sit-down or stand-up (1-1.5 s) by someone who sits as upright as they
            # stand leans too little in a 1 s epoch mean to pass TRANSITION_LEAN_DEG, but
            # jolts the pelvis as no seated fidget does: judged by its travel the same way.
            # The jolt stops where a walk starts (WALK_RUN gait-like epochs; a transition
            # itself looks gait-like for 1-2): the first step of a walk jolts too, and real
            # walking trials read 1 s of sitting at their start, the span running on into the
            # walk. A travel no sit-down or stand-up makes is no transition
            jolt = True
            end = at_peak = run_end(lambda i: jolting(i) and not walk(i, 1))
        else:
            return 0
        a, b = k - PAD_BEFORE_EPOCHS, end + 1 + PAD_EPOCHS
        if b + BIAS_EPOCHS > len(rows):          # the end of the recording: no room
            return 0
        before = [i for i in range(a - BIAS_EPOCHS, k) if walk(i, -1)]
        after = [i for i in range(end + 1, b + BIAS_EPOCHS) if walk(i, 1)]
        # the pads are there for slow transitions; a pad epoch at rest only adds noise to the
        # double integral (its weight |t - t_mid| is the largest): trim those, and take the
        # bias from right next to the motion
        def resting(i: int) -> bool:
            return (rows[i][AVAR] < STILL_VAR_RATIO * self.noise_var
                    and abs(rows[i][FLEX] - rows[i - 1][FLEX]) < STILL_TILT_STEP_DEG
                    and abs(rows[i + 1][FLEX] - rows[i][FLEX]) < STILL_TILT_STEP_DEG)
        while a < k and resting(a):
            a += 1
        # (into the lean too, past its peak: an anterior sitter rests as far forward as they
        # leaned to sit down, the lean never "ends")
        while b - 1 > at_peak and resting(b - 1):
            b -= 1
        pre, post = (a - BIAS_EPOCHS, a), (b, b + BIAS_EPOCHS)
        if before:
            a, pre = max(a, before[-1] + 1), None
            if (a == k and rows[a - 2][GAIT] > 0.5
                    and rows[a - 1][FLEX] - rows[a - 2][FLEX] >= TRANSITION_LEAN_DEG / 2.0):
                # the movement starts right at the walk's end, and its lean already shows in
                # the walk's last gait-like epoch: a sit-down straight out of a walk (1-1.5 s)
                # began inside it (dev seeds: 0.7 s of a 1.3 s descent; without it the span
                # read -0.14 m of a 0.44 m drop, and the sitting after it as standing). That
                # epoch joins the span, and the walk's velocity is taken at the end of the one
                # before
                a -= 1
        if after:
            b, post = min(b, after[0]), None
        # the zero-velocity update needs the body at rest (or walking) around the span: a
        # second movement right after (stood up and sat straight back down, the lean still
        # going at the look-ahead's end) leaves no valid travel - the net is judged later
        for w in (pre, post):
            if w is not None and any(rows[i][AVAR] > MOVING_VAR_RATIO * self.noise_var
                                     for i in range(*w)) and self.noise_var > 0:
                self._last_peak, self._last_strong = 0.0, False
                return 0
        # a walk that stopped before the span (a quiet epoch between: walked to the chair,
        # stood a moment, sat down) leaves the span starting at rest, zero velocity: its
        # end velocity, an estimate of +-0.2 m/s from the bob of its steps, would add
        # +-0.4 m over a 4 s span (dev seeds: a 0.36 m sit-down read as 0.03 m). The walk
        # still gives no bias (pre stays None). The same for a walk that starts after it.
        d = net_travel_m(rows, (a, b), pre, post, self.rate_hz, self.acc_bias.coefficients(),
                         walk_before=self._walk_run(a, -1) if before and not self._quiet(a) else None,
                         walk_after=self._walk_run(b, 1) if after and not self._quiet(b - 1) else None,
                         rectifies=self.acc_only,
                         at_rest=tuple(i for i in range(pre[0] if pre else a, post[1] if post else b)
                                       if self._at_rest(i)))
        self._last_peak = d
        if jolt and (abs(d) > MAX_TRAVEL_M or (d < 0 and after)):
            # (nobody walks off a sit-down: a jolt straight into a walk is its first step)
            self._last_strong = False
            return 0
        # white noise of variance s2 per sample double-integrated with the weight (t_mid - t)
        # over T seconds: s2 / rate * T^3 / 12 (x1.5 for the bias estimate around it)
        span_s = sum(rows[i][N] for i in range(a, b)) / self.rate_hz
        sd = np.sqrt(1.5 * self.noise_var / self.rate_hz * span_s ** 3 / 12.0)
        self._last_strong = abs(d) >= max(NET_TRAVEL_M, NET_TRAVEL_Z * sd)
        if self._last_strong:
            return 1 if d > 0 else -1
        if NET_TRAVEL_Z * sd < NET_TRAVEL_M:
            return 0                          # a trustworthy "no travel": a reach, a bend
        # a noisy accelerometer: the double integral is all the evidence there is (the
        # band-limited travel's first excursion reads a slow descent onto a chair as a rise)
        if abs(d) >= max(NET_TRAVEL_M, NET_TRAVEL_Z_NOISY * sd):
            return 1 if d > 0 else -1
        # below that, a sit-down's hint: taken only if the settled tilt confirms it
        # (_confirmed). Not a stand-up's: people sit as upright as they stand, so settling
        # on the standing carriage confirms nothing (an upright sitter's fidget read as one)
        # (nor at a walk's end, where the walk's own bob blurs the travel further)
        if d < 0 and forced is None and -d >= max(NET_TRAVEL_M, NET_TRAVEL_Z_HINT * sd):
            self._last_hint = True
            return -1
        return 0

    def _walk_tail_onsets(self, k: int) -> tuple[list[tuple[int, str]], float]:
        """The first of a walk's last WALK_TAIL_EPOCHS epochs (k: the first after it) that
        jolts as the walk does not (dyn_mg >= WALK_TAIL_JOLT x the walk's median and >=
        TRANSITION_DYN_MG), then the first that leans TRANSITION_LEAN_DEG past its carriage (a
        walk may end with one epoch leaning past WALK_MAX_TILT_DEG: _walking), and the jolt
        level: a sit-down straight out of a walk (1-1.5 s) looks gait-like, so it is read as
        the walk's end and its travel was never judged."""
        rows = self._rows
        walk = [rows[i] for i in range(max(0, k - WALK_TAIL_EPOCHS - WALK_MIN_EPOCHS),
                                       k - WALK_TAIL_EPOCHS) if rows[i][GAIT] > 0.5]
        if len(walk) < 2:
            return [], 0.0
        level = max(TRANSITION_DYN_MG, WALK_TAIL_JOLT * float(np.median([r[DYN] for r in walk])))
        carriage = min(r[FLEX] for r in walk)
        tail = range(max(1, k - WALK_TAIL_EPOCHS), k)
        jolt = [(i, "jolt") for i in tail if rows[i][DYN] >= level][:1]
        lean = [(i, "lean") for i in tail if rows[i][FLEX] - carriage >= TRANSITION_LEAN_DEG][:1]
        return jolt + lean, level

    def _quiet(self, i: int) -> bool:
        """Epoch i is not gait-like and hardly moves: standing still, not walking."""
        r = self._rows[i]
        return r[GAIT] <= 0.5 and r[DYN] < STILL_DYN_MG

    def _walk_run(self, edge: int, step: int) -> tuple[int, int] | None:
        """The gait-like epochs right before (step -1: ending at edge - 1) or after (step +1:
        from edge) a span, up to WALK_FIT_EPOCHS: the walk that gives its end velocity."""
        rows, idx = self._rows, []
        i = edge - 1 if step < 0 else edge
        while 0 <= i < len(rows) and rows[i][GAIT] > 0.5 and len(idx) < WALK_FIT_EPOCHS:
            idx.append(i)
            i += step
        if len(idx) < 2:
            return None
        return (min(idx), max(idx) + 1)

    def _looks_seated(self, flex: float, stand0: float) -> bool:
        """Posterior tilt that standing cannot explain: beyond TILT_OVERRIDE_DEG, or, once
        the personal neutrals are known and apart, nearer sitting neutral than the midpoint."""
        if flex - stand0 < -TILT_OVERRIDE_DEG:
            return True
        if not self.sit_neutral.known:
            return False
        sit0 = self.sit_neutral.value()
        return stand0 - sit0 >= 5.0 and flex < 0.5 * (stand0 + sit0) - SETTLE_MARGIN_DEG

    def _confirmed(self, rows, stand0: float) -> bool:
        """Whether the still epochs after a hinted sit-down hold a seated posture: clear of
        the standing carriage, either way (posterior, or anterior as many sit). A bend or a
        reach whose travel the noise made look like a sit-down comes back upright."""
        still = [r[FLEX] for r in rows if r[DYN] < STILL_DYN_MG]
        return bool(still) and abs(float(np.median(still)) - stand0) >= SETTLE_SIT_DEG

    def _settled_check(self, flex: float, stand0: float) -> str:
        """Once a transition has settled, the tilt (median of the still epochs around) must
        agree with the posture it led to (back-to-back sit-stand-sit transitions can hide
        one another in the travel signal). Only clear disagreement flips it."""
        sit0 = self.sit_neutral.value() if self.sit_neutral.known else None
        if self.posture == "standing" and flex < stand0 - SETTLE_SIT_DEG and \
                (sit0 is None or abs(flex - sit0) < abs(flex - stand0)):
            return "sitting"
        # only against a *learned* sitting neutral: people sit as upright as they stand
        # (pelvic tilt up to +10-20 deg anterior), the population prior says nothing about them
        if self.posture == "sitting" and abs(flex - stand0) < SETTLE_STAND_DEG and \
                sit0 is not None and flex - sit0 > 2 * SETTLE_SIT_DEG:
            return "standing"
        return self.posture

    def _decide(self, k: int):
        rows = self._rows
        row = rows[k]
        walking = self._walking(k)
        ang = angles(row)
        flex, _lat, incl = ang
        stand0 = self.stand_neutral.value()
        if self._cooldown > 0:
            self._cooldown -= 1
        self._since_travel += 1
        # a bend or a deep reach (an anterior sitter reaching forward passes 55 deg) that is
        # upright again within the look-ahead is no lying: the posture stays (else it was
        # re-picked by tilt afterwards, and an anterior sitter reads as standing), and a
        # transition that leans this far is judged as any other
        bend = (incl > LYING_INCL_DEG and not walking and self.posture in ("sitting", "standing")
                and any(angles(r)[2] <= LYING_INCL_DEG for r in rows[k + 1:k + LOOKAHEAD + 1]))
        if incl > LYING_INCL_DEG and not walking and not bend:
            cls = self.posture = "lying"
            self._override_run = 0
        elif walking:
            cls, self.posture = "walking", "standing"
            self._override_run = 0
        else:
            if bend:
                # ... but it may hide a transition the travel misses (standing up with the chest
                # far over the knees): once settled, the tilt must not clearly contradict the
                # posture, as after a weak transition (checked BEND_SETTLE_EPOCHS after the bend:
                # no travel to wait for, the look-ahead already shows the posture after it)
                self._since_travel = SETTLE_EPOCHS - BEND_SETTLE_EPOCHS
                self._travel_strong, self._travel_sign = False, 0
            travel = self._transition(k, stand0) if self._cooldown == 0 else 0
            if not travel and self._last_cls == "walking" and self._cooldown == 0:
                onsets, level = self._walk_tail_onsets(k)
                for i, kind in onsets:
                    travel = self._transition(i, stand0, jolt_mg=level, forced=kind)
                    if travel:
                        break
            if travel:
                if (self.posture in ("sitting", "lying", None) and travel > 0) or \
                        (self.posture in ("standing", None) and travel < 0):
                    self._hint_from = self.posture if self._last_hint else None
                    self.posture = "standing" if travel > 0 else "sitting"
                    self._cooldown, self._since_travel, self._travel_sign = COOLDOWN_EPOCHS, 0, travel
                    self._travel_peak = self._last_peak
                    self._travel_strong = self._last_strong
            # a transition the travel showed beyond doubt stands; a weak one must agree with
            # the settled tilt, a hint must be confirmed by it
            if self._since_travel == SETTLE_EPOCHS and self._hint_from is not None:
                if not self._confirmed(rows[max(0, k - HISTORY):k + LOOKAHEAD + 1], stand0):
                    self.posture = self._hint_from
                self._hint_from = None
            elif self._since_travel == SETTLE_EPOCHS and self.posture in ("sitting", "standing") \
                    and not self._travel_strong:
                # still, and not leaning forward (a reach is no settled posture)
                still = [r[FLEX] for r in rows[max(0, k - HISTORY):k + LOOKAHEAD + 1]
                         if r[DYN] < STILL_DYN_MG and r[FLEX] - stand0 < LEAN_DEG]
                if still:
                    self.posture = self._settled_check(float(np.median(still)), stand0)
            if self.posture in (None, "lying"):
                self.posture = "sitting" if flex - stand0 < -SIT_TILT_DEG else "standing"
            if self.posture == "standing" and self._looks_seated(flex, stand0):
                self._override_run += 1
                if self._override_run >= TILT_OVERRIDE_EPOCHS:
                    self.posture = "sitting"
            else:
                self._override_run = 0
            cls = self.posture
            if row[DYN] < STILL_DYN_MG and row[N] > 0:
                dur = row[N] / self.rate_hz
                self.acc_bias.add((row[D0X] / dur, row[D0Y] / dur, row[D0Z] / dur), row[S0] / dur)
                if self.noise_var == 0.0:
                    self.noise_var = row[AVAR]
                self.noise_var += NOISE_EMA * (row[AVAR] - self.noise_var)
            if row[DYN] < STILL_DYN_MG:
                if cls == "sitting":
                    # people sit down upright and slump later: the first settled seconds
                    # after a sit-down weigh more (a day that starts slumped still learns)
                    settled = (self._travel_sign < 0 and SETTLE_EPOCHS <= self._since_travel
                               < SETTLE_EPOCHS + SETTLED_SPAN_EPOCHS)
                    if flex < stand0 + SIT_NEUTRAL_MAX_DEG:   # a reach forward is not a sitting posture
                        self.sit_neutral.add(flex, SETTLED_WEIGHT if settled else 1.0)
                elif abs(flex) < STAND_NEUTRAL_BAND_DEG:
                    # slouched standing must not drag "neutral" forward: only near-upright
                    # epochs (the calibration made walking carriage 0 deg) teach it
                    self.stand_neutral.add(flex)
        self._last_cls = cls
        return row, cls, ang, (self.sit_neutral.value(), self.stand_neutral.value())

    def get_state(self) -> dict:
        return {"rows": [list(r) for r in self._rows], "k": self._k,
                "posture": self.posture, "cooldown": self._cooldown, "travel": [self._since_travel, self._travel_sign, self._travel_peak],
                "override_run": self._override_run, "last_cls": self._last_cls,
                "sit_neutral": self.sit_neutral.get_state(),
                "stand_neutral": self.stand_neutral.get_state(),
                "acc_bias": self.acc_bias.get_state(), "noise_var": self.noise_var,
                "travel_strong": self._travel_strong, "acc_only": self.acc_only,
                "hint_from": self._hint_from}

    def set_state(self, s: dict) -> None:
        self._rows = [list(map(float, r)) for r in s["rows"]]
        self._k = int(s["k"])
        self.posture = s["posture"]
        self._cooldown = int(s["cooldown"])
        self._since_travel, self._travel_sign, self._travel_peak = int(s["travel"][0]), int(s["travel"][1]), float(s["travel"][2])
        self._override_run = int(s["override_run"])
        self._last_cls = s["last_cls"]
        self.sit_neutral.set_state(s["sit_neutral"])
        self.stand_neutral.set_state(s["stand_neutral"])
        self.acc_bias.set_state(s["acc_bias"])
        self.noise_var = float(s["noise_var"])
        self._travel_strong = bool(s["travel_strong"])
        self.acc_only = bool(s.get("acc_only", False))
        self._hint_from = s.get("hint_from")
