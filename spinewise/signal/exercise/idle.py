"""Runs of idle frames through the ExerciseTracker at a fraction of ``_step``'s cost.

Most of a day nobody is on the floor: sitting or standing in an upright episode whose rest
pose nothing leaves (a simulated office day: 74 % of the tracker's frames; issue 13). For
such a frame ``ExerciseTracker._step`` emits nothing and moves only a few running figures:
the stillness low-passes, the recent-frame buffers, the rest pose's slow drift, the rest
wobble and the effort floor. ``idle_run`` applies exactly those, with the same arithmetic
in the same order, in one loop over plain floats with the state held in locals (no dict,
method or numpy call per frame), and writes the state back once at the end of the run.

A frame goes to ``_step`` instead as soon as anything could happen there: a gap, a rep
onset (the detector's weighted rotation reaching its threshold), a move too far from the
rest pose, a still frame off upright that is not clearly supine (where a hold could be
found: a slumped sitter's pelvis hovers about the upright limit, and on a simulated office day
a third of _step's frames were such, moving or supine-side), or, in an excursion, any frame
near or off upright (the settle test). Those conditions are
checked before the frame touches the state, so the state after a run is the one ``_step``
would have left: nothing extra is saved, results stay chunk-invariant and live == offline
(tests/signal/exercise/test_idle.py compares every event and the whole saved state with the
batched path off, on every fixture).

This mirrors ``_step``'s idle branch for an upright episode at rest; a change there (what
the rest pose does, what starts a hold or a rep) must be made here too, or the entry test
below must refuse the state. The comparison test fails when the two disagree.
"""
from __future__ import annotations

import math
import statistics

import numpy as np

import spinewise.signal.exercise.tracker as _tr
from spinewise.signal.exercise import effort as _effort
from spinewise.signal.exercise import reps as _reps
from spinewise.signal.exercise.frames import FRAME_S
from spinewise.signal.exercise.posture import SUPINE, UPRIGHT, UPRIGHT_MIN_ELEVATION_DEG

try:        # the loop at rest in C (_idle_loop.c, optional): without it, the Python loop below
    from spinewise.signal.exercise import _idle_loop as _loop
except ImportError:             # pragma: no cover - an install without a C compiler
    _loop = None

_UNIT = [1.0, 1.0, 1.0]
_ZERO = [0.0, 0.0, 0.0]
_PRE_KEEP = 60                  # reps.RepDetector.step keeps this much pre-roll
_RING_KEEP = int(round(_tr.HOLD_ARRIVE_LOOKBACK_S / FRAME_S))


def _max_ep_frames() -> int:
    """The longest ``ep_frames`` _step keeps at rest (it drops one once len * FRAME_S > REPLAY_S)."""
    n = 1
    while (n + 1) * FRAME_S <= _tr.REPLAY_S:
        n += 1
    return n


_EP_KEEP = _max_ep_frames()
_PRE_REST_KEEP = int(_tr.PRE_REST_S / FRAME_S)   # ep_frames kept before the rest pose is known
_NONE, _AT_REST, _NO_EPISODE, _LYING, _EXCURSION = 0, 1, 2, 3, 4
_ROLL_ONLY = [0.0, 0.0, 1.0]        # the tracker's roll detector (tracker.ExerciseTracker)
_HIST_KEEP = int(_reps.CENTRE_S * 10)
# _step looks for a hold on still frames that classify prone or on the side (any pose off
# upright once a hold is announced): this path keeps still frames only when clearly supine
# (facing within ~45 deg) or upright
_SUPINE_TAN = 1.0 - 1e-4
_DEG = 180.0 / math.pi        # math.degrees(x) is x * _DEG, bit for bit
# _step looks for a hold on still frames classified off upright (posture.classify1: elevation
# under UPRIGHT_MIN_ELEVATION_DEG); this path leaves every frame within a hair of that to it
_UP_MIN_Z = math.sin(math.radians(UPRIGHT_MIN_ELEVATION_DEG)) + 1e-4


def _eligible(tr) -> int:
    """_AT_REST: an upright episode at rest with nothing under way (no excursion, set, roll
    reps, hold or its veto; the all-axes detector as it is between sets; candidate reps
    may wait: they raise the rep threshold, and expire).
    _NO_EPISODE: no rest pose yet (moving), nothing under way. _LYING: as _AT_REST, supine
    (the roll detector stepped too). _EXCURSION: upright, the all-axes detector in an
    excursion (a lean, a shift) with nothing else under way (candidate reps may wait). Else
    _NONE."""
    s, det = tr._s, tr._det
    if (s["prev_up"] is None or s["set"] is not None or s["hold"] is not None
            or s["hold_veto_up"] is not None or s.get("hold_up_lp") is None
            or s.get("hold_lp_t") != s["prev_t"]):
        return _NONE
    if s.get("drift_since") is not None or (
            s.get("rest_s") is not None and s["prev_t"] - s["rest_s"] <= _tr.REST_SETTLE_S):
        return _NONE            # the rest pose may yet be re-taken (tracker._rest_drift)
    if det.rest is None:
        return _NONE if det.active else _NO_EPISODE
    if (s["cand_roll"] or det.keep_history or det.weights != _UNIT
            or det.offset != _ZERO or len(s["ep_frames"]) > _EP_KEEP
            or len(det._pre_t) > _PRE_KEEP or (s["cand"] and s["posture"] != UPRIGHT)):
        return _NONE
    if det.active:
        if (s["posture"] == UPRIGHT and not det.split_sides and not tr._roll.active
                and det._peak_key == (tuple(_UNIT), tuple(_ZERO))
                and det._peak_n == len(det._buf_r)):
            return _EXCURSION
        return _NONE
    if s["posture"] == UPRIGHT:
        return _AT_REST
    roll = tr._roll
    if (s["posture"] == SUPINE and s["announced"] is None and roll.rest is not None
            and not roll.active and roll.keep_history and not roll.track_centre
            and roll.weights == _ROLL_ONLY and len(roll._pre_t) <= _PRE_KEEP
            and len(roll._hist) <= _HIST_KEEP):
        return _LYING
    return _NONE


def idle_run(tr, t_all: list, up_all: list, dyn_all: list, eff_all: list, i: int,
             arrays: tuple | None = None) -> int:
    """Apply the idle frames from ``i`` on; return the index of the first frame ``_step`` must
    take (``i`` itself when the tracker is not idle). ``arrays``: the same frames as C-ordered
    float64 arrays (t (n,), up (n, 3), dyn (n,), eff (n,)), for the compiled loop."""
    n = len(t_all)
    if i >= n:
        return i
    mode = _eligible(tr)
    if mode == _NONE:
        return i
    at_rest, lying, excursion = mode in (_AT_REST, _LYING), mode == _LYING, mode == _EXCURSION
    measure = at_rest or excursion             # the all-axes detector is stepped
    s, det, cfg, fl, roll = tr._s, tr._det, tr.cfg, tr._floor, tr._roll
    still_dps = cfg.exercise_hold_still_dps
    rep_floor = cfg.exercise_rep_min_deg if lying else cfg.exercise_upright_rep_min_deg
    roll_floor = cfg.exercise_roll_rep_min_deg
    too_far, roll_too_far = det.too_far_deg, roll.too_far_deg
    speed_tau, hold_tau = _tr.SPEED_TAU_S, _tr.HOLD_STILL_TAU_S
    moving, quiet = _tr.MOVING_DYN_MG, _tr.QUIET_DYN_MG
    noise_k, noise_max, roll_noise_max = _tr.NOISE_K, _tr.NOISE_MAX_DEG, _tr.ROLL_NOISE_MAX_DEG
    off_frac = _reps.OFF_FRACTION
    up_min_z, supine_tan = _UP_MIN_Z, _SUPINE_TAN
    # candidate reps of this upright episode (tracker._on_deg): the threshold is at least
    # REP_ON_FRACTION of their typical size until they expire (tracker._expire, at rest only)
    cand = s["cand"] if measure and not lying else []
    cand_on = (_tr.REP_ON_FRACTION * statistics.median([r["amplitude_deg"] for r in cand[-5:]])
               if cand else 0.0)
    cand_end = cand[-1]["end_s"] if cand else 0.0
    cand_gap = cfg.exercise_set_gap_s
    cand_live = bool(cand)
    unannounced = s["announced"] is None      # (announced, a hold starts in any pose off upright)
    da = _reps.REST_DRIFT_A
    da1 = 1 - da
    block_s, half_block = _effort.BLOCK_S, _effort.FRAMES_PER_BLOCK // 2
    o0, o1, o2 = det.offset
    w0, w1, w2 = det.weights
    ro0, ro1, ro2 = roll.offset
    rw0, rw1, rw2 = roll.weights
    acos, atan2, sqrt, isfinite, floor = math.acos, math.atan2, math.sqrt, math.isfinite, math.floor
    deg = _DEG
    frame_s = FRAME_S

    prev_t = s["prev_t"]
    p0, p1, p2 = s["prev_up"]
    speed_dps, dyn_ema, quiet_t = s["speed_dps"], s["dyn_mg"], s["quiet_t"]
    l0, l1, l2 = s["hold_up_lp"]
    hold_speed = s["hold_speed_dps"]
    r0 = r1 = r2 = q0 = q1 = q2 = 0.0
    if measure:
        r0, r1, r2 = (float(v) for v in det.rest)
    on_t, peak, peak_full = det._on_t, det._peak, None
    shift_s, shift_max = _tr.SHIFT_S, _tr.SHIFT_MAX_DEG + 1e-6
    max_rep_s, off_edge = det.max_rep_s, _reps.EDGE_FRACTION
    if lying:
        q0, q1, q2 = (float(v) for v in roll.rest)
    rest_moved = roll_moved = False
    noise2, noise2_roll = s["noise2"], s["noise2_roll"]
    last_m_full, roll_m_full = det.last_m_full, roll.last_m_full
    m = m_full = x = y = z = on = 0.0
    f_block, f_sum, f_n = fl.block, fl.sum, fl.n
    stills, ms, xs, ys, zs = [], [], [], [], []     # per frame of the run, for the buffers
    rms, rxs, rys, rzs = [], [], [], []             # the same for the roll detector
    j = i
    compiled = _loop is not None and arrays is not None and not lying and not excursion
    if compiled:
        # the same loop in C (_idle_loop.c): upright at rest, or no rest pose yet
        params = np.array([frame_s, speed_tau, hold_tau, still_dps, moving, quiet, up_min_z,
                           noise_k, noise_max, rep_floor, too_far, o0, o1, o2, w0, w1, w2,
                           off_frac, da, da1, block_s, half_block, deg, float(measure),
                           float(unannounced), supine_tan, cand_on, cand_end, cand_gap])
        st = np.array([prev_t, p0, p1, p2, speed_dps, dyn_ema,
                       0.0 if quiet_t is None else quiet_t, float(quiet_t is not None),
                       l0, l1, l2, hold_speed, r0, r1, r2, 0.0, noise2, last_m_full,
                       0.0 if f_block is None else float(f_block), float(f_block is not None),
                       f_sum, float(f_n), float(cand_live)])
        k = n - i
        still_a, m_a, xyz_a, adds = (np.zeros(k, dtype=np.uint8), np.empty(k), np.empty((k, 3)),
                                     np.empty(k))
        j, n_adds = _loop.rest_run(*arrays, i, n, params, st, still_a, m_a, xyz_a, adds)
        (prev_t, p0, p1, p2, speed_dps, dyn_ema, quiet_t, has_quiet_t, l0, l1, l2, hold_speed,
         r0, r1, r2, moved, noise2, last_m_full, f_block, has_block, f_sum, f_n,
         live) = st.tolist()
        quiet_t = quiet_t if has_quiet_t else None
        f_block = int(f_block) if has_block else None
        f_n, rest_moved, cand_live = int(f_n), bool(moved), bool(live)
        for v in adds[:n_adds].tolist():
            fl._add(v)                              # (the floor never feeds back into the loop)
        stills = still_a[:j - i].astype(bool).tolist()
        if measure:
            ms = m_a[:j - i].tolist()
            xs, ys, zs = (xyz_a[:j - i, c].tolist() for c in range(3))
    while not compiled and j < n:
        t = t_all[j]
        u0, u1, u2 = up_all[j]
        # -- everything _step would decide, before anything is committed
        dt = t - prev_t
        if dt < frame_s:
            dt = frame_s                           # max(t - prev_t, FRAME_S)
        if dt > 2.0:
            break                                  # a gap: _step ends the episode
        if excursion and u2 < up_min_z:
            break                   # near or off upright: _step's settle test takes it
        c = u0 * p0 + u1 * p1 + u2 * p2
        c = 1.0 if c > 1.0 else (-1.0 if c < -1.0 else c)
        a = dt / speed_tau
        if a > 1.0:
            a = 1.0
        dyn = dyn_all[j]
        n_speed = speed_dps + a * (acos(c) * deg / dt - speed_dps)
        n_dyn = dyn_ema + a * (dyn - dyn_ema)
        still = n_speed < still_dps and n_dyn < moving
        # _hold_still (its dt is the same: hold_lp_t == prev_t)
        a = dt / hold_tau
        if a > 1.0:
            a = 1.0
        hx = l0 + a * (u0 - l0)
        hy = l1 + a * (u1 - l1)
        hz = l2 + a * (u2 - l2)
        hn = sqrt(hx * hx + hy * hy + hz * hz) or 1.0
        hx, hy, hz = hx / hn, hy / hn, hz / hn
        c = hx * l0 + hy * l1 + hz * l2
        c = 1.0 if c > 1.0 else (-1.0 if c < -1.0 else c)
        a = dt / speed_tau
        if a > 1.0:
            a = 1.0
        n_hold_speed = hold_speed + a * (acos(c) * deg / dt - hold_speed)
        if n_hold_speed < still_dps and n_dyn < moving and u2 < up_min_z and not (
                unannounced and u0 > 0.0 and abs(u1) < supine_tan * u0):
            break                  # still, off upright, not clearly supine: a hold could be found
        if not measure:
            if still:
                break                              # still: a rest pose may be taken
        else:
            on = noise_k * sqrt(noise2)            # tracker._on_deg
            if on > noise_max:
                on = noise_max
            if rep_floor >= on:
                on = rep_floor
            if cand_live and cand_on > on:
                on = cand_on
            # reps.RepDetector.step from rest (posture.body_rotation1_deg)
            ax, ay, az = u1 * r2 - u2 * r1, u2 * r0 - u0 * r2, u0 * r1 - u1 * r0
            sn = sqrt(ax * ax + ay * ay + az * az)
            k = atan2(sn, u0 * r0 + u1 * r1 + u2 * r2) * deg / (sn if sn > 1e-12 else 1e-12)
            x, y, z = ax * k, ay * k, az * k
            m_full = sqrt(x * x + y * y + z * z)
            if m_full > too_far:
                break
            wa, wb, wc = (x - o0) * w0, (y - o1) * w1, (z - o2) * w2
            m = sqrt(wa * wa + wb * wb + wc * wc)
            if excursion:
                # reps.RepDetector.step in an excursion: it goes on while over the end level
                if t - on_t > max_rep_s:
                    break                          # too long: aborted
                n_peak = peak if peak >= m else m
                lim = off_frac * on
                if off_edge * n_peak > lim:
                    lim = off_edge * n_peak
                if m < lim:
                    break                          # back under the end level: it ends
                if still and t - on_t > shift_s:
                    # tracker._step: a small shift held long becomes the rest pose
                    if peak_full is None:
                        peak_full = max(sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
                                        for v in det._buf_r)
                    if (peak_full if peak_full >= m_full else m_full) < shift_max:
                        break
            elif m >= on:
                break                              # a rep onset
            if lying:
                # the roll detector (tracker._roll_step), from its own rest
                on_r = noise_k * sqrt(noise2_roll)
                if on_r > roll_noise_max:
                    on_r = roll_noise_max
                if roll_floor >= on_r:
                    on_r = roll_floor
                ax, ay, az = u1 * q2 - u2 * q1, u2 * q0 - u0 * q2, u0 * q1 - u1 * q0
                sn = sqrt(ax * ax + ay * ay + az * az)
                k = atan2(sn, u0 * q0 + u1 * q1 + u2 * q2) * deg / (sn if sn > 1e-12 else 1e-12)
                rx, ry, rz = ax * k, ay * k, az * k
                rm_full = sqrt(rx * rx + ry * ry + rz * rz)
                if rm_full > roll_too_far:
                    break
                wa, wb, wc = (rx - ro0) * rw0, (ry - ro1) * rw1, (rz - ro2) * rw2
                rm = sqrt(wa * wa + wb * wb + wc * wc)
                if rm >= on_r:
                    break                          # a roll rep onset
        # -- commit the frame, in _step's order
        e = eff_all[j]
        if isfinite(e):                            # effort.EffortFloor.update
            b = int(floor(t / block_s))
            if b != f_block:
                if f_block is not None and f_n >= half_block:
                    fl._add(sqrt(f_sum / f_n))
                f_block, f_sum, f_n = b, 0.0, 0
            f_sum += e
            f_n += 1
        speed_dps, dyn_ema = n_speed, n_dyn
        prev_t, p0, p1, p2 = t, u0, u1, u2
        if dyn < quiet:
            quiet_t = t
        l0, l1, l2, hold_speed = hx, hy, hz, n_hold_speed
        stills.append(still)
        j += 1
        if cand_live and at_rest and t - cand_end > cand_gap:
            cand_live = False                      # tracker._expire, at the frame's end
        if not measure:
            continue
        ms.append(m)
        xs.append(x)
        ys.append(y)
        zs.append(z)
        last_m_full = m_full
        if excursion:
            peak = n_peak
            if peak_full is not None and m_full > peak_full:
                peak_full = m_full
            continue
        if still:
            if m < 0.5 * on and m_full < off_frac * (on if on >= 2.0 else 2.0):
                # reps.drift_rest
                x = da1 * r0 + da * u0
                y = da1 * r1 + da * u1
                z = da1 * r2 + da * u2
                rn = sqrt(x * x + y * y + z * z)
                r0, r1, r2 = x / rn, y / rn, z / rn
                rest_moved = True
            if m_full < noise_max:
                noise2 += 0.02 * (m_full ** 2 - noise2)
        if not lying:
            continue
        rms.append(rm)
        rxs.append(rx)
        rys.append(ry)
        rzs.append(rz)
        roll_m_full = rm_full
        if still:
            if rm < 0.5 * on_r and rm_full < off_frac * (on_r if on_r >= 2.0 else 2.0):
                x = da1 * q0 + da * u0
                y = da1 * q1 + da * u1
                z = da1 * q2 + da * u2
                rn = sqrt(x * x + y * y + z * z)
                q0, q1, q2 = x / rn, y / rn, z / rn
                roll_moved = True
            if rm < roll_noise_max:
                noise2_roll += 0.02 * (rm ** 2 - noise2_roll)
    if j == i:
        return i
    # write the run's state back, as the frame-by-frame path leaves it
    if cand and not cand_live:
        s["cand"] = []
    tr._eff2 = eff_all[j - 1]
    fl.block, fl.sum, fl.n = f_block, f_sum, f_n
    s["speed_dps"], s["dyn_mg"], s["quiet_t"] = speed_dps, dyn_ema, quiet_t
    s["prev_up"], s["prev_t"], s["t_last"] = [p0, p1, p2], prev_t, prev_t
    s["hold_up_lp"], s["hold_lp_t"], s["hold_speed_dps"] = [l0, l1, l2], prev_t, hold_speed
    k = j - i
    ring = s.setdefault("hold_lp_ring", [])
    ring += [[t_all[q]] + up_all[q] for q in range(max(i, j - _RING_KEEP), j)]
    del ring[:-_RING_KEEP]
    keep = _EP_KEEP if measure else _PRE_REST_KEEP
    ep = s["ep_frames"]
    a = max(i, j - keep)
    ep += [[t, u[0], u[1], u[2], st] for t, u, st in zip(t_all[a:j], up_all[a:j], stills[a - i:])]
    del ep[:-keep]
    if not measure:
        s["still_run"] = []                        # every frame of the run was moving
        return j
    if excursion:
        det._buf_t += t_all[i:j]
        det._buf_r += [[x, y, z] for x, y, z in zip(xs, ys, zs)]
        det._buf_up += [list(u) for u in up_all[i:j]]
        det.last_m, det.last_m_full = ms[-1], last_m_full
        det._peak, det._peak_n, det._below_since = peak, len(det._buf_r), None
        s["settle_since"] = None                   # upright all along: not settling elsewhere
        return j
    _pre_roll(det, t_all, up_all, i, j, ms, xs, ys, zs)
    det.last_m, det.last_m_full = ms[-1], last_m_full
    if rest_moved:
        det.rest = np.array([r0, r1, r2])
    s["noise2"] = noise2
    if lying:
        _pre_roll(roll, t_all, up_all, i, j, rms, rxs, rys, rzs)
        roll._hist += rzs[-_HIST_KEEP:]            # the roll axis (weights [0, 0, 1])
        del roll._hist[:-_HIST_KEEP]
        roll.last_m, roll.last_m_full = rms[-1], roll_m_full
        if roll_moved:
            roll.rest = np.array([q0, q1, q2])
        s["noise2_roll"] = noise2_roll
    return j


def _pre_roll(det, t_all, up_all, i, j, ms, xs, ys, zs) -> None:
    """The detector's idle pre-roll after frames i..j-1 (reps.RepDetector.step keeps 60)."""
    k = j - i
    q0 = max(0, k - _PRE_KEEP)
    det._pre_t += t_all[i + q0:j]
    det._pre_m += ms[q0:]
    det._pre_r += [[xs[q], ys[q], zs[q]] for q in range(q0, k)]
    det._pre_up += [list(up_all[i + q]) for q in range(q0, k)]
    for buf in (det._pre_t, det._pre_m, det._pre_r, det._pre_up):
        del buf[:-_PRE_KEEP]
