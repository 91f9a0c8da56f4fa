"""Snapshots are read back without running code found in them (spinewise.state_pickle)."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from spinewise import state_pickle
from spinewise.config import from_dict
from spinewise.pipeline.device import DeviceSession
from spinewise.pipeline.service import default_analyzer_factory
from spinewise.pipeline.snapshot import SnapshotStore
from spinewise.sim import simulate


def _states():
    """Real device states at several points of an exercise session and an acc-only office day."""
    out = []
    for scenario, gyro in (("exercise_session", True), ("office_snippet", False)):
        sim = simulate(scenario, seed=1, rate_hz=50.0, gyro=gyro, duration_s=900)
        s = DeviceSession("d", "u", default_analyzer_factory(from_dict({})), rate_hz=50.0)
        for i, chunk in enumerate(sim.chunks(25)):
            s.ingest([chunk])
            if i % 400 == 399:
                out.append(s.get_state())
    return out


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, dict):
        return type(a) is type(b) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and (a == b or (a != a and b != b))


def test_real_device_states_come_back_the_same():
    states = _states()
    assert len(states) >= 4
    for st in states:
        assert _same(state_pickle.loads(state_pickle.dumps(st)), st)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch should-not-exist",))


def test_a_pickle_that_names_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = pickle.dumps({"analyzer": _Evil()})
    with pytest.raises(pickle.UnpicklingError, match="posix.system|os.system"):
        state_pickle.loads(evil)
    assert not (tmp_path / "should-not-exist").exists()


def test_the_snapshot_store_starts_a_tampered_device_fresh(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    store = SnapshotStore(tmp_path / "state")
    store.save("good", {"x": np.arange(3.0)})
    store.save("bad", {})
    store._path("bad").write_bytes(pickle.dumps(_Evil()))
    loaded = store.load_all()
    assert list(loaded) == ["good"] and np.array_equal(loaded["good"]["x"], np.arange(3.0))
    assert not (tmp_path / "should-not-exist").exists()
    assert "unreadable" in caplog.text
