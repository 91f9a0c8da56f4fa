"""Activity class per 1 s epoch: sitting, standing, walking, lying (exercise is marked later).

Decided per epoch with a 3-epoch look-ahead (a bounded, chunk-independent delay); the
reasoning and the measured figures are in docs/signal-day.md.

- walking: gait-like, upright epochs (gait.py) in a run of >= WALK_MIN_EPOCHS (a
  sit-to-stand makes 2-3 gait-like epochs); a single non-gait epoch inside a walk is bridged.
- lying: trunk inclination beyond ``LYING_INCL_DEG`` from the calibrated upright.
- sitting vs standing from a lower-back sensor is a *state* changed by transitions, with
  pelvic tilt as evidence:
  * a sit-to-stand leans the trunk forward and raises the pelvis ~0.45 m, a stand-to-sit
    leans and lowers it: the first excursion of the band-limited vertical travel
    (day_features) beyond +/- ``TRAVEL_M`` with a forward lean in the window flips the state.
    Reaching forward while seated leans as far but does not travel, so fidgeting and
    reaching stay seated; the filter's rebound after a transition is discounted;
  * 8 s after a transition the settled tilt must not clearly contradict the new posture
    (back-to-back sit-stand-sit can hide one transition);
  * walking ends in standing; leaving lying (or starting up) picks the posture by tilt;
  * a sustained posterior tilt that standing cannot explain (> ``TILT_OVERRIDE_DEG`` behind
    standing neutral, or nearer the personal sitting neutral than the midpoint) while
    "standing" (a missed sit-down) switches to sitting after ``TILT_OVERRIDE_EPOCHS``.
Personal neutral flexion per posture (neutral.py) is learned from still epochs.
"""
from __future__ import annotations

import numpy as np

from spinewise.signal.body import angles_from_up
from spinewise.signal.day_features import FEATURES
from spinewise.signal.neutral import NeutralEstimator

LYING_INCL_DEG = 55.0
TRAVEL_M = 0.07
SIT_TILT_DEG = 6.0             # posterior tilt vs standing neutral that says "seated" (no transition seen)
TILT_OVERRIDE_DEG = 7.0
TILT_OVERRIDE_EPOCHS = 30
SETTLED_SPAN_EPOCHS = 30        # after a sit-down: these still epochs teach sitting neutral...
SETTLED_WEIGHT = 10.0           # ...with this weight
COOLDOWN_EPOCHS = 3
REBOUND_EPOCHS = 8
REBOUND_RATIO = 0.8
LEAN_DEG = 10.0
STILL_DYN_MG = 60.0
STAND_NEUTRAL_BAND_DEG = 5.0
STAND_NEUTRAL_LIMITS_DEG = (-4.0, 4.0)  # walking carriage is 0 by calibration
SIT_NEUTRAL_LIMITS_DEG = (-22.0, 0.0)   # body model: sitting posterior tilt 5-20 deg
WALK_MIN_EPOCHS = 4
WALK_MAX_TILT_DEG = 15.0
LOOKAHEAD = WALK_MIN_EPOCHS - 1
HISTORY = WALK_MIN_EPOCHS - 1
SETTLE_EPOCHS = 8
SETTLE_MARGIN_DEG = 1.5        # margin around the neutral midpoint (tilt override)
SETTLE_SIT_DEG = 4.0
SETTLE_STAND_DEG = 3.0

F = {name: i for i, name in enumerate(FEATURES)}
CLASSES = ("sitting", "standing", "walking", "lying", "exercise")


# angle columns appended to each row by push() (vectorised once per batch)
FLEX, LAT, INCL = len(FEATURES), len(FEATURES) + 1, len(FEATURES) + 2
GAIT, STEPS, ZMAX, ZMIN, DYN = F["gait"], F["steps"], F["z_max_m"], F["z_min_m"], F["dyn_mg"]


def with_angles(rows: np.ndarray) -> np.ndarray:
    up = rows[:, [F["up_x"], F["up_y"], F["up_z"]]]
    flex, lat, incl = angles_from_up(up)
    return np.column_stack([rows, flex, lat, incl])


def angles(row) -> tuple[float, float, float]:
    return row[FLEX], row[LAT], row[INCL]


class ActivityClassifier:
    def __init__(self) -> None:
        self._rows: list[list[float]] = []     # up to HISTORY decided rows, then the undecided
        self._k = 0                             # index of the next row to decide
        self.posture: str | None = None         # sitting | standing | lying | None
        self._cooldown = 0
        self._since_travel = 10 ** 6
        self._travel_sign = 0
        self._travel_peak = 0.0
        self._last_peak = 0.0
        self._override_run = 0
        self._last_cls: str | None = None
        self.sit_neutral = NeutralEstimator(0.75, -12.0, limits_deg=SIT_NEUTRAL_LIMITS_DEG)
        self.stand_neutral = NeutralEstimator(0.50, 0.0, limits_deg=STAND_NEUTRAL_LIMITS_DEG)

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
        g = [False] * max(0, -lo) + [r[GAIT] > 0.5 and abs(r[FLEX]) < WALK_MAX_TILT_DEG
                                     for r in rows[max(lo, 0):hi]]
        g += [False] * (2 * n - 1 - len(g))
        c = n - 1                                   # index of k in g
        if not g[c]:
            # the hole must sit inside a walk: a full look-back or look-ahead of gait on one
            # side (squat reps alternate 2 upright gait-like epochs with a deep one: no walk)
            return (all(g[c - 2:c]) and all(g[c + 1:c + 3]) and rows[k][STEPS] >= 1
                    and (all(g[:c]) or all(g[c + 1:])))
        return any(all(g[i:i + n]) for i in range(0, n))

    def _travel(self, window, stand0: float) -> int:
        """+1 rise, -1 drop, 0 none. A sit/stand transition leans the trunk forward (the
        trunk goes over the feet) *and* moves the pelvis ~0.45 m vertically: the largest
        travel excursion in the window decides, if a forward lean is in the window too.
        Reaching while seated leans without travel. The band-pass rebounds after a
        transition (~0.7 of the peak, opposite sign, 2-4 s later): within REBOUND_EPOCHS an
        opposite excursion must exceed that expected rebound to count as a new transition."""
        rebound = self._since_travel < REBOUND_EPOCHS
        for r in window:                      # the first excursion in time decides
            up, down = r[ZMAX], -r[ZMIN]
            if up < TRAVEL_M and down < TRAVEL_M:
                continue
            sign, peak = (1, up) if up >= down else (-1, down)
            need = TRAVEL_M
            if rebound and sign != self._travel_sign:
                need += REBOUND_RATIO * self._travel_peak
            if peak >= need:
                if max(w[FLEX] for w in window) - stand0 < LEAN_DEG:
                    return 0
                self._last_peak = peak
                return sign
        return 0

    def _looks_seated(self, flex: float, stand0: float) -> bool:
        """Posterior tilt that standing cannot explain: beyond TILT_OVERRIDE_DEG, or, once
        the personal neutrals are known and apart, nearer sitting neutral than the midpoint."""
        if flex - stand0 < -TILT_OVERRIDE_DEG:
            return True
        if not self.sit_neutral.known:
            return False
        sit0 = self.sit_neutral.value()
        return stand0 - sit0 >= 5.0 and flex < 0.5 * (stand0 + sit0) - SETTLE_MARGIN_DEG

    def _settled_check(self, flex: float, stand0: float) -> str:
        """Once a transition has settled, the tilt (median of the still epochs around) must
        agree with the posture it led to (back-to-back sit-stand-sit transitions can hide
        one another in the travel signal). Only clear disagreement flips it."""
        sit0 = self.sit_neutral.value() if self.sit_neutral.known else None
        if self.posture == "standing" and flex < stand0 - SETTLE_SIT_DEG and \
                (sit0 is None or abs(flex - sit0) < abs(flex - stand0)):
            return "sitting"
        if self.posture == "sitting" and abs(flex - stand0) < SETTLE_STAND_DEG and \
                (sit0 is None or flex - sit0 > 2 * SETTLE_SIT_DEG):
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
        if incl > LYING_INCL_DEG and not walking:
            cls = self.posture = "lying"
            self._override_run = 0
        elif walking:
            cls, self.posture = "walking", "standing"
            self._override_run = 0
        else:
            travel = self._travel(rows[max(0, k - 1):k + 3], stand0) if self._cooldown == 0 else 0
            if travel:
                if (self.posture in ("sitting", "lying", None) and travel > 0) or \
                        (self.posture in ("standing", None) and travel < 0):
                    self.posture = "standing" if travel > 0 else "sitting"
                    self._cooldown, self._since_travel, self._travel_sign = COOLDOWN_EPOCHS, 0, travel
                    self._travel_peak = self._last_peak
            if self._since_travel == SETTLE_EPOCHS and self.posture in ("sitting", "standing"):
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
            if row[DYN] < STILL_DYN_MG:
                if cls == "sitting":
                    # people sit down upright and slump later: the first settled seconds
                    # after a sit-down weigh more (a day that starts slumped still learns)
                    settled = (self._travel_sign < 0 and SETTLE_EPOCHS <= self._since_travel
                               < SETTLE_EPOCHS + SETTLED_SPAN_EPOCHS)
                    if flex < stand0 + 2.0:          # a reach forward is not a sitting posture
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
                "stand_neutral": self.stand_neutral.get_state()}

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
