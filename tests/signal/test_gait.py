import numpy as np

from spinewise.signal.gait import StepDetector
from tests.signal.synth import segments_signal


def test_steps_counted_on_synthetic_walk_and_none_when_still():
    chunk, _ = segments_signal([("standing", 10, 0), ("walking", 60, 2), ("standing", 10, 0)],
                               rate_hz=50.0, cadence_spm=110.0)
    det = StepDetector(50.0)
    _bp, steps = det.update(chunk.acc_g, np.tile([0.0, 0.0, 1.0], (len(chunk), 1)))
    t = chunk.t_s[steps]
    assert abs(steps.sum() - 110) <= 3
    assert t.min() > 9.0 and t.max() < 71.0


def test_step_detector_is_chunk_invariant():
    chunk, _ = segments_signal([("walking", 20, 0)], rate_hz=25.0)
    up = np.tile([0.0, 0.0, 1.0], (len(chunk), 1))
    a = StepDetector(25.0).update(chunk.acc_g, up)[1]
    det = StepDetector(25.0)
    b = np.concatenate([det.update(chunk.acc_g[i:i + 7], up[i:i + 7])[1]
                        for i in range(0, len(chunk), 7)])
    assert np.array_equal(a, b)
