"""BodySamples -> 10 Hz feature frames, identical whatever the chunking.

Exercise motion lives below ~2 Hz, so the trackers work on fixed 0.1 s frames aligned to
absolute event time (bin = floor(t_s / 0.1)). A bin is emitted once a later sample arrives,
so a frame never depends on where a chunk boundary fell. Per frame we keep the mean gravity
direction, the dynamic acceleration and (when the rate allows) the 8-12 Hz tremor power
from a Butterworth band-pass whose state is carried across chunks.
"""
from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import signal as sps

from spinewise.signal.body import BodySamples
from spinewise.signal.iir import sosfilt_step

try:        # the fusion offset's loop in C (_fusion_loop.c, optional): without it, the Python loop
    from spinewise.signal.exercise import _fusion_loop as _loop
except ImportError:
    _loop = None

log = logging.getLogger(__name__)

FRAME_S = 0.1
TREMOR_BAND_HZ = (8.0, 12.0)
# Without a gyro the BodyTracker's gravity is a 0.3 Hz low-pass (good for posture, but it
# shrinks a 1.5 s rep to a fifth). Exercise moves are slow and their linear acceleration is
# mostly along gravity (removed by normalising), so a 1.5 Hz low-pass of the body-frame
# accelerometer follows reps faithfully.
ACC_ONLY_UP_CUTOFF_HZ = 1.5
# With a gyro, VQF's direction is smooth but carries an offset that steps by up to ~1 deg
# when a move upsets its gyro-bias estimate, then stays for minutes (measured against the
# simulator's truth while the accelerometer's own direction stayed put): as large as a
# bird dog's whole roll. So below this frequency the accelerometer's direction is used.
# Dev seeds 0-99, exact rep counts: 0.1 / 0.3 / 1.0 Hz 93 / 94 / 94 %, VQF alone 90 %.
FUSION_CUTOFF_HZ = 0.3
FUSION_GATE_DPS = 10.0       # the offset is followed only while turning slower than this...
FUSION_QUIET_FRAMES = 5      # ...for this many frames
FUSION_REANCHOR_DEG = 15.0   # turned further than this from where it was followed: start again
# Chunks of this many frames or fewer take the frame-by-frame fusion: the vectorised one costs
# ~0.3 ms a call whatever the size, most of the analysis of a live 25-sample message (~2 ms)
FUSE_LOOP_MAX_FRAMES = 8
_FUSION_A = 1.0 - math.exp(-2.0 * math.pi * FUSION_CUTOFF_HZ * FRAME_S)   # the offset's EMA step
# Effort of an isometric hold: holding a plank against gravity shakes the trunk with small
# fast corrections. Measured in the 3-12 Hz band of the gyro (field recordings: 2.6-6x the
# recording's quietest windows inside planks, 1.0-1.6x lying relaxed) and, without a gyro,
# of the accelerometer (a weaker cue: 1.2-2x against 1.1-1.3x, the sensor noise dominates).
# The band stops below Nyquist at low rates (25 Hz: 3-10 Hz).
EFFORT_BAND_HZ = (3.0, 12.0)
EFFORT_MIN_WIDTH = 1.5         # the band's top must be at least 1.5x its bottom
N_SUMS = 14                  # per-frame sums: up(3), dyn^2, tremor^2, n, acc up(3), gyro up(3),
                             # effort^2, acc along up


@dataclass(frozen=True, eq=False)
class Frames:
    t_s: np.ndarray          # (F,) frame centre
    up: np.ndarray           # (F, 3) unit mean world-up in the body frame
    dyn_mg: np.ndarray       # (F,) RMS |acc - up| within the frame, mg (motion energy)
    tremor_g2: np.ndarray    # (F,) mean square of 8-12 Hz band acc, g^2; NaN = unavailable
    n: np.ndarray            # (F,) samples in the frame
    effort2: np.ndarray | None = None  # (F,) mean square of the EFFORT_BAND_HZ band: gyro
                                       # (dps^2) when there is one, else acc (mg^2)
    vert_g: np.ndarray | None = None   # (F,) mean acceleration along world-up minus 1 g, g:
                                       # the pelvis' vertical acceleration plus the bias

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


def tremor_available(rate_hz: float, min_rate_hz: float) -> bool:
    """8-12 Hz needs the band well below Nyquist: a sensor's anti-alias roll-off eats the
    top of the band and content at fs-12..fs-8 Hz folds into it (25 Hz: 13-17 Hz -> 8-12)."""
    return rate_hz >= max(min_rate_hz, 2.0 * TREMOR_BAND_HZ[1] * 1.05)


class FrameBuilder:
    def __init__(self, rate_hz: float, tremor_min_rate_hz: float = 30.0) -> None:
        self.rate_hz = float(rate_hz)
        self.has_tremor = tremor_available(self.rate_hz, tremor_min_rate_hz)
        self._sos = (sps.butter(2, TREMOR_BAND_HZ, btype="bandpass", fs=self.rate_hz, output="sos")
                     if self.has_tremor else None)
        self._zi: np.ndarray | None = None
        # below ~11 Hz the band has no room under Nyquist: effort stays unknown (NaN), and
        # holds fall back to the classic rules, as without a gyro's effort
        hi = min(EFFORT_BAND_HZ[1], 0.4 * self.rate_hz)
        self._effort_sos = (sps.butter(2, (EFFORT_BAND_HZ[0], hi), btype="bandpass",
                                       fs=self.rate_hz, output="sos")
                            if hi >= EFFORT_MIN_WIDTH * EFFORT_BAND_HZ[0] else None)
        self._effort_zi: np.ndarray | None = None
        self._lp = sps.butter(2, min(ACC_ONLY_UP_CUTOFF_HZ, 0.4 * self.rate_hz), fs=self.rate_hz,
                              output="sos")
        self._lp_zi: np.ndarray | None = None
        self._glp_zi: np.ndarray | None = None    # the gyro direction through self._lp
        self._fusion: dict | None = None          # see _fuse
        self._has_gyro = False                    # of the last update, for flush
        self._bin: int | None = None
        self._acc = np.zeros(N_SUMS)   # partial bin sums (see N_SUMS)

    def get_state(self) -> dict:
        return {"zi": None if self._zi is None else self._zi.tolist(), "bin": self._bin,
                "acc": self._acc.tolist(),
                "lp_zi": None if self._lp_zi is None else self._lp_zi.tolist(),
                "glp_zi": None if self._glp_zi is None else self._glp_zi.tolist(),
                "fusion": copy.deepcopy(self._fusion), "has_gyro": self._has_gyro,
                "effort_zi": None if self._effort_zi is None else self._effort_zi.tolist()}

    def set_state(self, state: dict) -> None:
        self._zi = None if state["zi"] is None else np.asarray(state["zi"], dtype=np.float64)
        self._bin = state["bin"]
        self._acc = np.asarray(state["acc"], dtype=np.float64)
        self._lp_zi = None if state["lp_zi"] is None else np.asarray(state["lp_zi"], dtype=np.float64)
        glp = state.get("glp_zi")                 # states saved before the fusion lack these
        self._glp_zi = None if glp is None else np.asarray(glp, dtype=np.float64)
        self._fusion = copy.deepcopy(state.get("fusion"))
        self._has_gyro = bool(state.get("has_gyro", False))
        ez = state.get("effort_zi")
        self._effort_zi = None if ez is None else np.asarray(ez, dtype=np.float64)
        if len(self._acc) != N_SUMS:
            self._acc = np.r_[self._acc, np.zeros(N_SUMS - len(self._acc))]

    def update(self, body: BodySamples) -> Frames:
        n = len(body)
        if n == 0:
            return _empty()
        acc = np.asarray(body.acc_body_g, dtype=np.float64)
        up_acc, self._lp_zi = _settled_sosfilt(self._lp, acc, self._lp_zi)
        up_acc = up_acc / np.linalg.norm(up_acc, axis=1, keepdims=True).clip(1e-9)
        if body.has_gyro:
            up = np.asarray(body.up_body, dtype=np.float64)
            # through the same low-pass as the accelerometer, so their lags cancel in _fuse
            g_lp, self._glp_zi = _settled_sosfilt(self._lp, up, self._glp_zi)
        else:
            up = g_lp = up_acc
        dyn2 = np.sum((acc - up) ** 2, axis=1)
        if self._sos is not None:
            if self._zi is None:
                self._zi = np.zeros((self._sos.shape[0], 2, 3))
            band, self._zi = sosfilt_step(self._sos, acc, self._zi)
            trem2 = np.sum(band ** 2, axis=1)
        else:
            trem2 = np.full(n, np.nan)
        # the gyro when there is one (bias and slow turns fall outside the band), else acc in mg
        src = (np.asarray(body.gyro_body_dps, dtype=np.float64) if body.has_gyro else 1000.0 * acc)
        if self._effort_sos is None:
            eff2 = np.full(n, np.nan)
        else:
            if self._effort_zi is None:
                self._effort_zi = np.zeros((self._effort_sos.shape[0], 2, 3))
            eband, self._effort_zi = sosfilt_step(self._effort_sos, src, self._effort_zi)
            eff2 = np.sum(eband ** 2, axis=1)
        bins = np.floor(np.asarray(body.t_s, dtype=np.float64) / FRAME_S).astype(np.int64)
        vert = acc[:, 0] * up[:, 0] + acc[:, 1] * up[:, 1] + acc[:, 2] * up[:, 2]
        vals = np.column_stack([up, dyn2, trem2, np.ones(n), up_acc, g_lp, eff2, vert])
        # Samples whose bin is older than the open one (clock jitter) join the open bin.
        if self._bin is not None:
            bins = np.maximum(bins, self._bin)
        bins = np.maximum.accumulate(bins)
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        sums = np.add.reduceat(vals, starts, axis=0)
        ids = bins[starts]
        if self._bin is not None and ids[0] == self._bin:
            sums[0] += self._acc
        elif self._bin is not None:
            sums = np.vstack([self._acc, sums])
            ids = np.r_[self._bin, ids]
        # The last bin stays open until a later sample arrives.
        self._bin, self._acc = int(ids[-1]), sums[-1].copy()
        self._has_gyro = body.has_gyro
        return self._fuse(ids[:-1], sums[:-1], body.has_gyro)

    def flush(self) -> Frames:
        if self._bin is None or self._acc[5] == 0:
            return _empty()
        out = self._fuse(np.array([self._bin]), self._acc[None, :], self._has_gyro)
        self._acc = np.zeros(N_SUMS)
        return out

    def _fuse(self, ids: np.ndarray, sums: np.ndarray, has_gyro: bool) -> Frames:
        """Frames whose gravity direction is the gyro-fused one above FUSION_CUTOFF_HZ and
        the accelerometer's below it. Their difference (the fused direction's slow offset)
        is followed only while the body turns slower than FUSION_GATE_DPS: during and just
        after a big move (getting down on the mat) the two low-passed directions differ
        for a moment by degrees, which is not an offset.

        Frame by frame this is: quiet = frames in a row turning slower than the gate; near =
        within FUSION_REANCHOR_DEG of the anchor (the direction at the last quiet frame);
        at a quiet frame the offset follows d (or restarts from it when not near) and the
        anchor moves there; a near frame's direction is corrected by the offset. All but
        the offset's running average are vectorised over the chunk, with the same
        arithmetic (tests/signal/exercise/test_frames.py checks bit equality with the
        frame-by-frame loop)."""
        fr = _frames(ids, sums)
        n = len(fr)
        if not has_gyro or n == 0:
            return fr
        if n <= FUSE_LOOP_MAX_FRAMES:
            return self._fuse_loop(fr, sums)
        f = self._fusion or _no_fusion()
        a = _FUSION_A
        g = _unit_rows(sums[:, 9:12])
        d = g - _unit_rows(sums[:, 6:9])
        idx = np.arange(n)
        # quiet: frames in a row turning slower than the gate (frame 0 counts only with a prev)
        prev = np.empty_like(g)
        prev[1:] = g[:-1]
        have_prev = np.ones(n, dtype=bool)
        if f["prev"] is None:
            prev[0] = g[0]
            have_prev[0] = False
        else:
            prev[0] = f["prev"]
        fast = have_prev & _angles_cmp(g, prev, FRAME_S, FUSION_GATE_DPS, above=True)
        last_fast = np.maximum.accumulate(np.where(fast, idx, -1))
        quiet = np.where(last_fast >= 0, idx - last_fast,
                         int(f["quiet"]) + idx + (1 if f["prev"] is not None else 0))
        q = quiet >= FUSION_QUIET_FRAMES
        # the anchor each frame sees: the direction at the last quiet frame before it
        q_idx = np.flatnonzero(q)
        last_q = np.maximum.accumulate(np.where(q, idx, -1))
        src = np.empty(n, dtype=np.int64)
        src[0] = -1
        src[1:] = last_q[:-1]
        has_anchor = (src >= 0) | (f["anchor"] is not None)
        anchor = g[np.maximum(src, 0)]
        if f["anchor"] is not None:
            anchor[src < 0] = f["anchor"]
        near = has_anchor & _angles_cmp(g, anchor, 1.0, FUSION_REANCHOR_DEG, above=False)
        # the offset's running average, at quiet frames only (sequential)
        err_q = np.empty((len(q_idx), 3))
        e = f["err"]
        e0, e1, e2 = (0.0, 0.0, 0.0) if e is None else e
        if _loop is not None:
            # the same loop in C (_fusion_loop.c)
            e0, e1, e2 = _loop.offset_run(np.ascontiguousarray(d[q_idx]),
                                          np.ascontiguousarray(near[q_idx], dtype=np.uint8),
                                          a, e0, e1, e2, err_q)
        else:
            d_q, near_q = d[q_idx].tolist(), near[q_idx].tolist()
            for k in range(len(q_idx)):
                d0, d1, d2 = d_q[k]
                if near_q[k]:
                    e0, e1, e2 = e0 + a * (d0 - e0), e1 + a * (d1 - e1), e2 + a * (d2 - e2)
                else:
                    e0, e1, e2 = d0, d1, d2
                err_q[k] = (e0, e1, e2)
        # the offset in force at each frame (after its own quiet update)
        which = np.searchsorted(q_idx, idx, side="right") - 1
        err = np.empty_like(g)
        err[which >= 0] = err_q[which[which >= 0]]
        fix = near | q
        if e is not None:
            err[which < 0] = e
        else:
            fix &= which >= 0
        up = fr.up.copy()
        u = up[fix] - err[fix]
        nrm = np.sqrt(u[:, 0] * u[:, 0] + u[:, 1] * u[:, 1] + u[:, 2] * u[:, 2])
        nrm[nrm == 0.0] = 1.0
        up[fix] = u / nrm[:, None]
        f = {"err": f["err"] if not len(q_idx) else [e0, e1, e2],
             "prev": g[-1].tolist(), "quiet": int(quiet[-1]),
             "anchor": f["anchor"] if not len(q_idx) else g[q_idx[-1]].tolist()}
        self._fusion = f
        return replace(fr, up=up)

    def _fuse_frame_by_frame(self, ids: np.ndarray, sums: np.ndarray, has_gyro: bool) -> Frames:
        """The fusion as it was first written, frame by frame: the specification _fuse's
        vectorised arithmetic equals bit for bit (tests/signal/exercise/test_frames.py), and
        the cheaper path for a chunk of a few frames (live messages)."""
        fr = _frames(ids, sums)
        if not has_gyro or len(fr) == 0:
            return fr
        return self._fuse_loop(fr, sums)

    def _fuse_loop(self, fr: Frames, sums: np.ndarray) -> Frames:
        """_fuse_frame_by_frame's loop over the frames ``fr`` (their per-frame ``sums``)."""
        f = dict(self._fusion) if self._fusion else _no_fusion()
        a = _FUSION_A
        g = _unit_rows(sums[:, 9:12])
        g_all, d_all = g.tolist(), (g - _unit_rows(sums[:, 6:9])).tolist()
        up = fr.up.tolist()
        for i, (g, d) in enumerate(zip(g_all, d_all)):
            if f["prev"] is not None:
                fast = _angle_deg(g, f["prev"]) / FRAME_S > FUSION_GATE_DPS
                f["quiet"] = 0 if fast else f["quiet"] + 1
            f["prev"] = g
            near = f["anchor"] is not None and _angle_deg(g, f["anchor"]) < FUSION_REANCHOR_DEG
            if f["quiet"] >= FUSION_QUIET_FRAMES:
                e = f["err"]
                f["err"] = [e[k] + a * (d[k] - e[k]) for k in range(3)] if near else d
                f["anchor"], near = g, True
            if near:
                e = f["err"]
                u = [up[i][0] - e[0], up[i][1] - e[1], up[i][2] - e[2]]
                n = math.sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]) or 1.0
                up[i] = [u[0] / n, u[1] / n, u[2] / n]
        self._fusion = f
        return replace(fr, up=np.asarray(up, dtype=np.float64))


def _no_fusion() -> dict:
    """The fusion's state before its first frame (see _fuse)."""
    return {"err": None, "prev": None, "quiet": 0, "anchor": None}


def _angles_cmp(a: np.ndarray, b: np.ndarray, scale: float, limit: float, above: bool) -> np.ndarray:
    """Per row, ``_angle_deg(a, b) / scale > limit`` (``above``) or ``... < limit``, decided
    exactly as the scalar expression would: the vectorised arccos decides all rows but those
    within a hair of the limit, which are recomputed one by one with ``_angle_deg``."""
    c = a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]
    v = np.degrees(np.arccos(np.clip(c, -1.0, 1.0))) / scale
    out = v > limit if above else v < limit
    for i in np.flatnonzero(np.abs(v - limit) <= 1e-9 * abs(limit) + 1e-12):
        x = _angle_deg(a[i].tolist(), b[i].tolist()) / scale
        out[i] = x > limit if above else x < limit
    return out


def _unit_rows(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True).clip(1e-12)


def _angle_deg(a, b) -> float:
    c = float(a[0] * b[0] + a[1] * b[1] + a[2] * b[2])
    return math.degrees(math.acos(min(1.0, max(-1.0, c))))


def _settled_sosfilt(sos: np.ndarray, x: np.ndarray, zi: np.ndarray | None):
    """sosfilt along axis 0 with carried state; the first call starts settled on x[0]."""
    if zi is None:
        zi = sps.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]
    return sosfilt_step(sos, x, zi)


def _frames(ids: np.ndarray, sums: np.ndarray) -> Frames:
    if len(ids) == 0:
        return _empty()
    cnt = sums[:, 5]
    up = sums[:, :3] / np.linalg.norm(sums[:, :3], axis=1, keepdims=True).clip(1e-12)
    return Frames(t_s=(ids + 0.5) * FRAME_S, up=up, dyn_mg=1000.0 * np.sqrt(sums[:, 3] / cnt),
                  tremor_g2=sums[:, 4] / cnt, n=cnt, effort2=sums[:, 12] / cnt,
                  vert_g=sums[:, 13] / cnt - 1.0)


def _empty() -> Frames:
    z = np.zeros(0)
    return Frames(z, np.zeros((0, 3)), z, z, z, z, z)
