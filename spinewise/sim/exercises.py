"""Exercise kinematics of the lower-lumbar / pelvic segment, and the exercise session.

Doses and holds come from the exercise guide (/work/shared/exercise-guide.txt); other ranges from
the body-model brief. Base postures are in the heading frame (see spinewise/sim/plan.py); a rep
moves from the base pose to a peak pose (body-frame rotation ``delta`` and a position offset) in
``up_s``, holds ``hold_s``, returns in ``down_s`` and pauses. Primary angle = ``amplitude_deg``.

exercise         base pose               rep peak (body-frame)                    dose
plank            prone, lifted onto      hold, head-up incline 10-15 deg (knee     knee 15-30 s, forearm 20-60 s
                 forearms (+toes/knees)  plank 20-30); optional sag drift           (guide: Core Stabilization - Plank)
side_plank       lying on a side, hips   hold, trunk inclined 15-25 deg             15-40 s per side
                 lifted
bird_dog         quadruped (trunk        pelvis roll 1-4.5 deg towards the side     10-12 per side, hold 5-10 s
                 ~horizontal)            of the extended leg's hip lifting (fault   (guide: Bird Dog)
                                         "hip_rotation": 6-10 deg), tilt 1-3 deg
dead_bug         supine                  pelvic tilt 2-6 deg + roll 1-3 deg         10 per side, hold 2 s (guide: Dead Bug)
bridge           supine, knees bent      posterior incline 15-40 deg, rise 10-20cm   10-12, hold 2-5 s
prone_press_up   prone                   lumbar extension 8-25 deg (head-up)        10 (guide: prone press-ups)
knee_to_chest    supine                  posterior tilt 8-20 deg + roll 2-5 deg     3 per side, hold 20 s (guide)
spinal_rotation  supine, knees bent      axial roll 20-45 deg to the knees' side    4-6 per side
squat            standing                forward flexion 25-60 deg, descend 30-50cm 8-15

Sides: ``side`` is the side of the moving leg (bird_dog, dead_bug: the extended leg;
knee_to_chest: the pulled knee; spinal_rotation: where the knees drop; side_plank: the side the
person lies on). Bad-form sets (about 1 in 4) are too fast, have short holds, big hip rotation
(bird dog), sag (plank) or shaking, and every affected rep / hold carries the flag.
Flag thresholds are the SignalConfig defaults (too_fast_s, dead_bug_hold_s, bird_dog_hold_s,
hip_rotation_deg, sag_deg, breath_hold_s) and the guide's 20 s knee-to-chest hold.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from spinewise.config import SignalConfig
from spinewise.sim.motion import Envelope, SmoothNoise, Wiggle, rot_x, rot_y, rot_z
from spinewise.sim.plan import PRONE, SUPINE, Z_FLOOR, Z_KNEEL, Z_QUADRUPED, Planner, lying
from spinewise.stream import GRAVITY_M_S2 as G0

EXERCISES = ("knee_to_chest", "spinal_rotation", "dead_bug", "bridge", "prone_press_up", "plank",
             "side_plank", "bird_dog", "squat")
_SIG = SignalConfig()
TOO_FAST_S = _SIG.too_fast_s
SHORT_HOLD_S = {"dead_bug": _SIG.dead_bug_hold_s, "bird_dog": _SIG.bird_dog_hold_s,
                "knee_to_chest": 20.0}   # guide: "hold 20 seconds, repeat 3 times per side"
HIP_ROTATION_DEG = _SIG.hip_rotation_deg
SAG_DEG = _SIG.sag_deg
BREATH_HOLD_S = _SIG.breath_hold_s
SHAKING_MG = 25.0


def _r(x):
    return round(float(x), 3)


# ---- postures on the mat ---------------------------------------------------------------------
def quadruped(pl: Planner) -> Rotation:
    return rot_y(90.0 - pl.person.quadruped_pitch_deg)


def on_all_fours(pl: Planner) -> bool:
    """Hands and knees (not lying prone, which has nearly the same orientation but is lower)."""
    return (pl.rot.inv() * quadruped(pl)).magnitude() < np.radians(20) and pl.pos[2] > Z_FLOOR + 0.2


def kneeling(pl: Planner) -> Rotation:
    return rot_y(pl.person.stand_flexion_deg + 5.0)


def get_down(pl: Planner, to: str) -> None:
    """Standing -> kneel -> hands and knees -> (prone | supine | stay quadruped)."""
    rng = pl.rng
    x = pl.pos[0]
    pl.pose("transition", "get_down",
            [(rng.uniform(1.0, 1.6), pl.standing(rng.uniform(30, 50)), [x + 0.1, 0, -0.2]),
             (rng.uniform(0.8, 1.4), kneeling(pl), [x + 0.2, 0, Z_KNEEL]),
             (rng.uniform(0.8, 1.5), quadruped(pl), [x + 0.25, 0, Z_QUADRUPED])],
            hold_s=rng.uniform(0.5, 1.5), ends_in="exercise" if to == "quadruped" else "lying")
    if to in ("prone", "supine"):
        _to_floor(pl, to)


def _to_floor(pl: Planner, to: str) -> None:
    rng = pl.rng
    x = pl.pos[0]
    frames = [(rng.uniform(1.2, 2.0), PRONE, [x + 0.2, 0, Z_FLOOR])]
    w = pl.wide
    if w is not None and w.random() < 0.7:
        # real bodies land past the pose and settle back (field recordings: 4-6 deg, 1-2 s)
        frames = [(frames[0][0], PRONE * rot_y(w.uniform(2.0, 8.0)), frames[0][2]),
                  (w.uniform(0.6, 2.0), PRONE, None)]
    pl.pose("transition", "lie_down", frames, ends_in="lying")
    if to == "supine":
        roll_over(pl, SUPINE)


def roll_over(pl: Planner, target: Rotation, ends_in: str = "lying") -> None:
    """Roll about the long axis (through lying on a side when turning 180 deg)."""
    rng = pl.rng
    ang = (pl.rot.inv() * target).magnitude()
    frames = []
    if ang > np.radians(120):
        frames.append((rng.uniform(1.0, 1.8), pl.rot * rot_z(90.0), None))
    frames.append((rng.uniform(1.0, 1.8), target, None))
    pl.pose("transition", "roll_over", frames, ends_in=ends_in)


def get_up(pl: Planner) -> None:
    """Floor -> hands and knees -> kneel -> stand."""
    rng = pl.rng
    if (pl.rot.inv() * PRONE).magnitude() > np.radians(30) and not on_all_fours(pl):
        roll_over(pl, PRONE)
    x = pl.pos[0]
    pl.pose("transition", "get_up",
            [(rng.uniform(1.0, 1.8), quadruped(pl), [x, 0, Z_QUADRUPED]),
             (rng.uniform(0.8, 1.4), kneeling(pl), [x - 0.05, 0, Z_KNEEL]),
             (rng.uniform(1.0, 1.6), pl.standing(rng.uniform(20, 40)), [x - 0.05, 0, -0.15]),
             (rng.uniform(0.6, 1.0), pl.standing(), [x - 0.1, 0, 0.0])], ends_in="standing")


def rest(pl: Planner, duration_s: float) -> None:
    """Rest between sets in the current floor / standing posture."""
    cls = "standing" if (pl.rot.inv() * pl.standing()).magnitude() < np.radians(30) else "lying"
    if cls == "lying" and on_all_fours(pl):
        _to_floor(pl, "prone")
    pl.still(cls, "rest", duration_s, sway_deg=0.2 if cls == "lying" else None,
             breath_deg=pl.person.breath_deg * 1.5, pos_sway_m=0.001)


# ---- generic rep set -------------------------------------------------------------------------
def _fault(pl: Planner, options: list[str]) -> str | None:
    # always draw both numbers so the rate does not shift the rest of the plan
    pick, roll = str(pl.rng.choice(options)), pl.rng.random()
    return pick if roll < pl.bad_form_rate else None


def rep_set(pl: Planner, exercise: str, sides: list[str | None], peak, hold_range: tuple[float, float],
            fault: str | None, tempo_scale: float = 1.0, pause_range=(0.8, 2.0),
            tremor_scale: float = 0.5, **set_info) -> dict:
    """One set of reps as one exercise segment. ``peak(side, rng) -> (delta_rot, dpos, info)``
    where info has at least ``amplitude_deg``."""
    rng, p = pl.rng, pl.person
    wide = WideReps(pl.wide) if pl.wide is not None else None
    if wide is not None:
        wide.shift_before(pl, exercise, peak, sides)
    base_rot, base_pos = pl.rot, pl.pos.copy()
    frames, reps, t = [], [], 0.0
    hold_min = SHORT_HOLD_S.get(exercise)
    ret_rot = base_rot
    for i, side in enumerate(sides):
        delta, dpos, info = peak(side, rng)
        if fault == "too_fast":
            up, down = rng.uniform(0.35, 0.75, 2)
        else:
            up, down = np.maximum(1.1, p.tempo_s * tempo_scale * rng.uniform(0.8, 1.2, 2))
        hold = rng.uniform(*hold_range) * p.hold_habit
        if wide is not None:
            up, down, hold = wide.phases(up, down, hold, fault)
            ret_rot = base_rot * wide.sloppy_return()
        if hold_min is not None:
            hold = max(hold, hold_min + 0.3)
            if fault == "short_hold":
                hold = hold_min * rng.uniform(0.2, 0.6)
        if fault == "too_fast" and hold_min is None:
            hold = min(hold, 0.3)
        peak_rot = base_rot * delta
        peak_pos = base_pos + dpos
        rep_start = t
        frames += [(up, peak_rot, peak_pos), (hold, peak_rot, peak_pos), (down, ret_rot, base_pos)]
        t += up + hold + down
        flags = []
        if up + hold + down < TOO_FAST_S:     # the whole rep, as the detector judges it
            flags.append("too_fast")
        if hold_min is not None and hold < hold_min:
            flags.append("short_hold")
        if exercise == "bird_dog" and info.get("roll_deg", 0) > HIP_ROTATION_DEG:
            flags.append("hip_rotation")
        if fault == "shaking":
            flags.append("shaking")
        reps.append({"start_s": rep_start, "end_s": t, "hold_s": _r(hold),
                     **({"y_sign": float(np.sign(delta.as_rotvec()[1]))} if wide is not None else {}),
                     "amplitude_deg": _r(info.pop("amplitude_deg")), "side": side, "flags": flags,
                     "up_s": _r(up), "down_s": _r(down), **{k: _r(v) for k, v in info.items()}})
        if i < len(sides) - 1:
            pause = rng.uniform(*pause_range)
            if wide is not None:
                pause = wide.pause(pause)
            frames.append((pause, ret_rot, base_pos))
            t += pause
    duration = t
    wobble = (1.0, 1.0) if wide is None else wide.wobble()
    wig = pl.still_wiggles(duration, p.sway_deg * 0.4 * wobble[0], p.breath_deg * 1.5 * wobble[1],
                           breath_hz=p.breath_hz * 1.4, ramp_s=0.5)
    tremor_mg = p.tremor_mg * tremor_scale * (4.0 if fault == "shaking" else 1.0)
    if fault == "shaking":
        tremor_mg = max(tremor_mg, rng.uniform(30, 50))
    wig += _tremor(pl, duration, tremor_mg, tremor_mg * (1 + 0.3 * p.fatigue))
    seg = pl.pose("exercise", exercise, frames, wiggles=wig)
    t0 = seg.start_s
    for r in reps:
        r["start_s"] = _r(r["start_s"] + t0)
        r["end_s"] = _r(r["end_s"] + t0)
    entry = {"exercise": exercise, "start_s": _r(t0), "end_s": _r(seg.end_s), "reps": len(reps),
             "reps_left": sum(r["side"] == "left" for r in reps),
             "reps_right": sum(r["side"] == "right" for r in reps),
             "variant": set_info.pop("variant", None), "fault": fault,
             "flags": sorted({f for r in reps for f in r["flags"]}), **set_info, "reps_detail": reps}
    pl.sets.append(entry)
    if wide is not None:
        wide.shift_after(pl, exercise, float(np.sign(np.median([r.pop("y_sign") for r in reps]))))
    return entry


class WideReps:
    """How real, varied bodies do a rep set (simulate(bodies="wide")), with priors wider than
    what the field recordings showed (tempo x0.55 for a hurried exerciser, holds at the end
    position up to ~4 s, 2.5-4.5 deg shifts of the pelvis before and after a set, posterior-
    tilt dead bugs, rolls of 1 deg). Draws come from the planner's ``wide`` stream only."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.tempo = rng.uniform(0.5, 1.6)          # this set's tempo (x the person's)

    def phases(self, up: float, down: float, hold: float, fault: str | None):
        """Each phase its own speed (x0.5-1.6) and an end hold of up to 5 s for some people."""
        u = self.rng.uniform
        if fault != "too_fast":
            up = max(0.5, up * self.tempo * u(0.7, 1.3))
            down = max(0.5, down * self.tempo * u(0.7, 1.3))
            hold = hold * u(0.5, 1.5) + (u(0.0, 5.0) if self.rng.random() < 0.3 else 0.0)
        return up, down, hold

    def pause(self, pause: float) -> float:
        return pause * self.rng.uniform(0.4, 2.5)

    def sloppy_return(self) -> Rotation:
        """The pelvis comes back to within a degree or so of the start, not onto it."""
        e = self.rng.normal(0.0, 0.5, 3)
        return rot_x(e[0]) * rot_y(e[1]) * rot_z(e[2])

    def wobble(self) -> tuple[float, float]:
        """Sway and breathing rocking during the set, x the classic body's (field recordings
        rocked no more than the classic body, +-0.3-0.5 deg between reps)."""
        return self.rng.uniform(1.0, 1.5), self.rng.uniform(1.0, 1.5)

    def _shift(self, pl: Planner, exercise: str, sign_y: float, where: str) -> None:
        """A held shift of the pelvis on the mat, the other way from the set's reps."""
        w = self.rng
        if exercise == "squat" or sign_y == 0.0:
            return
        a = -sign_y * w.uniform(1.5, 5.0)
        base_rot, base_pos = pl.rot, pl.pos.copy()
        pl.pose("transition", f"shift_{where}",
                [(w.uniform(0.6, 1.5), base_rot * rot_y(a) * rot_z(w.normal(0.0, 1.0)), base_pos),
                 (w.uniform(1.0, 6.0), base_rot * rot_y(a), base_pos),
                 (w.uniform(0.6, 1.5), base_rot, base_pos)], ends_in="lying")
        pl.still("lying", "rest", w.uniform(1.0, 8.0), sway_deg=0.2)

    def shift_before(self, pl: Planner, exercise: str, peak, sides) -> None:
        if self.rng.random() < 0.3:
            self._shift(pl, exercise, _y_sign(peak, sides, self.rng), "before")

    def shift_after(self, pl: Planner, exercise: str, sign_y: float) -> None:
        if self.rng.random() < 0.4:
            self._shift(pl, exercise, sign_y, "after")


def _y_sign(peak, sides, rng) -> float:
    """Sign of the set's pelvic tilt (body y) at the end position, from a trial peak."""
    delta, _, _ = peak(sides[0], np.random.default_rng(rng.integers(1 << 31)))
    return float(np.sign(delta.as_rotvec()[1]))


def _tremor(pl: Planner, duration_s: float, start_mg: float, end_mg: float,
            start_s: float = 0.0, end_s: float | None = None) -> list[Wiggle]:
    """8-12 Hz physiological tremor: a position oscillation whose acceleration has the given RMS
    (vector magnitude, mg) before the sensor's anti-alias filter."""
    end_s = duration_s if end_s is None else end_s
    f = pl.person.tremor_hz
    w2 = (2 * np.pi * f) ** 2
    env = Envelope.window(start_s, end_s, 0.5, value=start_mg * 1e-3 * G0 / w2,
                          end_value=end_mg * 1e-3 * G0 / w2)
    noise = SmoothNoise(pl.rng, f * 0.9, f * 1.1, n_terms=4)
    ang = Envelope.window(start_s, end_s, 0.5, value=start_mg / 20.0, end_value=end_mg / 20.0)
    axes = np.array([0.6, 0.6, 1.0])
    return [Wiggle("pos", noise, axes / np.linalg.norm(axes), env),
            Wiggle("rot", SmoothNoise(pl.rng, f * 0.9, f * 1.1, n_terms=4), np.radians([0.01, 0.01, 0.01]), ang)]


def _alternating(n_per_side: int, rng, first: str | None = None) -> list[str]:
    first = first or str(rng.choice(["left", "right"]))
    other = "right" if first == "left" else "left"
    return [first if i % 2 == 0 else other for i in range(2 * n_per_side)]


def _order(pl: Planner, sides: list[str]) -> list[str]:
    """Wide bodies do some bird dog / dead bug sets in blocks: one side's reps, then the other's
    (guide: "10-12 repetitions per side")."""
    if pl.wide is None or pl.wide.random() >= 0.3:
        return sides
    return sorted(sides, key=lambda x: x != sides[0])


def _amp(pl: Planner, lo: float, hi: float, wide_lo: float, wide_hi: float) -> float:
    """A set's amplitude: the classic range, or the wide bodies' wider one."""
    return pl.rng.uniform(lo, hi) if pl.wide is None else pl.wide.uniform(wide_lo, wide_hi)


def _n(pl: Planner, lo: int, hi: int, scale: float) -> int:
    return max(1, int(round(pl.rng.integers(lo, hi + 1) * scale)))


# ---- the exercises ---------------------------------------------------------------------------
def bird_dog(pl: Planner, scale: float) -> None:
    fault = _fault(pl, ["hip_rotation", "short_hold", "too_fast", "shaking"])

    def peak(side, rng):
        roll = rng.uniform(6.0, 10.0) if fault == "hip_rotation" else rng.uniform(1.0, 4.5)
        tilt = rng.uniform(1.0, 3.0)
        s = 1.0 if side == "left" else -1.0
        return (rot_z(s * roll) * rot_y(-tilt), np.array([0.0, -s * 0.015, 0.01]),
                {"amplitude_deg": roll, "roll_deg": roll, "tilt_deg": tilt})
    rep_set(pl, "bird_dog", _order(pl, _alternating(_n(pl, 10, 12, scale), pl.rng)), peak, (5.0, 9.0),
            fault, tremor_scale=0.8)


def dead_bug(pl: Planner, scale: float) -> None:
    fault = _fault(pl, ["short_hold", "too_fast"])

    # wide bodies: as the guide says ("press your lower back gently into the floor") the
    # pelvis may tilt back instead of arching (field recordings: posterior 2-6 deg, rolls of
    # 1 deg); drawn once per set, rolls down to 0.8 deg
    tilt_sign = 1.0 if pl.wide is None or pl.wide.random() < 0.5 else -1.0
    roll_lo = 1.0 if pl.wide is None else 0.8

    def peak(side, rng):
        tilt, roll = rng.uniform(2.0, 6.0), rng.uniform(roll_lo, 3.0)
        s = 1.0 if side == "left" else -1.0
        return (rot_y(tilt_sign * tilt) * rot_z(-s * roll), np.zeros(3),
                {"amplitude_deg": tilt, "tilt_deg": tilt_sign * tilt, "roll_deg": roll})
    rep_set(pl, "dead_bug", _order(pl, _alternating(_n(pl, 10, 10, scale), pl.rng)), peak, (2.0, 3.0),
            fault)


def bridge(pl: Planner, scale: float) -> None:
    fault = _fault(pl, ["too_fast", "shaking"])
    amp0 = _amp(pl, 15.0, 40.0, 10.0, 45.0)

    def peak(side, rng):
        a = amp0 * rng.uniform(0.9, 1.08)
        return rot_y(-a), np.array([-0.03, 0.0, rng.uniform(0.10, 0.20)]), {"amplitude_deg": a}
    rep_set(pl, "bridge", [None] * _n(pl, 10, 12, scale), peak, (2.0, 5.0), fault, tremor_scale=0.8)


def prone_press_up(pl: Planner, scale: float) -> None:
    fault = _fault(pl, ["too_fast"])
    amp0 = _amp(pl, 8.0, 25.0, 5.0, 30.0)

    def peak(side, rng):
        a = amp0 * rng.uniform(0.85, 1.1)   # partial range first reps is typical; keep it simple
        return rot_y(-a), np.array([0.0, 0.0, 0.03]), {"amplitude_deg": a}
    rep_set(pl, "prone_press_up", [None] * _n(pl, 10, 10, scale), peak, (0.5, 2.0), fault)


def knee_to_chest(pl: Planner, scale: float) -> None:
    fault = _fault(pl, ["short_hold"])

    def peak(side, rng):
        tilt, roll = rng.uniform(8.0, 20.0), rng.uniform(2.0, 5.0)
        s = 1.0 if side == "left" else -1.0
        return (rot_y(-tilt) * rot_z(-s * roll), np.array([0.0, 0.0, 0.02]),
                {"amplitude_deg": tilt, "tilt_deg": tilt, "roll_deg": roll})
    first = str(pl.rng.choice(["left", "right"]))
    n = _n(pl, 3, 3, scale)
    sides = [first] * n + ["right" if first == "left" else "left"] * n   # 3 one side, then the other
    rep_set(pl, "knee_to_chest", sides, peak, (20.0, 24.0), fault, pause_range=(2.0, 5.0),
            tremor_scale=0.2)


def spinal_rotation(pl: Planner, scale: float) -> None:
    fault = _fault(pl, ["too_fast"])
    amp0 = _amp(pl, 20.0, 45.0, 12.0, 50.0)

    def peak(side, rng):
        a = amp0 * rng.uniform(0.85, 1.1)
        s = 1.0 if side == "left" else -1.0
        # knees drop to the right -> pelvis rolls towards lying on the right side (supine frame)
        return rot_z(s * a), np.array([0.0, 0.0, 0.02]), {"amplitude_deg": a}
    rep_set(pl, "spinal_rotation", _alternating(_n(pl, 4, 6, scale), pl.rng), peak, (0.0, 3.0), fault,
            pause_range=(0.3, 1.5), tremor_scale=0.1)


def squat(pl: Planner, scale: float) -> None:
    fault = _fault(pl, ["too_fast", "shaking"])
    amp0 = _amp(pl, 25.0, 60.0, 15.0, 70.0)
    depth0 = pl.rng.uniform(0.30, 0.50)

    def peak(side, rng):
        a = amp0 * rng.uniform(0.9, 1.08)
        return rot_y(a), np.array([-0.12, 0.0, -depth0 * rng.uniform(0.9, 1.05)]), {"amplitude_deg": a}
    rep_set(pl, "squat", [None] * _n(pl, 8, 15, scale), peak, (0.0, 1.0), fault, tempo_scale=0.9,
            pause_range=(0.3, 1.5), tremor_scale=0.3)


# Plank and side plank as other people do them (field recordings, docs/exercise.md "Holds"):
# the pelvis from level (0-5 deg) to sagging below it and up to ~18 deg, side planks -3..+4;
# most get into position straight from standing or kneeling, others lift out of lying prone
# and rest prone between holds, at an angle a few degrees off the hold's. Holding shakes the
# trunk with fast small corrections: 3-12 Hz gyro RMS 1.3-4.3 deg/s in field holds. Priors
# are drawn wider than that.
PLANK_ELEVATION_DEG = (-6.0, 22.0)        # at the hold, sag included
SIDE_PLANK_ELEVATION_DEG = (-6.0, 25.0)
PRONE_REST_TILT_DEG = (-3.0, 8.0)         # head-up tilt of a prone rest between holds
EFFORT_DPS = (0.8, 8.0)                   # person's 3-12 Hz gyro RMS while holding (log-uniform)
EFFORT_BAND_HZ = (3.0, 12.0)
PLANK_ENTRIES = ("lift", "stand", "kneel")  # lift out of lying / get down into it from standing, kneeling


def _effort_dps(pl: Planner, hr: np.random.Generator) -> float:
    """This person's effort shaking (drawn at their first hold, kept for the session)."""
    e = getattr(pl, "plank_effort_dps", None)
    if e is None:
        e = float(np.exp(hr.uniform(*np.log(EFFORT_DPS))))
        pl.plank_effort_dps = e
    return e


def _effort(hr: np.random.Generator, start_s: float, end_s: float, dps0: float, dps1: float) -> Wiggle:
    """Rotational 3-12 Hz shaking whose angular-rate RMS (vector) goes from dps0 to dps1."""
    lo, hi = EFFORT_BAND_HZ
    f_rms = np.sqrt((hi ** 3 - lo ** 3) / (3.0 * (hi - lo)))     # RMS frequency of the band
    k = np.radians(1.0) / (2.0 * np.pi * f_rms) / np.sqrt(3.0)   # rad per (deg/s) per axis
    return Wiggle("rot", SmoothNoise(hr, lo, hi, n_terms=12), np.full(3, k),
                  Envelope.window(start_s, end_s, 0.3, value=dps0, end_value=dps1))


def plank_hold(pl: Planner, variant: str, side: str | None = None, hold_s: float | None = None,
               entry: str = "lift") -> None:
    """Get into the plank (``entry``: lift out of lying, or down from standing / kneeling), hold
    (sway, breathing, effort shaking, rising tremor, optional sag / breath hold), lower to lying
    (prone: at a head-up tilt of PRONE_REST_TILT_DEG)."""
    rng, p = pl.rng, pl.person
    fault = _fault(pl, ["sag", "shaking", "breath_hold"])
    hr = np.random.default_rng(int(rng.integers(2 ** 62)))    # this hold's own draws
    sag = hr.uniform(6.0, 12.0) if fault == "sag" else hr.uniform(0.0, 2.5)
    x = pl.pos[0]
    if variant in ("forearm", "knee"):
        exercise = "plank"
        # elevation at the hold (the sag tips the pelvis's head end further up, see below)
        elev = hr.uniform(PLANK_ELEVATION_DEG[0], PLANK_ELEVATION_DEG[1] - sag)
        level = PRONE
        up_rot = level * rot_y(-elev)
        sag_rot = up_rot * rot_y(-sag)    # hips drop: the segment's head end rises further
        rise = 0.14 if variant == "forearm" else 0.10
        lower_rot = level * rot_y(-hr.uniform(*PRONE_REST_TILT_DEG))
        if hold_s is None:   # guide (Plank): knee 15-30 s, full plank once 45 s on knees, up to 60 s
            hold_s = hr.uniform(12, 45) if variant == "knee" else hr.uniform(15, 75)
    else:
        exercise = "side_plank"
        s = 1.0 if side == "right" else -1.0
        elev = hr.uniform(SIDE_PLANK_ELEVATION_DEG[0] + sag, SIDE_PLANK_ELEVATION_DEG[1])
        level = lying(90.0 if side == "right" else -90.0)
        up_rot = level * rot_x(-s * elev)
        sag_rot = up_rot * rot_x(s * sag)  # side plank: hips drop back toward the floor
        rise = 0.16
        lower_rot = level
        hold_s = hr.uniform(12, 45) if hold_s is None else hold_s
    frames = []
    if entry in ("stand", "kneel"):
        # straight down into position: from standing through kneeling, or from kneeling
        if entry == "stand":
            frames.append((hr.uniform(0.8, 1.4), kneeling(pl), [x + 0.15, 0, Z_KNEEL]))
        lift = hr.uniform(1.2, 2.5)
        floor_pos = np.array([x + 0.3, 0.0, Z_FLOOR])
    else:
        lift = hr.uniform(1.0, 2.0)
        floor_pos = pl.pos.copy()
    lower = hr.uniform(1.0, 2.0)
    up_pos = floor_pos + [0.0, 0.0, rise]
    sag_pos = up_pos - [0.0, 0.0, 0.01 * sag]
    t_a = sum(f[0] for f in frames) + lift
    t_b = t_a + hold_s
    frames += [(lift, up_rot, up_pos), (hold_s, sag_rot, sag_pos), (lower, lower_rot, floor_pos)]
    duration = t_b + lower
    tremor0 = p.tremor_mg * hr.uniform(0.8, 1.2)
    tremor1 = tremor0 * (1.0 + p.fatigue * hr.uniform(0.8, 2.0) * min(1.0, hold_s / 30.0))
    if fault == "shaking":
        tremor1 = max(tremor1 * 3.0, hr.uniform(30, 50))
    effort0 = _effort_dps(pl, hr) * hr.uniform(0.8, 1.25)
    effort1 = effort0 * (1.0 + hr.uniform(0.0, 0.8) * min(1.0, hold_s / 30.0))   # tiring
    breath_hold = 0.0
    wig = [Wiggle("rot", SmoothNoise(hr, 0.05, 0.8), np.radians([0.4, 0.6, 0.3]) * p.sway_deg,
                  Envelope.window(t_a - 0.3, t_b + 0.3, 1.0))]
    bh = p.breath_hz * 1.3
    breath = SmoothNoise(hr, bh * 0.93, bh * 1.07, n_terms=3)
    gains = np.radians([0.3, 0.8, 0.0]) * p.breath_deg
    if fault == "breath_hold" and hold_s > 25:
        breath_hold = hr.uniform(10.0, min(20.0, hold_s - 10))
        bh0 = t_a + hr.uniform(3.0, hold_s - breath_hold - 3.0)
        env = Envelope(np.array([0, 0.5, bh0, bh0 + 1.0, bh0 + breath_hold - 1.0, bh0 + breath_hold,
                                 duration - 0.5, duration]), np.array([0, 1, 1, 0, 0, 1, 1, 0.0]))
    else:
        env = Envelope.window(0.0, duration, 0.5)
    wig.append(Wiggle("rot", breath, gains, env))
    wig += _tremor(pl, duration, tremor0, tremor1, start_s=t_a - 0.2, end_s=t_b + 0.2)
    wig.append(_effort(hr, t_a - 0.2, t_b + 0.2, effort0, effort1))
    seg = pl.pose("exercise", exercise, frames, wiggles=wig)
    flags = []
    if sag > SAG_DEG:
        flags.append("sag")
    if tremor1 > SHAKING_MG:
        flags.append("shaking")
    if breath_hold >= BREATH_HOLD_S:
        flags.append("breath_hold")
    pl.holds.append({"exercise": exercise, "start_s": _r(seg.start_s + t_a), "end_s": _r(seg.start_s + t_b),
                     "duration_s": _r(hold_s), "variant": variant if exercise == "plank" else "forearm",
                     "side": side, "incline_deg": _r(elev), "sag_deg": _r(sag), "entry": entry,
                     "effort_dps": [_r(effort0), _r(effort1)],
                     "tremor_mg_start": _r(tremor0), "tremor_mg_end": _r(tremor1),
                     "tremor_rising": bool(tremor1 > 1.3 * tremor0), "breath_hold_s": _r(breath_hold),
                     "fault": fault, "flags": flags,
                     "set_start_s": _r(seg.start_s), "set_end_s": _r(seg.end_s)})


def _to_hold_entry(pl: Planner, entry: str) -> None:
    """Where a hold's ``entry`` starts: standing, or kneeling upright (from the floor: up
    through hands and knees)."""
    standing = (pl.rot.inv() * pl.standing()).magnitude() < np.radians(30)
    if entry == "stand" and not standing:
        get_up(pl)
        pl.still("standing", "rest", pl.rng.uniform(2, 8))
    elif entry == "kneel":
        rng = pl.rng
        if standing:
            pl.pose("transition", "kneel_down",
                    [(rng.uniform(1.0, 1.6), pl.standing(rng.uniform(30, 50)), [pl.pos[0] + 0.1, 0, -0.2]),
                     (rng.uniform(0.8, 1.4), kneeling(pl), [pl.pos[0] + 0.2, 0, Z_KNEEL])],
                    hold_s=rng.uniform(1, 4), ends_in="exercise")
        else:
            if (pl.rot.inv() * PRONE).magnitude() > np.radians(30) and not on_all_fours(pl):
                roll_over(pl, PRONE)
            pl.pose("transition", "to_kneeling",
                    [(rng.uniform(1.0, 1.8), quadruped(pl), [pl.pos[0], 0, Z_QUADRUPED]),
                     (rng.uniform(0.8, 1.4), kneeling(pl), [pl.pos[0] - 0.05, 0, Z_KNEEL])],
                    hold_s=rng.uniform(1, 4), ends_in="exercise")


# ---- the session -----------------------------------------------------------------------------
def _floor_pose(pl: Planner, target: Rotation) -> None:
    """Move on the floor to the given lying posture (roll over / from quadruped)."""
    if on_all_fours(pl):
        _to_floor(pl, "prone")
    if (pl.rot.inv() * target).magnitude() > np.radians(5):
        roll_over(pl, target)


def exercise_session(pl: Planner, exercises: list[str], sets_scale: float = 1.0) -> None:
    """The routine, ordered to flow on the mat: supine, prone, sides, quadruped, standing."""
    unknown = [e for e in exercises if e not in EXERCISES]
    if unknown:
        raise ValueError(f"unknown exercise(s) {unknown}: choose from {', '.join(EXERCISES)}")
    rng = pl.rng
    sets_scale *= pl.dose_scale
    todo = [e for e in EXERCISES if e in exercises]
    # posture groups in a flowing order; the order within a group varies per seed
    supine = [e for e in ("knee_to_chest", "spinal_rotation", "dead_bug", "bridge") if e in todo]
    prone = [e for e in ("prone_press_up", "plank") if e in todo]
    rng.shuffle(supine)
    rng.shuffle(prone)
    floor = supine + prone + [e for e in ("side_plank", "bird_dog") if e in todo]

    def rest_s():
        return rng.uniform(15, 45)

    n_sets = max(1, int(pl.sets_per_exercise))

    def _plank(pl: Planner, variant: str, side: str | None = None) -> None:
        entry = str(rng.choice(PLANK_ENTRIES))
        if entry == "lift":
            _floor_pose(pl, PRONE if side is None else lying(90.0 if side == "right" else -90.0))
        else:
            _to_hold_entry(pl, entry)
        plank_hold(pl, variant, side=side, entry=entry)

    def one_set(e: str, k: int) -> None:
        if e in ("knee_to_chest", "spinal_rotation", "dead_bug", "bridge"):
            _floor_pose(pl, SUPINE)
            {"knee_to_chest": knee_to_chest, "spinal_rotation": spinal_rotation,
             "dead_bug": dead_bug, "bridge": bridge}[e](pl, sets_scale)
        elif e == "prone_press_up":
            _floor_pose(pl, PRONE)
            prone_press_up(pl, sets_scale)
        elif e == "plank":
            # guide: start with the modified plank on knees, progress to the full plank
            if k == 0:
                _plank(pl, "knee")
                rest(pl, rest_s())
            _plank(pl, "forearm")
        elif e == "side_plank":
            first = str(rng.choice(["left", "right"]))
            for i, side in enumerate((first, "right" if first == "left" else "left")):
                _plank(pl, "side", side=side)
                if i == 0:
                    rest(pl, rng.uniform(8, 20))
        elif e == "bird_dog":
            if not on_all_fours(pl):
                if (pl.rot.inv() * PRONE).magnitude() > np.radians(5):
                    roll_over(pl, PRONE)
                pl.pose("transition", "to_quadruped", [(rng.uniform(1.2, 2.0), quadruped(pl),
                                                        [pl.pos[0], 0, Z_QUADRUPED])],
                        hold_s=rng.uniform(1, 3), ends_in="exercise")
            bird_dog(pl, sets_scale)
        elif e == "squat":
            squat(pl, sets_scale)

    if floor:
        first = floor[0]
        get_down(pl, "quadruped" if first == "bird_dog" else
                 "supine" if first in ("knee_to_chest", "spinal_rotation", "dead_bug", "bridge") else "prone")
        rest(pl, rng.uniform(3, 10))
    for e in floor:
        for k in range(n_sets):
            one_set(e, k)
            rest(pl, rest_s())
    if floor:
        get_up(pl)
        pl.still("standing", "rest", rng.uniform(5, 20))
    if "squat" in todo:
        for k in range(n_sets):
            one_set("squat", k)
            pl.still("standing", "rest", rng.uniform(5, 15) if k == n_sets - 1 else rest_s())
