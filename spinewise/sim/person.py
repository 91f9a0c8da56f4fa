"""Per-person variability, drawn once per seed.

Ranges follow the body-model brief (docs/architecture.md, spinewise/sim/README.md): neutral
tilt offsets, sitting posterior tilt, slump depth, gait (pelvic bounce, rotation, obliquity,
cadence, heel strikes), exercise tempo and hold habits, tremor and fatigue.

Gait priors (``gait``): "wide" (the default) covers cadences of 70-130 steps/min, a bounce down
to a shuffle, soft to hard heel strikes and a limp (antalgic gait) in about a third of people:
wider than the real lower-back recordings (benchmarks/real_data.py: healthy adults at 90-125
steps/min, an older adult and a walker with MS down to 0.03 g of vertical acceleration).
"classic" is the healthy-adult range the committed fixtures were made with (93-123 steps/min,
1-2 cm bounce, 0.15-0.45 g heel strikes, no limp). The wide draws come after all the others on
the person's stream, so every other trait (and every plan, on its own stream) is the same.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Person:
    stand_flexion_deg: float      # neutral standing tilt of the lumbar segment
    stand_lateral_deg: float
    sit_flexion_deg: float        # posterior tilt when sitting (-5..-20)
    slump_extra_deg: float        # further posterior tilt when slumped (10..30)
    slouch_stand_deg: float       # forward flexion when slouching standing (15..30)
    sway_deg: float               # RMS postural sway when still
    breath_hz: float              # breathing rate at rest
    breath_deg: float             # breathing pelvic rocking amplitude (RMS)
    step_hz: float
    step_length_m: float
    bounce_m: float
    ap_m: float
    ml_m: float
    yaw_deg: float
    obliquity_deg: float
    tilt_deg: float
    impact_g: float
    tempo_s: float                # typical one-way movement time of a rep
    hold_habit: float             # scales holds (some people rush, some linger)
    tremor_mg: float              # baseline 8-12 Hz tremor during effortful holds
    tremor_hz: float
    fatigue: float                # how fast tremor grows and sag develops over a hold
    quadruped_pitch_deg: float    # trunk angle vs horizontal on hands and knees
    plank_incline_deg: float      # head-up incline of the forearm plank
    knee_plank_incline_deg: float
    limp: float = 0.0             # antalgic gait: alternate steps differ in timing and force (0..0.35)

    def to_dict(self) -> dict:
        return {k: round(v, 4) for k, v in asdict(self).items()}


GAIT_PRIORS = ("wide", "classic")


def draw_person(rng: np.random.Generator, gait: str = "wide") -> Person:
    if gait not in GAIT_PRIORS:
        raise ValueError(f"gait {gait!r}: one of {', '.join(GAIT_PRIORS)}")
    u = rng.uniform
    step_hz = u(1.55, 2.05)
    person = Person(
        stand_flexion_deg=u(-3.0, 5.0),
        stand_lateral_deg=u(-2.0, 2.0),
        sit_flexion_deg=-u(5.0, 20.0),
        slump_extra_deg=u(10.0, 30.0),
        slouch_stand_deg=u(15.0, 30.0),
        sway_deg=u(0.3, 0.8),
        breath_hz=u(0.2, 0.33),
        breath_deg=u(0.2, 0.6),
        step_hz=step_hz,
        step_length_m=u(0.62, 0.78),
        bounce_m=u(0.01, 0.02),
        ap_m=u(0.008, 0.016),
        ml_m=u(0.015, 0.03),
        yaw_deg=u(3.0, 6.0),
        obliquity_deg=u(3.0, 5.0),
        tilt_deg=u(1.0, 2.0),
        impact_g=u(0.15, 0.45),
        tempo_s=u(1.2, 2.6),
        hold_habit=u(0.8, 1.25),
        tremor_mg=u(3.0, 10.0),
        tremor_hz=u(8.0, 12.0),
        fatigue=u(0.5, 1.5),
        quadruped_pitch_deg=u(-6.0, 6.0),
        plank_incline_deg=u(10.0, 15.0),
        knee_plank_incline_deg=u(20.0, 30.0),
    )
    if gait == "classic":
        return person
    return replace(person, step_hz=u(70.0, 130.0) / 60.0, bounce_m=u(0.008, 0.02), impact_g=u(0.05, 0.45),
                   limp=u(0.1, 0.35) if u() < 0.3 else 0.0)
