"""Exercise recognition, reps, holds and form (see tracker.py)."""
from spinewise.signal.exercise.tracker import ExerciseTracker

__all__ = ["ExerciseTracker"]
