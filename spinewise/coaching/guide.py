"""What spinewise takes from the exercise guide (docs/exercise-guide.md), in one place.

Every dose, hold and programme rule used by coaching lives here with the guide section it
comes from, so a reviewer can check each number against the text. Where the guide gives
no number (sets per exercise, side-plank and bridge doses) the value is ours and says so.
"""
from __future__ import annotations

from dataclasses import dataclass

# Section names as the guide titles them; cited in plan reasons and nudge suggestions.
CORE = "guide: Step-by-Step Instructions for Core Stabilization Exercises"
WHEN = "guide: When Exercise Works Best for Different Types of Back Pain"
RESULTS = "guide: How Long Before You See Results with Exercise Programs"
SAFETY = "guide: Safety Precautions and Exercise Modifications"
FAQ = "guide: Frequently Asked Questions About Exercise for Back Pain"
MISTAKES = "guide: Common Mistakes That Make Exercise Ineffective or Harmful"
ADVANCED = "guide: Advanced Exercise Progressions for Long-Term Management"
OURS = "spinewise default (the guide gives no number)"


@dataclass(frozen=True)
class Dose:
    """One session's prescription for an exercise. ``reps`` is per side when ``per_side``."""
    sets: int
    reps: int = 0
    hold_s: float = 0.0          # per rep (bird dog, dead bug) or per set (holds)
    per_side: bool = False
    resistance: float = 1.0      # 1.0 = bodyweight; bands / light weights above 1
    reps_per_set: tuple[int, ...] = ()   # uneven sets (e.g. 6 + 5) when progressing by 10 %

    def set_reps(self) -> tuple[int, ...]:
        return self.reps_per_set or (self.reps,) * self.sets


@dataclass(frozen=True)
class ExerciseSpec:
    name: str
    kind: str                    # "reps": volume = sets x reps x resistance; "hold": hold seconds
    start: Dose
    goal: Dose
    source: str
    min_reps: int = 1
    min_hold_s: float = 10.0


# guide: Core Stabilization - Dead Bug: "Hold for 2 seconds ... 10 repetitions per side".
DEAD_BUG = ExerciseSpec("dead_bug", "reps", Dose(1, 10, 2.0, True), Dose(3, 10, 2.0, True),
                        CORE + " - Dead Bug (10 per side, 2 s hold); sets: " + OURS, min_reps=4)
# guide: Core Stabilization - Bird Dog: "Hold for 5-10 seconds ... 10-12 repetitions per side".
BIRD_DOG = ExerciseSpec("bird_dog", "reps", Dose(1, 10, 5.0, True), Dose(3, 12, 10.0, True),
                        CORE + " - Bird Dog (10-12 per side, 5-10 s holds); sets: " + OURS,
                        min_reps=4)
# guide: Core Stabilization - Plank: knees 15-30 s; full plank once 45 s on the knees is clean;
# build to 60 s; then side planks.
KNEE_PLANK_START_S = 15.0
KNEE_PLANK_TO_FULL_S = 45.0
FULL_PLANK_GOAL_S = 60.0
FULL_PLANK_START_S = 20.0        # ours: a harder variant restarts shorter
PLANK = ExerciseSpec("plank", "hold", Dose(3, hold_s=KNEE_PLANK_START_S),
                     Dose(3, hold_s=FULL_PLANK_GOAL_S),
                     CORE + " - Plank (knees 15-30 s, full at 45 s clean, build to 60 s); sets: " + OURS)
SIDE_PLANK = ExerciseSpec("side_plank", "hold", Dose(2, hold_s=15.0, per_side=True),
                          Dose(3, hold_s=45.0, per_side=True),
                          CORE + " - Plank (then side planks); doses: " + OURS)
# guide: Safety Precautions - warm-up "bridges before squats"; no dose given.
BRIDGE = ExerciseSpec("bridge", "reps", Dose(2, 10, 2.0), Dose(3, 15, 3.0),
                      SAFETY + " - warm-up, bridges before squats; doses: " + OURS, min_reps=5)
# guide: Advanced Progressions - wall squats -> goblet squats -> single-leg squats.
SQUAT = ExerciseSpec("squat", "reps", Dose(2, 8), Dose(3, 12),
                     ADVANCED + " - functional integration, wall -> goblet squats; doses: " + OURS,
                     min_reps=5)
SQUAT_POWER = ExerciseSpec("squat", "reps", Dose(3, 5), Dose(4, 6),
                           ADVANCED + " - power: low repetitions, explosive; doses: " + OURS,
                           min_reps=3)

# guide: When Exercise Works Best - morning stiffness: knee-to-chest hold 20 s, 3 per side,
# then gentle spinal rotations; strengthening later in the day.
KNEE_TO_CHEST = Dose(3, 1, 20.0, True)
SPINAL_ROTATION = Dose(1, 10, 0.0, True)   # reps: ours ("slowly drop knees side to side")
# guide: When Exercise Works Best - acute: walk 10-15 min several times daily.
ACUTE_WALK_MIN = (10, 15)
# guide: When Exercise Works Best - disc-related: prone press-ups, 10 reps every 2 hours in
# acute episodes, only if extension decreases or centralises the pain.
PRESS_UP = Dose(1, 10)
# guide: How Long Before You See Results - relief "lasting minutes to hours, emphasizing the
# need for frequent movement throughout the day"; guide: Safety Precautions - warm-up
# "5 minutes of light aerobic activity". Hence a 2-5 min walk per movement break.
BREAK_WALK_MIN = (2, 5)

# guide: FAQ - "How often": strengthening 3-4 days, mobility 2-3 days, active recovery;
# guide: Safety Precautions - "at least one full rest day weekly".
WEEK_PATTERN = ("strength", "mobility", "strength", "mobility", "strength",
                "active_recovery", "rest")
STRENGTH_SESSIONS_PER_WEEK = WEEK_PATTERN.count("strength")

PHASES = ("stability", "strength", "power")
# guide: Advanced Progressions - periodization: stability/endurance (high reps, low load),
# strength (moderate reps, moderate load), power (low reps, explosive).
PHASE_TEXT = {
    "stability": "stability/endurance: high repetitions, low load",
    "strength": "strength: moderate repetitions, moderate load",
    "power": "power: low repetitions, explosive movement",
}
# guide: Core Stabilization - Bird Dog: "Progress by adding resistance bands or holding light
# weights once form is perfect". 1.2 is ours: a light band counted as +20 % load.
BAND_RESISTANCE = 1.2

# Side planks join any phase once a clean 60 s full plank is logged (progression.py).
PHASE_EXERCISES = {
    "stability": (DEAD_BUG, BIRD_DOG, PLANK),
    "strength": (BIRD_DOG, PLANK, BRIDGE, SQUAT),
    "power": (BIRD_DOG, PLANK, BRIDGE, SQUAT_POWER),
}
