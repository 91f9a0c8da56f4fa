"""The simulator: a physically grounded body model -> lower-back IMU recording + truth.

    from spinewise.sim import simulate
    sim = simulate("exercise_session", seed=3, rate_hz=52, mount="random", gyro=True)
    sim.truth                      # dict, as truth.json (docs/architecture.md)
    for chunk in sim.chunks(1024): # ImuChunk, generated lazily (constant memory for any length)
        ...
    sim.body_truth(t_s)            # noise-free body-frame acc/gyro/up/angles at any times

See spinewise/sim/README.md for the body model, the sensor model and the truth definitions.
"""
from __future__ import annotations

from spinewise.sim.api import DEFAULT_START_UTC, simulate
from spinewise.sim.exercises import EXERCISES
from spinewise.sim.scenarios import SCENARIOS
from spinewise.sim.simulation import Simulation

__all__ = ["simulate", "Simulation", "SCENARIOS", "EXERCISES", "DEFAULT_START_UTC"]
