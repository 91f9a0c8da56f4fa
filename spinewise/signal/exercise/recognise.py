"""Name an exercise from the rest posture and how the pelvis moves in its reps.

Body rotation components (posture.body_rotation_deg): x = bend to the right, y = flexion
(+ forward / anterior tilt, - extension / posterior tilt), z = axial roll (+ towards the
right side when face down). The sensor sits on the pelvis, so each exercise has a signature:

- squat           upright rest, forward flexion reps
- bridge          supine, pelvis tilts posteriorly as the hips lift, short holds
- knee_to_chest   supine, posterior tilt held long (guide: "hold 20 seconds"), alternating
- dead_bug        supine, small alternating roll / tilt, ~2 s holds
- spinal_rotation supine, large alternating axial roll (knees dropping side to side)
- prone_press_up  prone, extension reps (pelvis stays down, lumbar extends)
- bird_dog        quadruped (prone, trunk level), small alternating roll, long holds
- plank / side_plank: holds, not reps: prone / side with the trunk inclined head-up
  (forearms 10-15 deg, on knees 20-30 deg) and still.
"""
from __future__ import annotations

import math

import numpy as np

from spinewise.signal.exercise.posture import PRONE, SIDE_LEFT, SIDE_RIGHT, SUPINE, UPRIGHT, classify1

EXERCISES = ("plank", "side_plank", "bird_dog", "dead_bug", "bridge", "prone_press_up",
             "knee_to_chest", "spinal_rotation", "squat")
HOLDS = ("plank", "side_plank")
ALTERNATING = ("bird_dog", "dead_bug", "knee_to_chest", "spinal_rotation")
POSTURE_OF = {"squat": UPRIGHT, "bridge": SUPINE, "knee_to_chest": SUPINE, "dead_bug": SUPINE,
              "spinal_rotation": SUPINE, "prone_press_up": PRONE, "bird_dog": PRONE}

# Bird dog and dead bug move the pelvis a few degrees, while breathing rocks it in pitch by
# about as much: once recognised, their reps are counted on the roll (body z) alone.
AXIS_WEIGHTS = {"bird_dog": (0.0, 0.0, 1.0), "dead_bug": (0.0, 0.0, 1.0)}
# Side of the moving leg from the sign of the roll at the end position (+1: positive = left).
ROLL_SIGN_LEFT = {"bird_dog": 1.0, "spinal_rotation": 1.0, "dead_bug": -1.0, "knee_to_chest": -1.0}

# Dead bug reps smaller than these fractions of the set's median amplitude (any side / the
# side just held) are wobble; on the dev seeds real ones stay above ~0.35 x the median.
WOBBLE_FRACTION = 0.3
WOBBLE_SAME_SIDE = 0.5
BIRD_DOG_MIN_FRACTION = 0.25

# Sign of the pelvic tilt (body y) every rep of these shows, and how clear the set's tilt
# must be before a rep without it is dropped (see plausible)
TILT_SIGN = {"bird_dog": -1.0, "dead_bug": 1.0}
TILT_MIN_DEG = 0.8
TILT_FRACTION = 0.1
ROLL_TEMPO_RATIO = 2.5                   # max / min rep duration in a run named from the roll
BLOCKED_AMP_RATIO = 2.0                  # ... and max / min roll when all on one side
BLOCKED_TEMPO_RATIO = 1.8
BLOCKED_SHORT_FRACTION = 0.35            # see plausible
BLOCKED_TILT_MIN_DEG = 1.6              # ... and how clear a block's own tilt must be
LYING_MAX_ELEVATION_DEG = 15.0          # see lying_level
DEAD_BUG_MAX_HOLD_S = 10.0              # guide: dead bug holds 2 s, knee-to-chest 20 s
DEAD_BUG_MAX_TILT_DEG = 10.0            # dead bug tilts <= ~8 deg, knee-to-chest 8-20
SMALL_ROLL_FRACTION = 0.15              # ... and rolls to each side in turn by >= this x its amplitude
MISSED_GAP_TILT = 0.5                   # see _missed_side_between
MISSED_GAP_REP_FRACTION = 0.7
SHARED_AXIS_FRACTION = 0.5             # see same_direction
PLANK_ELEVATION_DEG = (7.5, 35.0)        # classic rules (no gyro): a head-up incline
SIDE_PLANK_ELEVATION_DEG = (7.5, 35.0)
# Judged by effort (tracker._hold_step), a hold may sit at any angle real ones do: field
# planks -2..+18 deg (level pelvis common, sagging below), side planks -3..+4; the simulator
# draws -6..+22 / -6..+25. Leaning on a desk sitting reads prone only beyond ~40 deg.
HOLD_ELEVATION_DEG = (-12.0, 35.0)
KNEE_PLANK_MIN_ELEVATION_DEG = 17.5      # midway: forearm plank 10-15, on knees 20-30


def _axes(reps: list[dict]) -> np.ndarray:
    return np.asarray([r["rot_mean_deg"] for r in reps], dtype=np.float64)


def _alternates(v: np.ndarray, min_abs: float) -> bool:
    """Signs of v (ignoring tiny values) switch more often than they repeat."""
    s = np.sign(v[np.abs(v) >= min_abs])
    if len(s) < 2:
        return False
    return float(np.mean(s[1:] != s[:-1])) >= 0.5


def features(posture: str, reps: list[dict]) -> dict:
    rot = _axes(reps)
    amp = float(np.median([r["amplitude_deg"] for r in reps]))
    mean_abs = np.abs(rot).mean(axis=0)
    return {"posture": posture, "amp": amp,
            "x": float(np.median(rot[:, 0])), "y": float(np.median(rot[:, 1])),
            "z": float(np.median(rot[:, 2])), "abs": mean_abs.tolist(),
            "alt_x": _alternates(rot[:, 0], 0.3 * amp), "alt_z": _alternates(rot[:, 2], 0.3 * amp),
            # rolls beside a larger tilt (a dead bug pressing the back down): 1-2 deg against 6
            "alt_z_small": _alternates(rot[:, 2], SMALL_ROLL_FRACTION * amp),
            "hold": float(np.median([r["hold_s"] for r in reps]))}


def recognise(posture: str | None, rest_up, reps: list[dict]) -> str | None:
    """Exercise name for a run of similar reps, or None (not an exercise: ignore)."""
    if posture is None or len(reps) < 2:
        return None
    if posture in (PRONE, SUPINE) and not lying_level(rest_up):
        return None
    amps = np.asarray([r["amplitude_deg"] for r in reps])
    if amps.max() > 3.0 * max(np.median(amps), 1e-6):   # one wild excursion: not a set
        return None
    f = features(posture, reps)
    ax, ay, az = f["abs"]
    if posture == UPRIGHT:
        # Standing up, sitting down, reaching and fidgeting also flex the trunk; squats are
        # regular: similar depth and tempo rep after rep.
        # Tempo from the moves down and up, not the time held at the bottom: some people hold
        # one rep 0-5 s longer than the next (wide bodies), walking beats never hold.
        durs = np.asarray([max(r["end_s"] - r["start_s"] - r["hold_s"], 0.1) for r in reps])
        regular = amps.max() <= 1.6 * amps.min() and durs.max() <= 2.2 * durs.min()
        return "squat" if regular and f["y"] > 0 and ay >= max(ax, az) else None
    if posture == SUPINE:
        if az >= ay and f["amp"] >= 12.0:
            return "spinal_rotation" if f["alt_z"] else None
        if f["y"] > 0 or f["amp"] < 6.0:       # anterior tilt as the legs lower: dead bug
            return "dead_bug"
        # posterior tilt: a dead bug done as the guide says ("press your lower back gently
        # into the floor") tilts the pelvis back a few degrees, rolling it to each side in
        # turn, and holds ~2 s (field recordings: 2-6 deg, 1-3 s holds); knee-to-chest
        # pulls one knee (the pelvis rolls with it), holds ~20 s and does a side's reps in
        # a row (guide: When Exercise Works Best - knee-to-chest); a bridge lifts both hips
        if f["alt_z_small"] and f["hold"] < DEAD_BUG_MAX_HOLD_S and f["amp"] < DEAD_BUG_MAX_TILT_DEG:
            return "dead_bug"
        if f["hold"] >= 10.0 or az >= max(1.5, 0.12 * ay):
            return "knee_to_chest"
        return "bridge"
    if posture == PRONE:
        if ay >= max(ax, az) and f["y"] < 0 and f["amp"] >= 6.0:
            return "prone_press_up"
        return "bird_dog"
    return None


def lying_level(rest_up) -> bool:
    """Whether a rest pose is lying on the floor: the rep exercises done lying (and on hands
    and knees) start with the trunk within LYING_MAX_ELEVATION_DEG of level. Field recordings:
    -7.2..+8.7 deg over 19 such sets; reclined in a chair (30 deg) or up in a plank (10-30 deg)
    the pelvis shifts like a small roll rep but it is neither (a dead bug while sitting back, a
    bird dog inside a plank)."""
    if rest_up is None:
        return True
    z = float(np.clip(np.asarray(rest_up, dtype=np.float64)[2] / max(np.linalg.norm(rest_up), 1e-12), -1, 1))
    return abs(math.degrees(math.asin(z))) <= LYING_MAX_ELEVATION_DEG


def recognise_roll(posture: str | None, reps: list[dict], offset=(0.0, 0.0, 0.0),
                   blocked: bool = False, rest_up=None, tilted: bool = False,
                   pause_tilt_deg: float = 0.0) -> str | None:
    """Small pelvis rolls lying down, to each side in turn or (``blocked``: back to rest
    between reps) one side's reps after the other's: bird dog (prone, on hands and knees) or
    dead bug (supine); big rolls are spinal rotations and big tilts other exercises.
    ``tilted``: every rep also tilts the pelvis as a lifted leg does, which tells a set from
    settling on the mat better than regular roll sizes can (wide bodies roll 1-4.5 deg rep
    by rep on one side). ``pause_tilt_deg``: the pelvis' tilt in the pauses between these reps,
    from which their own tilt is judged (a rest pose taken before the wearer settled on hands
    and knees sits degrees off)."""
    if posture not in (PRONE, SUPINE) or not lying_level(rest_up):
        return None
    rot = _axes(reps) - np.asarray(offset, dtype=np.float64)
    amps = np.abs(rot[:, 2])
    if amps.max() > 12.0 or amps.max() > 4.0 * max(amps.min(), 1e-6):
        return None
    if np.abs(rot[:, 1] - pause_tilt_deg).max() > 8.0:
        return None
    # a set's reps share a tempo; a long hold among short rolls is something else starting
    # (knee-to-chest pulls a knee and holds ~20 s, rolling the pelvis on the way)
    durs = np.asarray([r["end_s"] - r["start_s"] for r in reps])
    if durs.max() > ROLL_TEMPO_RATIO * durs.min():
        return None
    if blocked:
        # one side only: nothing but regularity tells a set from settling on the mat
        if ((amps.max() > BLOCKED_AMP_RATIO * amps.min() and not tilted)
                or durs.max() > BLOCKED_TEMPO_RATIO * durs.min()):
            return None
    elif np.any(np.sign(rot[1:, 2]) == np.sign(rot[:-1, 2])):
        return None                      # each side in turn (guide: "repeat with opposite limbs")
    return "bird_dog" if posture == PRONE else "dead_bug"


def fits(exercise: str, posture: str | None, set_reps: list[dict], rep: dict) -> bool:
    """Whether another rep belongs to the running set (amplitude within a factor of 3)."""
    if not set_reps or exercise in AXIS_WEIGHTS:   # roll reps vary 1-4.5 deg within a set
        return True
    med = float(np.median([r["amplitude_deg"] for r in set_reps[-6:]]))
    return med / 3.0 <= rep["amplitude_deg"] <= med * 3.0 and same_direction(exercise, set_reps, rep)


def same_direction(exercise: str, set_reps: list[dict], rep: dict) -> bool:
    """Whether a rep moves the pelvis the way the set's reps do on their main axis (press-ups
    extend, bridges and knee-to-chest tilt posteriorly, squats flex). Real bodies end a set
    with a shift the other way (pushing back to kneel after press-ups, settling the pelvis
    after knee-to-chest: field recordings 2.5-4.5 deg, 0.3-0.4 x the reps) that comes back
    like a rep. Only on an axis the set's reps share (all the same sign, |median| >= half
    their amplitude), never the roll of an alternating set: it changes sign by design."""
    if len(set_reps) < 2:
        return True
    rot = np.asarray([r["rot_mean_deg"] for r in set_reps[-6:]], dtype=np.float64)
    med = np.median(rot, axis=0)
    amp = float(np.median([r["amplitude_deg"] for r in set_reps[-6:]]))
    axes = (0, 1) if exercise in ALTERNATING else (0, 1, 2)
    shared = [k for k in axes if abs(med[k]) >= SHARED_AXIS_FRACTION * amp
              and np.all(np.sign(rot[:, k]) == np.sign(med[k]))]
    return all(float(rep["rot_mean_deg"][k]) * float(med[k]) > 0.0 for k in shared)


def plausible(exercise: str, set_reps: list[dict], counted: list[dict], rep: dict,
              offset=(0.0, 0.0, 0.0), blocked: bool = False) -> bool:
    """Whether a roll-counted rep (bird dog, dead bug) is a real one. Those sets alternate
    sides (guide: "repeat with opposite limbs"), and each rep holds 2-10 s, so a short
    wobble on the side just held, or a short, small one, is noise on a degree-sized signal.
    A set done in blocks (``blocked``: one side's reps, then the other's) repeats a side by
    design, so there only size and tempo tell."""
    if exercise not in AXIS_WEIGHTS or not counted:
        return True
    dur = rep["end_s"] - rep["start_s"]
    amp = rep["amplitude_deg"]
    med_amp = float(np.median([r["amplitude_deg"] for r in counted[-8:]]))
    same_side = side(exercise, rep, offset) == counted[-1]["side"] and not blocked
    if same_side and dur < 4.0 and not _missed_side_between(exercise, set_reps, counted, rep):
        return False
    if dur < 3.0 and amp < 0.4 * med_amp:
        return False
    if len(counted) < 3:
        return True
    med_dur = float(np.median([r["end_s"] - r["start_s"] for r in counted[-8:]]))
    # a slow drift off the centre and back, not a rep. Not in a set done in blocks: there
    # the reps leave the true rest and there is no centre to drift about; a long excursion
    # is a rep held long (guide: "Hold for 5-10 seconds", some hold 15) or the last rep
    # drifting into getting up (wide bodies, dev seeds 3000-3011: 3 of the 4 such excursions
    # in blocked sets were real reps, dropping them ended the set early)
    if dur > 2.0 * med_dur + 2.0 and not blocked:
        return False
    # In blocks a rep's hold that wavers dips back towards the rest and comes out as two or
    # three short "reps" (wide bodies: 2-3 s pieces of a 12 s rep); the reps of a set share
    # a tempo, a hurried person's all of them
    if blocked and dur < BLOCKED_SHORT_FRACTION * med_dur:
        return False
    # Every real rep also tilts the pelvis the same way whatever the side (bird dog: the
    # lifted leg tips it forward-down, y < 0; dead bug: the lowered leg arches it, y > 0),
    # averaged over the hold so breathing mostly cancels. Rocking about the roll centre
    # does not tilt. Applied once the set's own tilt is clear, so a rest pose taken a bit
    # off cannot veto every rep (dev seeds: real reps >= 0.25 x the set's tilt).
    # Not in a set done in blocks: its reps leave the true rest, so there is no rocking
    # about a centre to tell apart, and real pelvises tilt either way rep by rep (field
    # recordings: -2.9..+1.9 deg within one block).
    # In blocks too once every rep so far tilted one way, clearly: settling after such a
    # set (lying back, breathing at a new level) tilts the other way.
    tilt = rep["rot_mean_deg"][1]
    sign = tilt_sign(exercise, set_reps)
    tilts = np.asarray([r["rot_mean_deg"][1] for r in set_reps[-8:]]) * sign
    unanimous = len(tilts) >= 3 and tilts.min() > 0.0 and np.median(tilts) >= BLOCKED_TILT_MIN_DEG
    tilt_ref = float(np.median(tilts)) if set_reps and (unanimous or not blocked) else 0.0
    if tilt_ref >= TILT_MIN_DEG and tilt * sign < TILT_FRACTION * tilt_ref:
        return False
    # Dead bug: the pause after a set (and a rep's wavering return) rocks about the set's
    # roll centre, a degree off the true rest, into small "reps", often on the side just
    # held. Not for bird dog: its rolls vary 1-4.5 deg within a set (4.5x) and these rules
    # dropped real reps there (dev seeds 0-29: exact 43 -> 40 %, +-1 73 -> 60 %).
    if exercise == "dead_bug":
        return not (amp < WOBBLE_FRACTION * med_amp or (same_side and amp < WOBBLE_SAME_SIDE * med_amp))
    # Bird dog: lying down after the set rocks the pelvis by a fraction of a degree about
    # the set's roll centre: "reps" a fifth of the set's. Real ones stay above ~0.27 x the
    # median (dev seeds 0-99, 1,913 reps; the after-set ones 0.03-0.26, 10 of 12).
    return amp >= BIRD_DOG_MIN_FRACTION * med_amp


def _missed_side_between(exercise: str, set_reps: list[dict], counted: list[dict], rep: dict) -> bool:
    """Whether a dead bug rep on the side just counted follows a gap that can hide the other
    side's rep (too small a roll to see: wide bodies roll 0.8-3 deg rep by rep) and tilts the
    pelvis like the set's reps (>= MISSED_GAP_TILT x their tilt, the set's sign). Rocking
    about the roll centre does not tilt, so this is the next real rep, not a wobble."""
    if exercise != "dead_bug" or len(counted) < 2 or len(set_reps) < 2:
        return False
    sign = tilt_sign(exercise, set_reps)
    tilt_ref = sign * float(np.median([r["rot_mean_deg"][1] for r in set_reps[-8:]]))
    if tilt_ref < TILT_MIN_DEG or sign * rep["rot_mean_deg"][1] < MISSED_GAP_TILT * tilt_ref:
        return False
    med_dur = float(np.median([r["end_s"] - r["start_s"] for r in counted[-8:]]))
    return rep["start_s"] - counted[-1]["end_s"] >= MISSED_GAP_REP_FRACTION * med_dur


def tilt_sign(exercise: str, set_reps: list[dict]) -> float:
    """Sign of the pelvic tilt (body y) every rep of a roll-counted set shows. Bird dog: the
    lifted leg tips the pelvis forward-down. Dead bug: either way, the set's own (the lowered
    leg arches it, or, done as the guide says, "press your lower back gently into the floor",
    it tilts back: field recordings 2-6 deg posterior), so from the median of its reps."""
    if exercise == "dead_bug" and set_reps:
        med = float(np.median([r["rot_mean_deg"][1] for r in set_reps[-8:]]))
        if med != 0.0:
            return 1.0 if med > 0 else -1.0
    return TILT_SIGN[exercise]


def side(exercise: str, rep: dict, offset=(0.0, 0.0, 0.0)) -> str | None:
    """left / right for alternating exercises, from the sign of the roll at the end position."""
    if exercise not in ALTERNATING:
        return None
    z = (rep["rot_mean_deg"][2] - offset[2]) * ROLL_SIGN_LEFT[exercise]
    return "left" if z > 0 else "right"


def centre(exercise: str, reps: list[dict], offset) -> list[float]:
    """Roll centre of an alternating set: midway between its left and right end positions.
    A rest pose taken a degree off would otherwise make one side's small reps vanish."""
    z = np.asarray([r["rot_mean_deg"][2] for r in reps[-8:]])
    pos, neg = z[z > offset[2]], z[z < offset[2]]
    if len(pos) < 2 or len(neg) < 2:
        return list(offset)
    return [0.0, 0.0, round(0.5 * (float(np.median(pos)) + float(np.median(neg))), 3)]


def roll_deg(exercise: str, rep: dict, offset=(0.0, 0.0, 0.0)) -> float:
    """Pelvis roll about the long axis at the end position (bird dog hip rotation), from the
    set's roll centre: the level the pelvis comes back to between reps is its neutral, where
    the rest pose may have been taken a degree or two off it (in a first hold, or settling)
    and would show one side's every rep rotated by that much more (wide bodies: one side's
    reps at 5-6 deg, the other's at 1-2)."""
    return float(rep["rot_mean_deg"][2] - offset[2])


def hold_variant(exercise: str, up) -> dict:
    """What the hold's position says beyond its name: a plank on the forearms or the knees
    (the head-up incline, guide: Core Stabilization - Plank), a side plank's side."""
    elev = math.degrees(math.asin(min(1.0, max(-1.0, float(up[2])))))
    if exercise == "plank":
        return {"variant": "knee" if elev >= KNEE_PLANK_MIN_ELEVATION_DEG else "forearm"}
    if exercise == "side_plank":
        post = classify1(up)
        side = {SIDE_LEFT: "left", SIDE_RIGHT: "right"}.get(post)
        return {"variant": "forearm", "side": side} if side else {}
    return {}


def hold_exercise(up, announced: str | None, by_effort: bool = False) -> str | None:
    """plank / side_plank if ``up`` is a plausible hold position, else None. ``by_effort``:
    the caller tells holds from lying by effort, so any angle a real plank takes will do."""
    post = classify1(up)
    elev = math.degrees(math.asin(min(1.0, max(-1.0, float(up[2])))))
    if announced is not None:
        if announced not in HOLDS or post == UPRIGHT:
            return None
        return announced
    plank_deg = HOLD_ELEVATION_DEG if by_effort else PLANK_ELEVATION_DEG
    side_deg = HOLD_ELEVATION_DEG if by_effort else SIDE_PLANK_ELEVATION_DEG
    if post == PRONE and plank_deg[0] <= elev <= plank_deg[1]:
        return "plank"
    if post in (SIDE_LEFT, SIDE_RIGHT) and side_deg[0] <= elev <= side_deg[1]:
        return "side_plank"
    return None
