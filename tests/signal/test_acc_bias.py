"""AccBiasModel folds its still epochs in batches (lfilter along the epochs): the sums must be
bit-identical to the one-epoch-at-a-time update, whenever they are looked at."""
from __future__ import annotations

import numpy as np

from spinewise.signal import acc_bias
from spinewise.signal.acc_bias import AccBiasModel


class _OneAtATime:
    """The update as it was written per epoch: the specification."""

    def __init__(self) -> None:
        self.forget = 0.5 ** (1.0 / acc_bias.HALF_LIFE_EPOCHS)
        self.xtx, self.xty, self.n = np.zeros((4, 4)), np.zeros(4), 0.0

    def add(self, up, off) -> None:
        if not np.isfinite(off) or not np.all(np.isfinite(up)):
            return
        x = np.array([1.0, up[0], up[1], up[2]])
        self.xtx *= self.forget
        self.xty *= self.forget
        self.n = self.n * self.forget + 1.0
        self.xtx += np.outer(x, x)
        self.xty += x * off


def _same(m: AccBiasModel, ref: _OneAtATime) -> None:
    s = m.get_state()
    assert s["xtx"].tobytes() == ref.xtx.tobytes()
    assert s["xty"].tobytes() == ref.xty.tobytes()
    assert s["n"] == ref.n


def test_batched_fold_is_bit_identical(monkeypatch):
    monkeypatch.setattr(acc_bias, "FOLD_EPOCHS", 97)       # folds mid-stream as well
    rng = np.random.default_rng(3)
    m, ref = AccBiasModel(), _OneAtATime()
    for k in range(3000):
        up = rng.normal(0, 1, 3)
        up /= np.linalg.norm(up)
        off = float(rng.normal(0, 0.1))
        if k % 211 == 0:
            off = float("nan")                              # skipped by both
        m.add(tuple(up), off)
        ref.add(up, off)
        if k % 503 == 0:
            _same(m, ref)
            np.testing.assert_array_equal(
                m.coefficients(), np.linalg.solve(ref.xtx + acc_bias.RIDGE * np.eye(4), ref.xty))
    _same(m, ref)


def test_state_round_trip_with_pending_epochs():
    rng = np.random.default_rng(4)
    a, b = AccBiasModel(), AccBiasModel()
    for _ in range(50):
        a.add(tuple(rng.normal(0, 1, 3)), float(rng.normal()))
    b.set_state(a.get_state())
    for _ in range(50):
        v, o = tuple(rng.normal(0, 1, 3)), float(rng.normal())
        a.add(v, o)
        b.add(v, o)
    assert a.coefficients().tobytes() == b.coefficients().tobytes()
