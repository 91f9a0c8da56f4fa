"""ExerciseTracker: BodySamples -> set / rep / hold events and the analyze summary.

Pipeline per 0.1 s frame (see frames.py):
1. stillness from the tilt speed of the gravity direction and the dynamic acceleration;
2. a *posture episode* begins once the body is still: its orientation is the rest pose;
3. a RepDetector counts excursions from that rest pose (reps.py);
4. unannounced, a set starts once ``exercise_set_min_reps`` similar reps have been seen and
   recognise.py names them (posture + axis + rhythm); until then each rep goes out as a
   ``rep_pending`` notice (exercise None) as it ends; at naming set_started and the set's
   authoritative reps are emitted at once, later reps as they end (within one frame);
5. stillness in a plank / side-plank position for ``exercise_hold_min_s`` is a hold, with
   hold_running once per elapsed second and stability figures at the end (holds.py).
Everything is event-time and causal; state is plain data (get_state / set_state).
"""
from __future__ import annotations

import copy
import logging
import math
import statistics
from dataclasses import replace

import numpy as np

from spinewise.config import SignalConfig
from spinewise.events import Event
from spinewise.signal.body import BodySamples
from spinewise.signal.exercise import form, recognise, travel
from spinewise.signal.exercise.effort import BLOCK_S, FRAMES_PER_BLOCK, EffortFloor
from spinewise.signal.exercise.frames import FRAME_S, FrameBuilder
from spinewise.signal.exercise.holds import HoldMeter
from spinewise.signal.exercise.posture import body_rotation1_deg, body_rotation_deg, classify, classify1
from spinewise.signal.exercise.reps import Excursion, Rep, RepDetector

log = logging.getLogger(__name__)

SPEED_TAU_S = 0.5          # smoothing of the tilt speed used for stillness
REST_ACQUIRE_S = 1.0       # stillness needed to take a rest pose
MOVING_DYN_MG = 120.0      # dynamic acceleration above this is not "still" (walking, shifting)
QUIET_DYN_MG = 80.0         # a frame this quiet (walking: >= ~110 mg every 0.1 s frame; squat
                           # pauses far less; dev seeds 100-299: 60 mg cost 2 squat reps, 80 none)
QUIET_BEFORE_S = 1.0       # ... within this long before an upright rep's start (or during it)
SETTLE_S = 4.0             # still this long in another posture during an excursion: new episode
SETTLE_BENT_S = 12.0       # ... bent forward from standing short of lying (see _settle_s)
SQUAT_MAX_BEND_DEG = 75.0  # deepest squat flexion (wide bodies 15-70 deg); all fours ~90
SQUAT_MIN_TRAVEL_M = 0.10  # a squat lowers the pelvis 0.2-0.5 m; a seated reach a few cm
TRAVEL_LOOK_S = 40.0       # reps judged by their travel start within this long before now
TRAVEL_PAD_S = 0.5         # ... measured from this long before a rep's start to after its end
HOLD_BREAK_S = 0.6         # movement this long ends a hold
# How long one rep's excursion may last, by the episode's rest posture. Supine: knee-to-chest
# is a stretch held (guide: "hold 20 seconds"; wide bodies hold 20-40 s, a rep with its moves
# runs to 43 s), and at 40 s the longest aborted as too long, so the set was found late or not
# at all (dev seeds 3012-3047: 6 of 30 sets; 2 at 60 s). Elsewhere 40 s: prone, a plank's
# lift is an excursion that must end for the hold to be judged on its own.
MAX_REP_S = {"supine": 60.0, None: 40.0}
HOLD_LIFT_DEG = 7.0        # a hold starts this far from a non-plank rest pose (see _hold_step)
HOLD_MAX_TILT_DEG = 20.0   # turning this far from the hold's start pose ends it
PLANK_MAX_ROLL_SWING_DEG = 2.5  # a plank stays square (dev seeds: roll swing <= 1.9 deg);
                                # a bird dog rolls 1-4.5 deg to each side in turn
PLANK_CONFIRM_ROLL_SWING_DEG = 1.8  # at confirmation a bird dog has rolled to one side
                                    # (1-4.5 deg); planks had <= 1.7 (dev seeds)
PRE_REST_S = 30.0          # frames kept before the rest pose is known (see _catch_up): a
                           # fast set may not hold still for a second until it is over
REPLAY_S = 90.0            # frames kept per episode to re-detect reps after a rest re-take
REST_SWAP_MARGIN_DEG = 5.0
ROLL_END_DEBOUNCE_S = 0.3   # see RepDetector.end_debounce_s (dev seeds: 0 / 0.3 / 0.5 / 1 s gave
                           # 669 / 670 / 668 / 649 of 700 sets exact); pauses last >= 0.8 s
ROLL_MIN_REP_S = 2.0       # bird dog / dead bug reps hold >= 2 s (guide); noise blips are shorter
OTHER_AXES_K = 3.0         # a roll-counted set ends on a move this many x its reps' whole rotation
PAUSES_KEPT = 5            # the roll centre is the median of this many recent pauses: one
                           # pause's level is off by up to ~0.5 deg when the moves around it
                           # differ in speed (dev seeds 100-299: 1 / 3 / 5 -> 94.3 / 94.8 /
                           # 94.9 % exact)
SIDED_ROLL_FRACTION = 0.25  # a rep rolling under this x the run's median has no side (as
                           # recognise.BIRD_DOG_MIN_FRACTION: real reps roll >= ~0.27 x)
TILT_COUNT_RATIO = 1.5     # dead bug counted on tilt + roll when the tilt is this x the roll
SET_GAP_REPS = 2.0         # roll-counted sets end after this many rep lengths without one (see _expire)
MISSED_GAP_FRACTION = 0.7  # a gap this long x the set's median rep can hide a missed rep
MISSED_TILT_FRACTION = 0.5  # ... if its middle tilts this much x the set's reps
# a bird dog rep rolls the pelvis 0.35-3 x as much as it tilts it (wide bodies); a press-up
# tilts it 5-20 deg and hardly rolls
BIRD_DOG_ROLL_PER_TILT = 0.4
SEEN_REP_FRACTION = 0.7    # see _merged_reps: an excursion this big (x the set's reps) ...
SEEN_MERGED_REPS = 1.8     # ... and this long ...
SEEN_AFTER_REPS = 4        # ... once the set has counted this many keeps it going
BLOCKS_FOUND_BY_REPS = 3   # an alternating set seen to go on in blocks up to this many reps in
BLOCKED_PAUSE_FRACTION = 0.35  # pauses this close (x the reps' roll) to the rest: the rest is
                           # true and the reps are one side's block (guide: "10-12 per side")
REST_DRIFT_DEG = 1.5       # see _rest_drift: still this far off the rest pose,
REST_DRIFT_S = 2.5         # this long,
REST_SETTLE_S = 15.0       # this soon after taking it: the pose was taken while settling
SHIFT_S = 14.0             # see _step: small held shifts become the new rest pose
SHIFT_MAX_DEG = 6.0
NOISE_MAX_DEG = 4.0        # wobble estimates use (and thresholds stop at) this much:
ROLL_NOISE_MAX_DEG = 1.2   # bounded so a threshold cannot feed on the motion it ignores
REP_ON_FRACTION = 0.4      # a rep must reach this x the episode's typical rep (_on_deg)
NOISE_K = 3.0              # unrecognised reps must stand this far above the rest wobble (RMS)
# Effort (see effort.py): a hold candidate's 1 s blocks of effort-band RMS against the
# recording's quiet floor. Field recordings with a gyro: planks and side planks 2.6-6x,
# lying relaxed 1.0-1.6x (p90 of 1 s blocks). Without a gyro the accelerometer band is a
# weak cue (holds 1.2-2x, lying blocks 1.0-1.4x: the sensor noise dominates), so there a
# hold is confirmed by clear effort or by the classic rules (head-up incline 7.5-35 deg,
# entered from upright or lifted out of lying), and motion ends it, or, for a hold that
# showed clear effort, that effort falling back to the floor (EFFORT_DROP_EXCESS).
EFFORT_MIN_RATIO = {True: 2.0, False: 1.6}      # by has_gyro: median of the candidate's blocks
EFFORT_RESTART_RATIO = {True: 1.5, False: None}  # two blocks in a row under this: not holding
                                                 # (yet): the candidate starts again from here
EFFORT_BLOCKS_KEPT = 8
EFFORT_RISE_QUIET_S = 10.0   # see _effort_rose_s
EFFORT_LOG_KEPT = 90         # without a gyro, a candidate's last blocks (1 s each) kept with their
                             # times, to find where the effort rose (see _effort_rose_s)
EFFORT_DROP_FRACTION = 0.35  # a running hold's effort falling under this x its own: let go
                             # (field: 4-8x the floor holding, 1-2.2x lying after: out of breath)
EFFORT_DROP_EXCESS = 0.25    # without a gyro: the effort's power above the floor's falling
                             # under this x the hold's own excess (the sensor noise sits in
                             # both, so a ratio of RMS would barely move: a plank held at 2x
                             # the floor and lying after it at 1.0-1.2x)
PLANK_MIN_S = 12.0         # unannounced, a hold counts from this long: the guide's planks
                           # hold 15-60 s (Plank), a bird dog rep on hands and knees (at a
                           # plank's angle, with effort) 5-10 s (Bird Dog)
HOLD_ARRIVE_LOOKBACK_S = 2.0  # see _arrived_s
HOLD_ARRIVE_DEG = 1.5
HOLD_LEAVE_WINDOW_S = 2.0  # see _left_hold_pose
HOLD_LEAVE_DEG = 4.0
HOLD_NEAR_DEG = 1.0
HOLD_STILL_TAU_S = 0.4     # see _hold_still: attenuates 3-12 Hz effort shaking 8-30x
IDLE_FAST = True           # idle.py takes runs of idle frames (tests switch it off to compare)
NEUTRAL_UP = {"upright": (0.0, 0.0, 1.0), "supine": (1.0, 0.0, 0.0), "prone": (-1.0, 0.0, 0.0),
              "side_right": (0.0, 1.0, 0.0), "side_left": (0.0, -1.0, 0.0)}


def _angle_deg(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    c = float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


ANGLE_GUARD_DEG = 1e-6   # plain-float and numpy angles differ by < 1e-11 deg at >= 1 deg


def _angle_cmp(a, b, limit_deg: float) -> int:
    """Sign of ``_angle_deg(a, b) - limit_deg``, decided as _angle_deg decides it: in plain
    floats (numpy's per-call cost on 3-vectors was a quarter of a hold candidate's frame,
    lying prone or on the side all night), and by _angle_deg itself within ANGLE_GUARD_DEG
    of the limit (tests/signal/exercise/test_tracker.py)."""
    a0, a1, a2 = float(a[0]), float(a[1]), float(a[2])
    b0, b1, b2 = float(b[0]), float(b[1]), float(b[2])
    n = math.sqrt(a0 * a0 + a1 * a1 + a2 * a2) * math.sqrt(b0 * b0 + b1 * b1 + b2 * b2)
    c = (a0 * b0 + a1 * b1 + a2 * b2) / max(n, 1e-12)
    v = math.degrees(math.acos(min(1.0, max(-1.0, c))))
    if abs(v - limit_deg) <= ANGLE_GUARD_DEG:
        v = _angle_deg(a, b)
    return (v > limit_deg) - (v < limit_deg)


class ExerciseTracker:
    def __init__(self, cfg: SignalConfig, rate_hz: float, device_id: str = "local") -> None:
        self.cfg = cfg
        self.rate_hz = float(rate_hz)
        self.device_id = device_id
        self._frames = FrameBuilder(rate_hz, cfg.tremor_min_rate_hz)
        self._det = RepDetector(cfg.exercise_rep_min_deg)
        # Lying down, a second detector watches the roll alone: bird dog and dead bug reps
        # are a few degrees, below the breathing wobble the main detector must ignore.
        self._roll = RepDetector(cfg.exercise_roll_rep_min_deg)
        self._roll.weights = [0.0, 0.0, 1.0]
        self._roll.min_rep_s = ROLL_MIN_REP_S
        self._roll.keep_history = True
        self._roll.end_debounce_s = ROLL_END_DEBOUNCE_S
        self._s = self._fresh_state()
        # frame times and vertical acceleration (frames.Frames.vert_g) of the last
        # TRAVEL_LOOK_S and more, kept per chunk: what a squat's travel is measured from
        self._vert_t, self._vert_g = np.zeros(0), np.zeros(0)
        self._floor = EffortFloor()      # the recording's quiet effort floor (effort.py)
        self._eff2 = math.nan            # effort-band power of the frame being stepped
        self.rejected = 0          # body samples ignored (non-finite / degenerate)

    @staticmethod
    def _fresh_state() -> dict:
        return {
            "prev_up": None, "prev_t": None, "speed_dps": 0.0, "dyn_mg": 0.0,
            "still_run": [],          # up vectors of the current still run (rest acquisition)
            "posture": None,          # rest posture of the current episode
            "settle_since": None,     # during an excursion: still in another posture since
            "cand": [],               # reps of this episode not yet in a set
            "set": None,              # active set
            "hold": None,             # hold candidate / active hold
            "hold_veto_up": None,     # pose of a "plank" that rolled like a bird dog
            "announced": None,
            "sets": [], "holds": [],
            "t_last": None,
            "has_gyro": None,
            "ep_frames": [],          # recent frames of this episode, for a rest re-take
            "rest_s": None,           # when the episode's rest pose was taken (see _rest_drift)
            "drift_since": None,      # still off that pose since (see _rest_drift)
            "swapped": False,
            "noise2": 0.0,            # mean square rotation at rest in this episode, deg^2
            "noise2_roll": 0.0,       # the same for the roll alone
            "cand_roll": [],          # roll-only reps not yet in a set
            "pending": [],            # [start_s, end_s] of recent rep_pending notices
            "pending_n": 0,           # rep_pending notices in the current unnamed run
            "quiet_t": None,          # last frame with dynamic acceleration under QUIET_DYN_MG
        }

    # -- public interface ---------------------------------------------------------------
    @property
    def active(self) -> bool:
        h = self._s["hold"]
        return self._s["set"] is not None or bool(h and h["confirmed"])

    @property
    def unavailable(self) -> list[str]:
        out = []
        if not self._frames.has_tremor:
            out.append("tremor_mg_rms")
        return out

    def announce(self, exercise: str | None) -> list[Event]:
        """The user declares the exercise (None: back to recognising). Ends what is running."""
        if exercise is not None and exercise not in recognise.EXERCISES:
            raise ValueError(f"unknown exercise {exercise!r} (known: {', '.join(recognise.EXERCISES)})")
        events: list[Event] = []
        t = self._s["t_last"]
        if t is not None and exercise != self._s["announced"]:
            events += self._end_set(t) + self._end_hold(t)
        self._s["announced"] = exercise
        self._s["cand"] = []
        return events

    def update(self, body: BodySamples) -> list[Event]:
        if len(body) == 0:
            return []
        if not body.calibrated:
            # Until the mounting is known the "body" frame is the sensor's: postures and
            # axes mean nothing, so nothing is recognised (the gap ends any episode).
            return []
        with np.errstate(all="ignore"):
            ok = (np.isfinite(body.t_s) & np.all(np.isfinite(body.up_body), axis=1)
                  & np.all(np.isfinite(body.acc_body_g), axis=1)
                  & (np.abs(np.linalg.norm(body.up_body, axis=1) - 1.0) < 0.5))
        if not ok.all():
            self.rejected += int((~ok).sum())
            log.warning("%s: ignored %d non-finite or degenerate body samples", self.device_id,
                        int((~ok).sum()))
            body = replace(body, t_s=body.t_s[ok], acc_body_g=body.acc_body_g[ok],
                           up_body=body.up_body[ok],
                           gyro_body_dps=None if body.gyro_body_dps is None else body.gyro_body_dps[ok],
                           flexion_deg=body.flexion_deg[ok], lateral_deg=body.lateral_deg[ok],
                           incl_deg=body.incl_deg[ok])
            if len(body) == 0:
                return []
        if self._s["has_gyro"] is None:
            self._s["has_gyro"] = body.has_gyro
        fr = self._frames.update(body)
        return self._run(fr)

    def finish(self) -> list[Event]:
        events = self._run(self._frames.flush())
        t = self._s["t_last"]
        if t is not None:
            self._det.reset()    # an unfinished excursion is not a rep
            events += self._end_set(t) + self._end_hold(t)
        return events

    def summary(self) -> dict:
        return {"sets": copy.deepcopy(self._s["sets"]), "holds": copy.deepcopy(self._s["holds"])}

    def get_state(self) -> dict:
        return {"frames": self._frames.get_state(), "det": self._det.get_state(),
                "roll": self._roll.get_state(), "s": copy.deepcopy(self._s),
                "effort_floor": self._floor.get_state(),
                "vert": [self._vert_t.tolist(), self._vert_g.tolist()]}

    def set_state(self, state: dict) -> None:
        self._frames.set_state(state["frames"])
        self._det.set_state(state["det"])
        self._roll.set_state(state["roll"])
        self._floor = EffortFloor.from_state(state.get("effort_floor"))
        vt, vg = state.get("vert", ([], []))
        self._vert_t, self._vert_g = np.asarray(vt, dtype=np.float64), np.asarray(vg, dtype=np.float64)
        # keys added since the state was saved start fresh
        self._s = {**self._fresh_state(), **copy.deepcopy(state["s"])}

    # -- per frame ----------------------------------------------------------------------
    def _run(self, fr) -> list[Event]:
        events: list[Event] = []
        n = len(fr)
        if n == 0:
            return events
        self._keep_vert(fr)
        t_all, dyn_all, trem_all = fr.t_s.tolist(), fr.dyn_mg.tolist(), fr.tremor_g2.tolist()
        eff_all = fr.effort2.tolist() if fr.effort2 is not None else [math.nan] * n
        up_all = fr.up.tolist()
        arrays = None
        if IDLE_FAST and idle._loop is not None:
            f64 = np.float64
            arrays = (np.ascontiguousarray(fr.t_s, dtype=f64), np.ascontiguousarray(fr.up, dtype=f64),
                      np.ascontiguousarray(fr.dyn_mg, dtype=f64),
                      np.ascontiguousarray(fr.effort2, dtype=f64) if fr.effort2 is not None
                      else np.full(n, math.nan))
        i = 0
        while i < n:
            if IDLE_FAST:
                i = idle.idle_run(self, t_all, up_all, dyn_all, eff_all, i, arrays=arrays)
                if i >= n:
                    break
            self._eff2 = eff_all[i]
            self._floor.update(t_all[i], self._eff2)
            events += self._step(t_all[i], fr.up[i], dyn_all[i], trem_all[i])
            i += 1
        return events

    def _step(self, t: float, up: np.ndarray, dyn_mg: float, trem_g2: float) -> list[Event]:
        s = self._s
        ev: list[Event] = []
        if s["prev_up"] is not None:
            dt = max(t - s["prev_t"], FRAME_S)
            if dt > 2.0:            # a gap in the data: nothing carries across it
                ev += self._end_episode(s["prev_t"])
            pu = s["prev_up"]
            c = min(1.0, max(-1.0, float(up[0]) * pu[0] + float(up[1]) * pu[1] + float(up[2]) * pu[2]))
            speed = math.degrees(math.acos(c)) / dt
            a = min(1.0, dt / SPEED_TAU_S)
            s["speed_dps"] += a * (speed - s["speed_dps"])
            s["dyn_mg"] += a * (dyn_mg - s["dyn_mg"])
        s["prev_up"], s["prev_t"], s["t_last"] = up.tolist(), t, t
        if dyn_mg < QUIET_DYN_MG:
            s["quiet_t"] = t
        still = s["speed_dps"] < self.cfg.exercise_hold_still_dps and s["dyn_mg"] < MOVING_DYN_MG
        hold_still = self._hold_still(t, up)

        # rest pose: the first still second of an episode
        if self._det.rest is None:
            s["ep_frames"].append([t, float(up[0]), float(up[1]), float(up[2]), still])
            del s["ep_frames"][:-int(PRE_REST_S / FRAME_S)]
            if still:
                s["still_run"].append(up.tolist())
                if len(s["still_run"]) * FRAME_S >= REST_ACQUIRE_S:
                    rest = np.mean(s["still_run"], axis=0)
                    self._det.set_rest(rest)
                    self._roll.set_rest(rest)
                    s["posture"] = classify(rest)[0]
                    self._det.max_rep_s = MAX_REP_S.get(s["posture"], MAX_REP_S[None])
                    s["still_run"] = []
                    s["rest_s"] = t
                    log.debug("t=%.1f rest pose %s", t, s["posture"])
                    # a first rep may have begun the moment they settled into position
                    # (before a full still second): look back over the frames since.
                    # Not standing: getting up passes through upright kneeling and a lean,
                    # which would look like a squat.
                    if s["posture"] != "upright":
                        ev += self._catch_up()
            else:
                s["still_run"] = []
            ev += self._hold_step(t, up, hold_still, trem_g2)
            return ev

        hold = s["hold"]
        if hold and hold["confirmed"]:
            # a running hold owns the frames; the rest pose is re-taken once it ends
            ev += self._hold_step(t, up, hold_still, trem_g2)
            if s["hold"] is None:
                self._det.rest = None
            return ev

        s["ep_frames"].append([t, float(up[0]), float(up[1]), float(up[2]), still])
        if len(s["ep_frames"]) * FRAME_S > REPLAY_S:
            del s["ep_frames"][0]
        out = self._det.step(t, up, still, on_deg=self._on_deg())
        if not self._det.active and still and out is None:
            # rest-pose wobble (breathing, sway) sets how big a rep must be to count
            if s["set"] is None and self._det.last_m_full < NOISE_MAX_DEG:
                s["noise2"] += 0.02 * (self._det.last_m_full ** 2 - s["noise2"])
        self._rest_drift(t, up, still, out)
        if (s["set"] is not None and self._det.weights != [1.0, 1.0, 1.0]
                and self._det.last_m_full > max(10.0, 3.0 * self._set_amp(),
                                                OTHER_AXES_K * self._set_rotation())):
            ev += self._end_set(t)          # a big move on the other axes: something else
        if s["set"] is None and s["posture"] in ("supine", "prone") and out is None:
            ev += self._roll_step(t, up, still)
        if isinstance(out, Rep) and s["set"] is None and self._rest_is_peak(out):
            ev += self._replay(out)
        elif isinstance(out, Rep):
            ev += self._on_rep(t, out)
        elif (isinstance(out, Excursion) and out.reason == "too_long" and s["set"] is None
              and s["cand_roll"] and t - s["cand_roll"][-1]["end_s"] <= self.cfg.exercise_set_gap_s):
            # the whole rotation never came back to the rest pose (a shift of the pelvis
            # held through the first reps), but the roll did, rep after rep: the roll's
            # run is kept and may yet name a set; a new episode would take its rest pose
            # in the next rep's hold (wide bodies: a bird dog set counted on its pauses)
            log.debug("t=%.1f excursion %s while the roll counts reps: episode kept", t, out.reason)
            self._det.salvaged = None
        elif isinstance(out, Excursion):
            log.debug("t=%.1f excursion %s: new episode", t, out.reason)
            salvaged, self._det.salvaged = self._det.salvaged, None
            if s["set"] is not None and salvaged is not None:
                ev += self._on_rep(t, Rep(**salvaged))     # the set's last rep
            ev += self._end_episode(t, keep_hold=True)
        elif self._det.active:
            # a small shift held long without coming back (prone -> hands and knees, a
            # shuffle on the mat) is a new rest pose, not a rep
            if (s["set"] is None and not s["cand"] and not s["cand_roll"] and not self._roll.active
                    and self._det.excursion_s(t) > SHIFT_S and still
                    and self._det.excursion_peak_deg() < SHIFT_MAX_DEG):
                self._det.set_rest(up)
            # still in another posture for a while: they moved on (e.g. supine -> side)
            if still and classify1(up) != s["posture"]:
                s["settle_since"] = s["settle_since"] or t
                if t - s["settle_since"] >= self._settle_s(up):
                    ev += self._end_episode(t, keep_hold=True)
            else:
                s["settle_since"] = None
        # a hold may start at rest or as an excursion from it (prone -> lifted into a plank)
        ev += self._hold_step(t, up, hold_still, trem_g2)
        if s["hold"] and s["hold"]["confirmed"]:
            self._det.active = False
        ev += self._expire(t)
        return ev

    def _rest_drift(self, t: float, up: np.ndarray, still: bool, out) -> None:
        """Within REST_SETTLE_S of taking the episode's rest pose, before any rep, the body
        still REST_DRIFT_DEG or more off it, short of a rep, for REST_DRIFT_S: the pose was
        taken while the pelvis still settled (taken as they got down, 3 deg off the lying
        that followed: every rep then measured from the wrong place, and the lying after the
        set one long excursion). Later such a hold is more likely a small first rep."""
        s = self._s
        if (not self._det.active and still and out is None and s["set"] is None
                and not s["cand"] and not s["cand_roll"]
                and s.get("rest_s") is not None and t - s["rest_s"] <= REST_SETTLE_S
                and self._det.last_m_full >= REST_DRIFT_DEG):
            s["drift_since"] = s.get("drift_since") or t
            if t - s["drift_since"] >= REST_DRIFT_S:
                log.debug("t=%.1f rest pose drifted %.1f deg: re-taken", t, self._det.last_m_full)
                self._det.set_rest(up)
                s["drift_since"] = None
        else:
            s["drift_since"] = None

    def _settle_s(self, up: np.ndarray) -> float:
        """How long still in another posture ends the episode. From standing, a forward bend
        short of lying (the bottom of a deep squat: 45-70 deg, held up to ~5 s by some
        people) classifies as prone but is a rep's hold: it waits SETTLE_BENT_S; getting
        down on hands and knees or lying goes on past SQUAT_MAX_BEND_DEG."""
        if self._s["posture"] != "upright" or self._det.rest is None:
            return SETTLE_S
        r = body_rotation1_deg(up, self._det.rest)
        bend = math.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2])
        return SETTLE_BENT_S if r[1] > 0.0 and bend < SQUAT_MAX_BEND_DEG else SETTLE_S

    def _roll_step(self, t: float, up: np.ndarray, still: bool) -> list[Event]:
        s = self._s
        out = self._roll.step(t, up, still, on_deg=self._on_deg(s["cand_roll"], roll=True))
        if out is None and not self._roll.active and still and self._roll.last_m < ROLL_NOISE_MAX_DEG:
            s["noise2_roll"] += 0.02 * (self._roll.last_m ** 2 - s["noise2_roll"])
        if not isinstance(out, Rep):
            if isinstance(out, Excursion):
                s["cand_roll"] = []
            return []
        r = out.to_dict()
        cand = s["cand_roll"]
        if cand and r["start_s"] - cand[-1]["end_s"] > self.cfg.exercise_set_gap_s:
            cand.clear()
        cand.append(r)
        del cand[:-self.cfg.exercise_set_min_reps]
        blocked = tilted = False
        full = len(cand) >= self.cfg.exercise_set_min_reps
        one_side = full and len({c["rot_mean_deg"][2] > self._roll.offset[2] for c in cand}) == 1
        pauses = (self._pause_levels(cand, self._roll.rest)
                  if one_side or (full and s["posture"] == "prone") else None)
        if one_side:
            tilted = s["posture"] == "prone" and self._tilt_like_bird_dog(cand, self._roll.offset)
            blocked = tilted or self._pauses_at_rest(cand, pauses, self._roll.offset)
            if not blocked:
                # excursions to one side only and the pauses between them off the rest: the
                # rest pose was taken in a hold, so the other side's reps and the pauses
                # merge; centre on the roll's range from now on
                self._roll.track_centre = True
        if s["announced"] is not None:
            return []
        if len(cand) < self.cfg.exercise_set_min_reps:
            return self._pending(t, r)
        exercise = recognise.recognise_roll(s["posture"], cand, self._roll.offset, blocked=blocked,
                                            rest_up=self._roll.rest, tilted=tilted,
                                            pause_tilt_deg=float(np.median(pauses[:, 1]))
                                            if s["posture"] == "prone" and pauses is not None else 0.0)
        if exercise is None:
            return self._pending(t, r)
        # the roll detector's rest and centre are the ones these reps were measured from
        self._det.set_rest(np.asarray(self._roll.rest))
        self._det.offset = list(self._roll.offset)
        return self._start_set(t, exercise, list(cand))

    @staticmethod
    def _tilt_like_bird_dog(reps: list[dict], offset) -> bool:
        """Whether one-sided prone reps each tip the pelvis forward-down as a lifted leg does
        (recognise.TILT_SIGN, at least TILT_MIN_DEG) while rolling it BIRD_DOG_ROLL_PER_TILT
        x as much or more: measured from a true rest, so a set done in blocks even
        when its pauses stop short of that rest (a 1 s pause at the end of a rep's return;
        wide bodies). A rest taken inside a held rep gives the opposite: its pauses and the
        other side's reps tilt the other way or not at all. Press-ups tilt 5 deg and more
        with next to no roll."""
        sign = recognise.TILT_SIGN["bird_dog"]
        tilt = [sign * r["rot_mean_deg"][1] for r in reps]
        roll = [abs(r["rot_mean_deg"][2] - offset[2]) for r in reps]
        return (min(tilt) >= recognise.TILT_MIN_DEG
                and statistics.median(roll) >= BIRD_DOG_ROLL_PER_TILT * statistics.median(tilt))

    def _pause_levels(self, reps: list[dict], rest) -> np.ndarray | None:
        """The pelvis' rotation (body x, y, z; deg from ``rest``) in each pause between these
        reps, the median over the pause; None when a pause is too short to tell. Its roll
        tells a set in blocks (_pauses_at_rest); its tilt, in a prone run, is what the reps'
        tilt is judged from (recognise.recognise_roll: not lying on the back, where
        knee-to-chest tilts 8-20 deg and must stay too big for a dead bug wherever its
        pauses sit)."""
        if rest is None or len(reps) < 2:
            return None
        frames = self._s["ep_frames"]
        levels = []
        for a, b in zip(reps[:-1], reps[1:]):
            ups = np.asarray([f[1:4] for f in frames if a["end_s"] <= f[0] <= b["start_s"]])
            if len(ups) < 3:
                return None
            levels.append(np.median(body_rotation_deg(ups, rest), axis=0))
        return np.asarray(levels)

    @staticmethod
    def _pauses_at_rest(reps: list[dict], pauses: np.ndarray | None, offset) -> bool:
        """Whether the pelvis came back to the rest roll between these one-sided reps (a set
        done in blocks, one side's reps then the other's) rather than pausing off it (the rest
        was taken in a hold, see _start_set). ``pauses``: _pause_levels of the reps."""
        if pauses is None:
            return False
        amp = statistics.median(abs(r["rot_mean_deg"][2] - offset[2]) for r in reps)
        return bool(np.all(np.abs(pauses[:, 2] - offset[2]) <= BLOCKED_PAUSE_FRACTION * amp))

    def _reset_roll(self) -> None:
        """The roll detector starts each search for a set from the rest pose."""
        self._roll.reset()
        self._roll.offset = [0.0, 0.0, 0.0]
        self._roll.track_centre = False

    def _rest_is_peak(self, rep: Rep) -> bool:
        """The rest pose was taken at a rep's end position (a set that starts straight after
        getting into position pauses longest at the top): the held pose is then closer to
        the posture's neutral orientation than the supposed rest."""
        s = self._s
        if s["swapped"] or s["posture"] is None:
            return False
        if s["posture"] == "prone" and rep.rot_mean_deg[1] > REST_SWAP_MARGIN_DEG:
            # face down every rep extends (press-up) or tips the pelvis forward-down (bird
            # dog, y < 0): a clear flexion "rep" is lying back down from the top of a
            # press-up, where the rest was taken (a lying pelvis can sit as far below the
            # neutral as the top above it, so the test below cannot tell)
            return True
        neutral = NEUTRAL_UP[s["posture"]]
        d_rest = _angle_deg(self._det.rest, neutral)
        d_hold = _angle_deg(rep.up_hold, neutral)
        return d_rest - d_hold > REST_SWAP_MARGIN_DEG

    def _replay(self, rep: Rep) -> list[Event]:
        """Take the held pose as the rest and re-detect this episode's reps from the buffer."""
        s = self._s
        s["swapped"] = True
        s["cand"] = []
        self._det.set_rest(np.asarray(rep.up_hold))
        ev: list[Event] = []
        for t, x, y, z, still in s["ep_frames"]:
            out = self._det.step(t, np.array([x, y, z]), still, on_deg=self._on_deg())
            if isinstance(out, Rep):
                ev += self._on_rep(t, out)
        return ev

    def _on_deg(self, reps: list[dict] | None = None, roll: bool = False) -> float:
        """Rep threshold: an absolute floor, raised to a fraction of this episode's typical rep."""
        s = self._s
        if reps is None:
            reps = s["set"]["reps_raw"] if s["set"] else s["cand"]
        reps = reps[-5:]
        if roll or self._det.weights != [1.0, 1.0, 1.0]:      # one quiet axis: smaller reps show
            floor, frac = self.cfg.exercise_roll_rep_min_deg, 0.15
            if not roll and self._det.weights[1] > 0.0:
                frac = REP_ON_FRACTION        # the tilt axis carries breathing: as for all axes
            if s["set"] is None:
                floor = max(floor, min(NOISE_K * math.sqrt(s["noise2_roll"]), ROLL_NOISE_MAX_DEG))
        elif s["posture"] == "upright":               # walking and fidgets rock the pelvis
            floor, frac = self.cfg.exercise_upright_rep_min_deg, REP_ON_FRACTION
        else:
            floor, frac = self.cfg.exercise_rep_min_deg, REP_ON_FRACTION
        if s["set"] is None and not roll and self._det.weights == [1.0, 1.0, 1.0]:
            floor = max(floor, min(NOISE_K * math.sqrt(s["noise2"]), NOISE_MAX_DEG))
        if not reps:
            return floor
        return max(floor, frac * statistics.median([r["amplitude_deg"] for r in reps]))

    def _set_rotation(self) -> float:
        """Typical whole-body rotation (all axes) at the held pose of the set's recent reps:
        dead bug tilts the pelvis 2-6 deg besides the counted roll."""
        reps = self._s["set"]["reps_raw"][-5:]
        return statistics.median([math.sqrt(sum(v * v for v in r["rot_mean_deg"])) for r in reps]) \
            if reps else 0.0

    def _set_amp(self) -> float:
        reps = self._s["set"]["reps_raw"][-5:]
        return statistics.median([r["amplitude_deg"] for r in reps]) if reps else 0.0

    def _catch_up(self) -> list[Event]:
        """Run the detector over the frames before the rest pose was taken, from the first
        one near that pose (the end of getting into position)."""
        s = self._s
        frames = s["ep_frames"]
        on = self._on_deg()
        ups = np.asarray([f[1:4] for f in frames])
        near_m = np.linalg.norm(body_rotation_deg(ups, self._det.rest), axis=1) < on
        near = np.flatnonzero(near_m)
        ev: list[Event] = []
        if len(near) == 0:
            return ev
        # Real bodies land past the pose and settle back into it for a second or two after
        # lying down (field recordings: 4-6 deg, 1-2 s). A frame near the rest passed
        # through on the way down (turning at tens of deg/s) is not the start position: the
        # search starts at the first near frame where the body turns no faster than a
        # still one (a rep starts from rest; a fast set's pause between reps still slows
        # to that, where the smoothed stillness need not).
        t_f = np.asarray([f[0] for f in frames])
        speed = np.full(len(frames), np.inf)
        if len(frames) >= 3:
            c = np.clip(np.einsum("ij,ij->i", ups[:-2], ups[2:]), -1.0, 1.0)
            speed[1:-1] = np.degrees(np.arccos(c)) / np.maximum(t_f[2:] - t_f[:-2], FRAME_S)
        settled = np.flatnonzero(near_m & (speed < self.cfg.exercise_hold_still_dps))
        if len(settled):
            near = settled
        s["ep_frames"] = []
        for f in frames[int(near[0]):]:
            t, u, still = f[0], np.asarray(f[1:4]), f[4]
            s["ep_frames"].append(f)
            out = self._det.step(t, u, still, on_deg=self._on_deg())
            if isinstance(out, Rep):
                ev += self._on_rep(t, out)
        return ev

    def _redetect(self, t_from: float) -> list[dict]:
        """Run the detector again over this episode's recent frames from ``t_from``."""
        self._det.reset()
        found: list[dict] = []
        for t, x, y, z, still in self._s["ep_frames"]:
            if t < t_from:
                continue
            out = self._det.step(t, np.array([x, y, z]), still, on_deg=self._on_deg(found))
            if isinstance(out, Rep):
                found.append(out.to_dict())
        return found

    # -- reps and sets ------------------------------------------------------------------
    def _on_rep(self, t: float, rep: Rep) -> list[Event]:
        s = self._s
        r = rep.to_dict()
        ev: list[Event] = []
        if (s["posture"] == "upright" and s["announced"] is None
                and (s["quiet_t"] is None or s["quiet_t"] < r["start_s"] - QUIET_BEFORE_S)):
            # not one quiet moment from just before it to its end: the pelvis rocking of a
            # walk (its beats look like slow, regular 10-degree squats), not a rep
            log.debug("t=%.1f upright excursion without a quiet moment: walking", t)
            return ev
        st = s["set"]
        if st is not None:
            if recognise.fits(st["exercise"], s["posture"], st["reps_raw"], r) or s["announced"]:
                return self._add_rep(t, r)
            ev += self._end_set(t)
        # candidates separated by a long pause are not one set
        if s["cand"] and r["start_s"] - s["cand"][-1]["end_s"] > self.cfg.exercise_set_gap_s:
            s["cand"] = []
        s["cand"].append(r)
        exercise = s["announced"]
        if exercise is None:
            if len(s["cand"]) < self.cfg.exercise_set_min_reps:
                return ev + self._pending(t, r)
            exercise = recognise.recognise(s["posture"], self._det.rest, s["cand"])
            if exercise == "squat" and self._pelvis_stays(t, s["cand"]):
                log.debug("t=%.1f flexion reps that do not lower the pelvis: not squats", t)
                exercise = None
            if exercise is None:
                del s["cand"][0]
                return ev + self._pending(t, r)
        elif exercise in recognise.HOLDS:
            return ev
        return ev + self._start_set(t, exercise, self._consistent(exercise, s["cand"]))

    def _keep_vert(self, fr) -> None:
        """Add a chunk's frames to the vertical-acceleration record. What is dropped is older
        than TRAVEL_LOOK_S + TRAVEL_PAD_S before the chunk's first frame, so every frame of
        the chunk sees at least that much before it, whatever the chunking."""
        if fr.vert_g is None:
            return
        keep = self._vert_t >= fr.t_s[0] - TRAVEL_LOOK_S - TRAVEL_PAD_S
        self._vert_t = np.concatenate([self._vert_t[keep], fr.t_s])
        self._vert_g = np.concatenate([self._vert_g[keep], fr.vert_g])

    def _pelvis_stays(self, t: float, reps: list[dict]) -> bool:
        """Whether the recent reps of an upright run (those within TRAVEL_LOOK_S) moved the
        pelvis up and down less than a squat does, by their median travel (travel.py): a
        seated person reaching forward rep after rep. Only the frames up to ``t`` count."""
        vt, vg = self._vert_t, self._vert_g
        seen = vt <= t
        moves = [travel.excursion_m(vt[seen], vg[seen], r["start_s"] - TRAVEL_PAD_S, r["end_s"] + TRAVEL_PAD_S)
                 for r in reps if r["start_s"] >= t - TRAVEL_LOOK_S]
        moves = [m for m in moves if m is not None]
        return len(moves) >= 2 and statistics.median(moves) < SQUAT_MIN_TRAVEL_M

    def _consistent(self, exercise: str, reps: list[dict]) -> list[dict]:
        """The run's reps that move the way the others do (recognise.same_direction): a
        shift on the mat just before the set (field recordings: a 2.7 deg flexion 10 s
        before 17 deg press-ups) is not its first rep. Not by size: a fast set's first rep,
        measured from a rest pose taken late, can come out a quarter of the others (sim)."""
        if exercise in recognise.AXIS_WEIGHTS or len(reps) < 3:
            return reps
        kept = [r for i, r in enumerate(reps)
                if recognise.same_direction(exercise, reps[:i] + reps[i + 1:], r)]
        return kept if kept else reps

    def _pending(self, t: float, r: dict) -> list[Event]:
        """Early notice of a rep of a set not named yet (``rep_pending``), so a live view can
        count it within a frame of its end. The authoritative ``rep`` events follow when the
        set is named (set_started), as before; a run that never becomes a set is void.
        Both detectors (all axes, roll alone) may see the same movement: one notice each."""
        s = self._s
        if s["set"] is not None or s["announced"] is not None:
            return []
        pend = s["pending"]
        if pend and r["start_s"] - pend[-1][1] > self.cfg.exercise_set_gap_s:
            pend.clear()
            s["pending_n"] = 0
        dur = max(r["end_s"] - r["start_s"], 1e-3)
        if any(min(b, r["end_s"]) - max(a, r["start_s"]) > 0.5 * dur for a, b in pend):
            return []
        pend.append([r["start_s"], r["end_s"]])
        del pend[:-8]
        s["pending_n"] += 1
        return [self._event("rep_pending", t, {
            "exercise": None, "index": s["pending_n"], "start_s": r["start_s"], "end_s": r["end_s"],
            "hold_s": r["hold_s"], "amplitude_deg": r["amplitude_deg"]})]

    def _start_set(self, t: float, exercise: str, reps: list[dict]) -> list[Event]:
        s = self._s
        ev: list[Event] = []
        s["cand"], s["cand_roll"] = [], []
        s["pending"], s["pending_n"] = [], 0
        self._reset_roll()
        weights = recognise.AXIS_WEIGHTS.get(exercise)
        blocked = False
        if weights is not None:
            # count on the exercise's own axis from the set's start (see recognise.AXIS_WEIGHTS)
            self._det.weights = list(weights)
            self._det.min_rep_s = ROLL_MIN_REP_S
            self._det.end_debounce_s = ROLL_END_DEBOUNCE_S
            judged = self._sided(exercise, reps)
            one_side = len({r["rot_mean_deg"][2] > self._det.offset[2] for r in judged}) == 1
            bird_dog_tilt = exercise == "bird_dog" and self._tilt_like_bird_dog(judged, self._det.offset)
            blocked = one_side and (bird_dog_tilt or self._pauses_at_rest(
                judged, self._pause_levels(judged, self._det.rest), self._det.offset))
            if one_side and not blocked:
                # all on one side of the rest and the pauses off it: the rest was taken in a
                # hold (they lifted a limb the moment they were on all fours), so centre on
                # the roll's range instead
                ups = np.asarray([f[1:4] for f in self._s["ep_frames"] if f[0] >= reps[0]["start_s"]])
                if len(ups):
                    z = body_rotation_deg(ups, self._det.rest)[:, 2]
                    self._det.offset = [0.0, 0.0, 0.5 * float(z.min() + z.max())]
            tilted = exercise == "dead_bug" and self._tilt_dominates(reps)
            if tilted:
                # every dead bug rep tilts the pelvis the same way whatever the side; when
                # that tilt is the larger movement (field recordings: 2 deg of posterior
                # tilt, 1 deg of roll), roll alone drowns in sloppy returns: count on both
                self._det.weights = [0.0, 1.0, 1.0]
            found = self._redetect(reps[0]["start_s"] - 1.0) or reps
            reps = self._same_tilt(found, reps) if tilted else found
        self._det.split_sides = weights is not None and exercise in recognise.ALTERNATING and not blocked
        s["set"] = {"exercise": exercise, "start_s": reps[0]["start_s"], "reps_raw": [],
                    "detail": [], "rest": list(self._det.rest), "blocked": blocked}
        if blocked:
            log.debug("t=%.1f %s done in blocks (one side's reps, back to rest between)", t, exercise)
        ev.append(self._event("set_started", reps[0]["start_s"],
                              {"exercise": exercise, "start_s": reps[0]["start_s"]}))
        for rr in reps:
            ev += self._add_rep(t, rr)
        return ev

    def _sided(self, exercise: str, reps: list[dict]) -> list[dict]:
        """The reps of the run that named a roll-counted set that tell its side(s). The run
        (all axes) can hold a blip of the pelvis tipping between two reps with next to no
        roll (wide bodies: 1.5 s, 0.2 deg against the reps' 2.2 deg). Bird dog is counted on
        the roll alone: its reps as the roll sees them. Dead bug may be counted on tilt +
        roll, where a roll-only search misses its 1-degree rolls: the run's own reps. Of
        either, a rep rolling under SIDED_ROLL_FRACTION x the others' median has no side (a
        settle of the pelvis before the set, wide bodies: 0.6 deg against 2-4)."""
        if exercise == "bird_dog":
            saved = self._det.get_state()
            own = self._redetect(reps[0]["start_s"] - 1.0)
            self._det.set_state(saved)
            reps = own if len(own) >= 2 else reps
        rolls = [abs(r["rot_mean_deg"][2] - self._det.offset[2]) for r in reps]
        sided = [r for r, z in zip(reps, rolls) if z >= SIDED_ROLL_FRACTION * statistics.median(rolls)]
        return sided if len(sided) >= 2 else reps

    @staticmethod
    def _same_tilt(reps: list[dict], run: list[dict]) -> list[dict]:
        """The reps that tilt the pelvis the way most of the run that named the set does: a
        held shift the other way just before the set (wide bodies: 1.5-5 deg, 30 % of sets)
        comes back like a rep on the tilt + roll the set is counted on, but is not one."""
        tilt = np.asarray([r["rot_mean_deg"][1] for r in run])
        sign = 1.0 if np.sum(tilt > 0) > np.sum(tilt < 0) else -1.0
        kept = [r for r in reps if r["rot_mean_deg"][1] * sign > 0]
        return kept if kept else reps

    def _tilt_dominates(self, reps: list[dict]) -> bool:
        """Whether these reps tilt the pelvis (body y, one sign for all) clearly more than they
        roll it about the set's roll centre."""
        tilt = np.asarray([r["rot_mean_deg"][1] for r in reps])
        roll = np.asarray([abs(r["rot_mean_deg"][2] - self._det.offset[2]) for r in reps])
        # one rep the other way is allowed once there are a few: a held shift of the pelvis
        # just before the set tilts it the other way and comes back like a rep
        # (recognise.same_direction; wide bodies 30 % of sets)
        n_off = min(int(np.sum(tilt <= 0)), int(np.sum(tilt >= 0)))
        same_sign = n_off == 0 or (len(reps) >= 3 and n_off <= 1)
        if not same_sign:
            return False
        sign = 1.0 if np.sum(tilt > 0) > np.sum(tilt < 0) else -1.0
        keep = tilt * sign > 0
        return float(np.median(np.abs(tilt[keep]))) >= TILT_COUNT_RATIO * float(np.median(roll[keep]))

    def _add_rep(self, t: float, r: dict) -> list[Event]:
        st = self._s["set"]
        # A dead bug counted on tilt + roll is still judged by the side it rolls to, as any
        # alternating set: letting size and tempo alone tell (as for a set in blocks) counted
        # the pelvis settling after reps (dev seeds 3012-3047: 3 sets 1-4 reps over, 1 mended)
        blocked = st.get("blocked", False)
        if not recognise.plausible(st["exercise"], st["reps_raw"], st["detail"], r, self._det.offset,
                                   blocked=blocked):
            log.debug("t=%.1f dropped a %s wobble %s", t, st["exercise"], r)
            if self._merged_reps(st["detail"], r):
                st["seen_to"] = r["end_s"]        # the set is still going (see _expire)
            return []
        missed = None if blocked else self._missed_between(r)
        if (missed is None and not blocked and st["exercise"] == "bird_dog" and st["detail"]
                and recognise.side(st["exercise"], r, self._det.offset) == st["detail"][-1]["side"]):
            if (len(st["detail"]) <= BLOCKS_FOUND_BY_REPS
                    and self._tilt_like_bird_dog([st["reps_raw"][-1], r], self._det.offset)):
                # early in the set and both tip the pelvis as a lifted leg does: the set goes
                # on in blocks (the run that named it held a blip of the return, rolling the
                # other way). Later on, an alternating set's rep after one too small to see.
                log.debug("t=%.1f bird dog goes on in blocks", t)
                st["blocked"] = True
                self._det.split_sides = False
            else:
                # bird dog alternates limbs (guide); a second rep on the same side with no
                # sign of one on the other side between them is the pelvis settling after
                # the set
                log.debug("t=%.1f dropped a second bird dog rep on the %s side", t, st["detail"][-1]["side"])
                return []
        ev = self._count(t, missed) if missed is not None else []
        return ev + self._count(t, r)

    @staticmethod
    def _merged_reps(counted: list[dict], r: dict) -> bool:
        """Whether an excursion a set did not count is rep-sized and as long as two of its
        reps: two reps whose pause the breathing hid (wide bodies: a dead bug straight after
        lying down), once the set has counted a few (a run of settling is no set)."""
        if len(counted) < SEEN_AFTER_REPS:
            return False
        recent = counted[-8:]
        amp = statistics.median(d["amplitude_deg"] for d in recent)
        dur = statistics.median(d["end_s"] - d["start_s"] for d in recent)
        return (r["amplitude_deg"] >= SEEN_REP_FRACTION * amp
                and r["end_s"] - r["start_s"] >= SEEN_MERGED_REPS * dur)

    def _missed_between(self, r: dict) -> dict | None:
        """Bird dog / dead bug alternate sides: two counted reps on the same side with a
        rep-long gap between them had a rep on the other side whose roll was too small to
        see. It still tilts the pelvis like every rep of the set (recognise.TILT_SIGN): if the
        gap's middle shows at least half the set's tilt and some roll to the other side,
        count it (late, but counted)."""
        s = self._s
        st = s["set"]
        ex = st["exercise"]
        if ex not in recognise.TILT_SIGN or not st["detail"] or self._det.rest is None:
            return None
        prev = st["detail"][-1]
        if recognise.side(ex, r, self._det.offset) != prev["side"]:
            return None
        durs = [d["end_s"] - d["start_s"] for d in st["detail"][-8:]]
        gap0, gap1 = prev["end_s"], r["start_s"]
        if len(durs) < 3 or gap1 - gap0 < MISSED_GAP_FRACTION * statistics.median(durs):
            return None
        sign = recognise.tilt_sign(ex, st["reps_raw"])
        tilt_ref = sign * statistics.median([x["rot_mean_deg"][1] for x in st["reps_raw"][-8:]])
        mid0, mid1 = gap0 + 0.2 * (gap1 - gap0), gap1 - 0.2 * (gap1 - gap0)
        ups = np.asarray([f[1:4] for f in s["ep_frames"] if mid0 <= f[0] <= mid1])
        if tilt_ref < recognise.TILT_MIN_DEG or len(ups) < 5:
            return None
        rot = body_rotation_deg(ups, self._det.rest)
        mean = rot.mean(axis=0)
        if sign * mean[1] < MISSED_TILT_FRACTION * tilt_ref:
            return None
        roll = float(mean[2] - self._det.offset[2])
        if (roll > 0) == (r["rot_mean_deg"][2] - self._det.offset[2] > 0):
            # no roll at all to the other side: lying down after the set tilts the pelvis
            # the same way as a rep (counting such gaps changed no result on dev seeds
            # 0-299 but added reps after sets on others)
            return None
        rot_mean = [float(mean[0]), float(mean[1]), round(self._det.offset[2] + roll, 2)]
        log.debug("t=%.1f a %s rep between %.1f and %.1f had too small a roll to see",
                  r["end_s"], ex, gap0, gap1)
        return Rep(start_s=round(gap0, 2), end_s=round(gap1, 2), peak_s=round(0.5 * (gap0 + gap1), 2),
                   hold_s=round(mid1 - mid0, 2), amplitude_deg=round(abs(roll), 2),
                   rot_peak_deg=rot_mean, rot_mean_deg=rot_mean,
                   up_hold=[round(float(v), 5) for v in ups.mean(axis=0)]).to_dict()

    def _count(self, t: float, r: dict) -> list[Event]:
        st = self._s["set"]
        st["reps_raw"].append(r)
        if len(st["reps_raw"]) > 12:   # bounded: the recogniser only looks at recent reps
            del st["reps_raw"][0]
        side = recognise.side(st["exercise"], r, self._det.offset)
        if st["exercise"] in recognise.AXIS_WEIGHTS:
            self._det.offset = self._roll_centre(st, r)
        rep = Rep(**r)
        roll = recognise.roll_deg(st["exercise"], r, self._det.offset)
        flags = form.rep_flags(st["exercise"], rep, roll, self.cfg)
        d = {"start_s": r["start_s"], "end_s": r["end_s"], "hold_s": r["hold_s"],
             "amplitude_deg": r["amplitude_deg"], "side": side, "flags": flags}
        st["detail"].append(d)
        data = {"exercise": st["exercise"], "index": len(st["detail"]), **d}
        return [self._event("rep", t, data)]

    def _roll_centre(self, st: dict, r: dict) -> list[float]:
        """Roll level the pelvis returns to between the reps of an alternating set.

        Between two reps on opposite sides the roll moves from one held level, pauses at
        rest and moves on to the other: the median over that stretch is the pause level
        whatever the reps' sizes (left and right rolls differ by up to 4x within a set, so
        midway between them can sit a degree or more off the rest, where a small rep's hold
        dips under the end level and splits in two, or the last return to rest looks like a
        rep). The median of the last PAUSES_KEPT such levels; until one is seen: midway between
        the two sides' end positions."""
        prev = st["reps_raw"][-2] if len(st["reps_raw"]) >= 2 else None
        off = self._det.offset
        if st.get("blocked"):
            # one side after the other: the pause between two reps is the rest itself
            if prev is None:
                return list(off)
            ups = np.asarray([f[1:4] for f in self._s["ep_frames"] if prev["end_s"] <= f[0] <= r["start_s"]])
            if len(ups) >= 3:
                level = round(float(np.median(body_rotation_deg(ups, self._det.rest)[:, 2])), 3)
                st["pauses_roll_deg"] = st.get("pauses_roll_deg", [])[1 - PAUSES_KEPT:] + [level]
            return [0.0, 0.0, float(np.median(st["pauses_roll_deg"]))] if st.get("pauses_roll_deg") else list(off)
        if (prev is not None and prev.get("held_to_s") is not None and r.get("held_from_s") is not None
                and (prev["rot_mean_deg"][2] - off[2]) * (r["rot_mean_deg"][2] - off[2]) < 0):
            ups = np.asarray([f[1:4] for f in self._s["ep_frames"]
                              if prev["held_to_s"] <= f[0] <= r["held_from_s"]])
            if len(ups) >= 5:
                level = round(float(np.median(body_rotation_deg(ups, self._det.rest)[:, 2])), 3)
                st["pauses_roll_deg"] = st.get("pauses_roll_deg", [])[1 - PAUSES_KEPT:] + [level]
        if st.get("pauses_roll_deg"):
            return [0.0, 0.0, float(np.median(st["pauses_roll_deg"]))]
        return recognise.centre(st["exercise"], st["reps_raw"], off)

    def _end_set(self, t: float) -> list[Event]:
        st = self._s["set"]
        self._s["set"] = None
        self._det.weights = [1.0, 1.0, 1.0]
        self._det.offset = [0.0, 0.0, 0.0]
        self._det.min_rep_s = RepDetector.min_rep_s_default
        self._det.end_debounce_s = 0.0
        self._det.track_centre = False
        self._det.split_sides = False
        self._reset_roll()
        self._s["ep_frames"] = []           # a later rest re-take must not replay this set
        if st is None:
            return []
        det = st["detail"]
        out = {"exercise": st["exercise"], "start_s": st["start_s"], "end_s": det[-1]["end_s"],
               "reps": len(det),
               "reps_left": sum(1 for d in det if d["side"] == "left"),
               "reps_right": sum(1 for d in det if d["side"] == "right"),
               "reps_detail": det}
        self._s["sets"].append(out)
        return [self._event("set_finished", t, copy.deepcopy(out))]

    def _expire(self, t: float) -> list[Event]:
        s = self._s
        gap = self.cfg.exercise_set_gap_s
        if s["set"] is not None and not self._det.active:
            det = s["set"]["detail"]
            set_gap = gap
            if s["set"]["exercise"] in recognise.AXIS_WEIGHTS:
                # a set of long reps counted on a degree-sized roll (bird dog: 10-15 s each)
                # waits out one rep that went unseen (see _missed_between)
                set_gap = max(gap, SET_GAP_REPS * statistics.median(d["end_s"] - d["start_s"] for d in det[-8:]))
            if t - max(det[-1]["end_s"], s["set"].get("seen_to", 0.0)) > set_gap:
                return self._end_set(t)
        if not self._det.active and s["cand"] and t - s["cand"][-1]["end_s"] > gap:
            s["cand"] = []
        return []

    def _end_episode(self, t: float, keep_hold: bool = False) -> list[Event]:
        """``keep_hold``: a hold candidate not confirmed yet goes on (they got down from
        standing straight into a plank: the standing episode ends while they hold it)."""
        s = self._s
        h = s["hold"]
        keep = keep_hold and h is not None and not h["confirmed"]
        ev = self._end_set(t) + ([] if keep else self._end_hold(t))
        self._det.rest = None
        self._det.active = False
        s["cand"], s["still_run"], s["settle_since"], s["posture"] = [], [], None, None
        s["ep_frames"], s["swapped"], s["noise2"] = [], False, 0.0
        s["noise2_roll"], s["cand_roll"] = 0.0, []
        s["pending"], s["pending_n"] = [], 0
        self._reset_roll()
        return ev

    # -- holds --------------------------------------------------------------------------
    def _hold_step(self, t: float, up: np.ndarray, still: bool, trem_g2: float) -> list[Event]:
        s = self._s
        h = s["hold"]
        cfg = self.cfg
        if h is None:
            veto = s.get("hold_veto_up")
            if veto is not None and _angle_cmp(veto, up, HOLD_MAX_TILT_DEG) > 0:
                s["hold_veto_up"] = veto = None     # they left that pose
            if not still or s["set"] is not None or (
                    self._det.active and self._det.excursion_s(t) < 1.0):
                return []
            # effort against the recording's quiet floor tells a plank from lying at the same
            # angle (effort.py; a candidate waits for the floor to be known). Without an
            # effort signal (never: the accelerometer band stands in for a missing gyro) the
            # classic rules: a head-up incline, lifted out of lying
            by_effort = s["announced"] is None and math.isfinite(self._eff2)
            exercise = recognise.hold_exercise(up, s["announced"], by_effort=by_effort)
            if exercise is None or (veto is not None and s["announced"] is None):
                return []
            rest = self._det.rest
            # reps of something else under way (the shaking of a plank makes small "reps"
            # too: effort tells those apart), or a pose a few degrees off lying (or off
            # hands-and-knees, holding a bird dog): not a plank by the classic rules
            classic = (s["announced"] is None and not s["cand"]
                       and recognise.hold_exercise(up, None) is not None
                       and not (rest is not None and recognise.hold_exercise(rest, None) is None
                                and _angle_cmp(rest, up, HOLD_LIFT_DEG) < 0))
            if not by_effort and s["announced"] is None and not classic:
                return []
            s["hold"] = {"exercise": exercise, "start_s": self._arrived_s(t), "up0": up.tolist(),
                         "last_still_s": t, "found_s": t,
                         "confirmed": False, "running_s": 0, "by_effort": by_effort,
                         "classic": classic,
                         "eff": [0.0, 0], "blocks": [], "last_effort_s": t,
                         "meter": HoldMeter(t, up).get_state()}
            return []
        meter = HoldMeter.from_state(h["meter"])
        rot = np.asarray(body_rotation1_deg(up, h["up0"]))
        moved = math.sqrt(float(rot @ rot)) > HOLD_MAX_TILT_DEG
        if still:
            h["last_still_s"] = t
        if moved or t - h["last_still_s"] > HOLD_BREAK_S or classify1(up) == "upright":
            return self._end_hold(min(h["last_still_s"], self._began_leaving_s(h, t)))
        if self._left_hold_pose(t, h):
            return self._end_hold(min(h["last_still_s"], h["last_near_s"]))
        meter.add(t, rot, trem_g2)
        h["meter"] = meter.get_state()
        elapsed = t - h["start_s"]
        if h.get("by_effort") and not self._effort_step(t, h):
            if h["confirmed"]:
                # they let go: lying down from a level plank barely turns the pelvis, but
                # the effort stops (field recordings: from 4-6x to 1-1.5x the floor at once)
                return self._end_hold(min(h["last_still_s"], h["last_effort_s"]))
            # two quiet seconds in a row: lying in that position, not holding it (yet);
            # a hold, if one comes, starts from here
            s["hold"] = None
            ev = self._hold_step(t, up, still, trem_g2)
            if s["hold"] is not None:
                s["hold"]["after_quiet"] = True
            return ev
        # confirmed after exercise_hold_min_s of stillness found (the start is backdated to
        # the arrival; a bird dog's roll needs that long to show, see the veto below)
        found_for = t - h.get("found_s", h["start_s"])
        min_s = cfg.exercise_hold_min_s if s["announced"] else max(cfg.exercise_hold_min_s, PLANK_MIN_S)
        confirming = not h["confirmed"] and found_for >= min_s
        if confirming and h.get("by_effort"):
            if not self._effortful(h) and not (h.get("classic") and not self._s["has_gyro"]):
                return []
            if h.get("after_quiet") and h.get("effort_on_s") is not None:
                # lifted slowly out of lying at that angle: the hold began with the effort
                h["start_s"] = max(h["start_s"], h["effort_on_s"])
                elapsed = t - h["start_s"]
            rose_s = self._effort_rose_s(h)
            if rose_s is not None and rose_s > h.get("found_s", h["start_s"]):
                # no gyro: lying at that angle before it was part of the candidate; the hold
                # began where the effort rose, and must run min_s from there
                h["found_s"] = rose_s
                h["start_s"] = max(h["start_s"], rose_s)
                found_for, elapsed = t - rose_s, t - h["start_s"]
                if found_for < min_s:
                    return []
        # the bird dog check at exercise_hold_min_s (once), later the running limit
        # (not for a candidate lying without effort: the veto would block a plank lifted
        # from that pose later)
        eligible = h["confirmed"] or not h.get("by_effort") or self._effortful(h) or (
            h.get("classic") and not s["has_gyro"])
        first_check = (eligible and not h["confirmed"] and not h.get("swing_checked")
                       and found_for >= cfg.exercise_hold_min_s)
        if first_check:
            h["swing_checked"] = True
        swing_max = PLANK_CONFIRM_ROLL_SWING_DEG if first_check else PLANK_MAX_ROLL_SWING_DEG
        if (eligible and h["exercise"] == "plank" and s["announced"] is None
                and meter.roll_swing_deg() > swing_max):
            # rolling side to side on all fours: a bird dog set, not a plank; no plank
            # from this pose until they leave it, so the set's reps are counted
            log.debug("t=%.1f plank candidate rolled %.1f deg: bird dog", t, meter.roll_swing_deg())
            s["hold_veto_up"] = h["up0"]
            return self._end_hold(h["last_still_s"])
        ev: list[Event] = []
        if confirming:
            h["confirmed"] = True
            ev.append(self._event("hold_started", t, {"exercise": h["exercise"],
                                                      "start_s": round(h["start_s"], 2)}))
        if h["confirmed"] and int(elapsed) > h["running_s"]:
            h["running_s"] = int(elapsed)
            ev.append(self._event("hold_running", t, {"exercise": h["exercise"],
                                                      "elapsed_s": h["running_s"]}))
        return ev

    def _arrived_s(self, t: float) -> float:
        """When they reached the pose now found still: the smoothed stillness lags arrival
        by ~0.5-1 s, so look back over the last frames while they stay within
        HOLD_ARRIVE_DEG of the low-passed pose (a hold runs from reaching the position)."""
        s = self._s
        lp = s.get("hold_up_lp")
        start = t
        if lp is None:
            return t
        for f in reversed(s.get("hold_lp_ring", [])):
            if _angle_cmp(f[1:], lp, HOLD_ARRIVE_DEG) > 0:
                break
            start = f[0]
        return start

    def _left_hold_pose(self, t: float, h: dict) -> bool:
        """Lowering out of a plank to the floor can be slower than "moving" (field and
        simulated rests prone sit a few degrees off the hold): the low-passed direction
        turning HOLD_LEAVE_DEG within HOLD_LEAVE_WINDOW_S ends it (a sag drifts 12 deg over
        a hold at most, ~1.3 deg/s at its fastest), from the last moment it was within
        HOLD_NEAR_DEG of where that turn began (h["last_near_s"])."""
        lp = self._s.get("hold_up_lp")
        if lp is None:
            return False
        ring = h.setdefault("lp_ring", [])
        ring.append([t] + list(lp))
        n_keep = int(round(HOLD_LEAVE_WINDOW_S / FRAME_S)) + 1
        del ring[:-n_keep]
        if _angle_cmp(lp, ring[0][1:], HOLD_LEAVE_DEG) <= 0:
            return False
        h["last_near_s"] = self._began_leaving_s(h, t)
        return True

    @staticmethod
    def _began_leaving_s(h: dict, t: float) -> float:
        """The last frame of the recent ones (h["lp_ring"]) still within HOLD_NEAR_DEG of
        where they were HOLD_LEAVE_WINDOW_S ago: where leaving the pose began."""
        ring = h.get("lp_ring")
        if not ring:
            return t
        out = ring[0][0]
        for f in ring[1:]:
            if _angle_cmp(f[1:], ring[0][1:], HOLD_NEAR_DEG) > 0:
                # the low-passed direction trails the body by about its time constant
                return max(ring[0][0], out - HOLD_STILL_TAU_S)
            out = f[0]
        return out

    def _hold_still(self, t: float, up: np.ndarray) -> bool:
        """Stillness for holds: the tilt speed of the gravity direction low-passed first
        (HOLD_STILL_TAU_S). Holding a plank shakes the trunk at 3-12 Hz (field recordings: a
        frame-to-frame tilt speed of 5-9 deg/s with the gyro's direction, over the 6 deg/s
        that means "moving"), yet the pose stays put; getting into and out of it is a
        turn of tens of deg/s for a second or more, which the low-pass keeps."""
        s = self._s
        lp = s.get("hold_up_lp")
        if lp is None or t - s.get("hold_lp_t", t) > 2.0:
            s["hold_up_lp"], s["hold_lp_t"], s["hold_speed_dps"] = up.tolist(), t, 0.0
            return s["dyn_mg"] < MOVING_DYN_MG
        dt = max(t - s["hold_lp_t"], FRAME_S)
        a = min(1.0, dt / HOLD_STILL_TAU_S)
        x = lp[0] + a * (float(up[0]) - lp[0])
        y = lp[1] + a * (float(up[1]) - lp[1])
        z = lp[2] + a * (float(up[2]) - lp[2])
        n = math.sqrt(x * x + y * y + z * z) or 1.0
        new = [x / n, y / n, z / n]
        c = min(1.0, max(-1.0, new[0] * lp[0] + new[1] * lp[1] + new[2] * lp[2]))
        speed = math.degrees(math.acos(c)) / dt
        s["hold_speed_dps"] += min(1.0, dt / SPEED_TAU_S) * (speed - s["hold_speed_dps"])
        s["hold_up_lp"], s["hold_lp_t"] = new, t
        ring = s.setdefault("hold_lp_ring", [])
        ring.append([t, float(up[0]), float(up[1]), float(up[2])])
        del ring[:-int(round(HOLD_ARRIVE_LOOKBACK_S / FRAME_S))]
        return s["hold_speed_dps"] < self.cfg.exercise_hold_still_dps and s["dyn_mg"] < MOVING_DYN_MG

    def _effort_step(self, t: float, h: dict) -> bool:
        """Add this frame's effort to the candidate's 1 s blocks; False once its last two
        blocks were both as quiet as lying (under EFFORT_RESTART_RATIO x the floor; not
        without a gyro) or, in a running hold, under the level it let go at (_effort_drop).
        Without a gyro the blocks are also logged with their times (_effort_rose_s). Keeps
        the last moment the frame's effort was above that (the hold's end if it stops) and
        the first after the candidate began (its start after a quiet spell)."""
        e = h["eff"]
        floor = self._floor.floor()
        restart = EFFORT_RESTART_RATIO[bool(self._s["has_gyro"])]
        if floor is None:
            lim = None
        elif restart is None:
            lim = h.get("eff_drop")     # no gyro: only a running effortful hold's own drop
        else:
            lim = max(restart * floor, h.get("eff_drop", 0.0))
        if math.isfinite(self._eff2):
            e[0] += self._eff2
            e[1] += 1
            # the frame's own power: a smoothed one would trail the let-go by ~0.5 s
            if lim is not None and self._eff2 >= lim * lim:
                h["last_effort_s"] = t
                if h.get("effort_on_s") is None:
                    h["effort_on_s"] = t
        if e[1] < FRAMES_PER_BLOCK:
            return True
        h["blocks"].append(math.sqrt(e[0] / e[1]))
        del h["blocks"][:-EFFORT_BLOCKS_KEPT]
        if restart is None:
            log_ = h.setdefault("block_log", [])
            log_.append([t, h["blocks"][-1]])
            del log_[:-EFFORT_LOG_KEPT]
        h["eff"] = [0.0, 0]
        if floor is None:
            return True
        quiet = lim is not None and len(h["blocks"]) >= 2 and max(h["blocks"][-2:]) < lim
        if h["confirmed"] and not quiet and len(h["blocks"]) >= 4:
            h["eff_drop"] = self._effort_drop(statistics.median(h["blocks"]), floor)
        return not quiet

    def _effort_drop(self, held: float, floor: float | None) -> float | None:
        """The effort under which a running hold has let go, from its own (median of its
        recent blocks): with a gyro a fraction of it; without, a fraction of its power
        above the floor, and only for a hold that stood clear of the floor (one confirmed
        by the classic rules at 1.2x could read as let go on a chance pair of blocks)."""
        if self._s["has_gyro"]:
            return EFFORT_DROP_FRACTION * held
        if floor is None or held < EFFORT_MIN_RATIO[False] * floor:
            return None
        return math.sqrt(floor * floor + EFFORT_DROP_EXCESS * (held * held - floor * floor))

    def _effort_rose_s(self, h: dict) -> float | None:
        """Without a gyro (``h["block_log"]``): where this candidate's effort rose, the end of
        the last run of blocks under the level it would have to fall to for a hold to have
        let go (_effort_drop of its recent blocks, as _effortful takes them), if that run
        lasted EFFORT_RISE_QUIET_S: lying at the hold's angle before it. A shorter quiet
        start is the hold's own (tremor grows as a plank tires: 1.2x the floor rising to 2x).
        None if there is no such run or the candidate is not clearly effortful."""
        log_ = h.get("block_log")
        if not log_ or not h["blocks"] or not self._effortful(h):
            return None
        lim = self._effort_drop(statistics.median(h["blocks"][1:] or h["blocks"]), self._floor.floor())
        if lim is None:
            return None
        k = len(log_) - 1
        while k >= 0 and log_[k][1] >= lim:
            k -= 1
        run = 0
        while k - run >= 0 and log_[k - run][1] < lim:
            run += 1
        return log_[k][0] if run * BLOCK_S >= EFFORT_RISE_QUIET_S else None

    def _effortful(self, h: dict) -> bool:
        """The candidate's recent blocks stand EFFORT_MIN_RATIO above the quiet floor."""
        blocks = h["blocks"][1:] or h["blocks"]      # the first may carry the way in
        if not blocks or self._floor.floor() is None:
            return False            # the recording's floor not known yet: wait for it
        ratio = statistics.median(blocks) / self._floor.floor()
        return ratio >= EFFORT_MIN_RATIO[bool(self._s["has_gyro"])]

    def _end_hold(self, t: float) -> list[Event]:
        s = self._s
        h = s["hold"]
        s["hold"] = None
        if h is None or not h["confirmed"]:
            return []
        meter = HoldMeter.from_state(h["meter"])
        sway, drift = meter.sway_and_drift_deg()
        t0, t1 = meter.tremor_mg()
        flags = form.hold_flags(drift, t0, t1, meter.quiet_max_s, self.cfg)
        trem = meter.tremor_rms_mg()
        out = {"exercise": h["exercise"], **recognise.hold_variant(h["exercise"], h["up0"]),
               "start_s": round(h["start_s"], 2),
               "end_s": round(t, 2), "duration_s": round(t - h["start_s"], 2),
               "stability": {"sway_deg_rms": round(sway, 3),
                             "tremor_mg_rms": None if trem is None else round(trem, 2),
                             "drift_deg": round(drift, 2)},
               "flags": flags}
        s["holds"].append(out)
        return [self._event("hold_finished", t, copy.deepcopy(out))]

    def _event(self, kind: str, t: float, data: dict) -> Event:
        return Event(kind=kind, t_s=round(float(t), 3), data=data, device_id=self.device_id)


# idle.py mirrors _step with this module's constants: imported once they exist
from spinewise.signal.exercise import idle  # noqa: E402
