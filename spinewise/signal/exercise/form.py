"""Form flags, each tied to a rule in /work/shared/exercise-guide.txt.

Thresholds live in SignalConfig so a physiotherapist can tune them per person.
"""
from __future__ import annotations

from spinewise.config import SignalConfig
from spinewise.signal.exercise.reps import Rep

TOO_FAST, SHORT_HOLD, HIP_ROTATION, SAG, SHAKING, BREATH_HOLD = (
    "too_fast", "short_hold", "hip_rotation", "sag", "shaking", "breath_hold")


def rep_flags(exercise: str, rep: Rep, roll_deg: float, cfg: SignalConfig) -> list[str]:
    """Flags for one rep. ``roll_deg``: pelvis roll about the long axis at the end position."""
    flags = []
    # guide: Core Stabilization - Dead Bug ("Common errors include ... moving too quickly").
    # A rep is rushed when the whole of it, from leaving the start position to regaining
    # it (the hold included), takes under too_fast_s (2 s): the rule as the feature was
    # specified. Subtracting the hold flagged slow reps with a quick move out (field cases:
    # 40 of 49 flags on reps of 2.8-30 s).
    if rep.end_s - rep.start_s < cfg.too_fast_s:
        flags.append(TOO_FAST)
    # guide: Core Stabilization - Dead Bug "Hold for 2 seconds"; Bird Dog "Hold for 5-10 seconds"
    min_hold = {"dead_bug": cfg.dead_bug_hold_s, "bird_dog": cfg.bird_dog_hold_s}.get(exercise)
    if min_hold is not None and rep.hold_s < min_hold:
        flags.append(SHORT_HOLD)
    # guide: Core Stabilization - Bird Dog "without allowing hips to rotate"
    if exercise == "bird_dog" and abs(roll_deg) > cfg.hip_rotation_deg:
        flags.append(HIP_ROTATION)
    return flags


def hold_flags(drift_deg: float, tremor_start_mg: float | None, tremor_end_mg: float | None,
               quiet_breath_s: float, cfg: SignalConfig) -> list[str]:
    flags = []
    # guide: Core Stabilization - Plank "avoid sagging hips (engage glutes)"
    if drift_deg > cfg.sag_deg:
        flags.append(SAG)
    # guide: Safety Precautions - "Signs of inadequate recovery include ... declining
    # performance": shaking that grows through the hold is fatigue; stop the hold there.
    if (tremor_start_mg is not None and tremor_end_mg is not None
            and tremor_end_mg >= cfg.shaking_min_mg
            and tremor_end_mg >= cfg.shaking_rise_ratio * max(tremor_start_mg, 1e-3)):
        flags.append(SHAKING)
    # guide: Common Mistakes - "Breath-holding during exertion (Valsalva maneuver)";
    # Plank "Hold for 15-30 seconds while breathing normally".
    if quiet_breath_s > cfg.breath_hold_s:
        flags.append(BREATH_HOLD)
    return flags
