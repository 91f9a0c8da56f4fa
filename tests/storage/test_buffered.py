"""BufferedStorage with a scripted backend: batching, order under outages, rejection, stats."""
from __future__ import annotations

import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from spinewise.storage import make_point
from spinewise.storage.backends import RejectedWriteError, TransientWriteError
from spinewise.storage.buffered import BufferedStorage
from spinewise.storage.spool import Spool


class FakeBackend:
    def __init__(self):
        self.up = True
        self.reject = False
        self.received: list[str] = []
        self.calls = 0
        self.closed = False

    def write_lines(self, lines):
        self.calls += 1
        if not self.up:
            raise TransientWriteError("connection refused")
        if self.reject and any("v=13i" in line for line in lines):
            raise RejectedWriteError("HTTP 400: field type conflict")   # nothing written
        self.received += lines

    def close(self):
        self.closed = True


def pts(a, b, measurement="m"):
    return [make_point(measurement, {"user": "u", "device": "d"}, {"v": i}, i * 1000) for i in range(a, b)]


def values(lines):
    return [int(line.split("v=")[1].split("i")[0]) for line in lines]


def storage(tmp_path, backend, **kw):
    kw.setdefault("batch_size", 10)
    return BufferedStorage(backend, Spool(tmp_path / "spool"), background=False, **kw)


def test_writes_in_batches_of_batch_size(tmp_path):
    be = FakeBackend()
    st = storage(tmp_path, be)
    st.write(pts(0, 9))
    assert be.calls == 0                         # below batch size: buffered
    st.write(pts(9, 25))
    assert be.calls == 3 and len(be.received) == 25   # 25 >= 10: flushed in batches of 10
    st.write(pts(25, 27))
    st.close()
    assert values(be.received) == list(range(27)) and be.closed
    assert st.stats()["points_written"] == 27 and st.stats()["batches_written"] == 4


def test_points_with_the_same_key_collapse_in_the_batch(tmp_path):
    be = FakeBackend()
    st = storage(tmp_path, be, batch_size=100)
    p1 = make_point("posture", {"user": "u"}, {"flexion_deg": 1.0}, 0)
    p2 = make_point("posture", {"user": "u"}, {"flexion_deg": 2.0}, 0)
    st.write([p1, p2])
    st.flush()
    assert be.received == [p2.to_line()]


def test_outage_spools_in_order_and_drains_exactly_once(tmp_path, monkeypatch):
    be = FakeBackend()
    st = storage(tmp_path, be)
    st.write(pts(0, 10))                         # written
    be.up = False
    st.write(pts(10, 20))                        # fails -> spool
    st.write(pts(20, 35))                        # in back-off -> straight to spool
    s = st.stats()
    assert s["spool_depth"] == 25 and s["write_errors"] == 1 and not s["backend_up"]
    be.up = True
    st.write(pts(35, 37))
    assert st.flush(force=True)
    assert values(be.received) == list(range(37))
    assert st.stats()["spool_depth"] == 0 and st.stats()["backend_up"]


def test_spool_survives_a_restart_of_the_process(tmp_path):
    be = FakeBackend()
    be.up = False
    st = storage(tmp_path, be)
    st.write(pts(0, 12))
    st.close()                                   # could not write: stays on disk
    be2 = FakeBackend()
    st2 = storage(tmp_path, be2)
    assert st2.stats()["spool_depth"] == 12
    st2.write(pts(12, 14))
    st2.close()
    assert values(be2.received) == list(range(14))


def test_only_the_rejected_line_is_dropped_and_it_does_not_block_the_rest(tmp_path):
    be = FakeBackend()
    st = storage(tmp_path, be)
    be.reject = True                             # the server refuses any batch holding v=13
    st.write(pts(0, 30))
    st.close()
    s = st.stats()
    assert values(be.received) == [v for v in range(30) if v != 13]
    assert s["points_rejected"] == 1 and s["points_written"] == 29 and s["spool_depth"] == 0


def test_background_flusher_writes_on_the_interval(tmp_path):
    be = FakeBackend()
    st = BufferedStorage(be, Spool(tmp_path / "spool"), batch_size=1000, flush_interval_s=0.05)
    try:
        st.write(pts(0, 3))
        deadline = time.monotonic() + 5
        while len(be.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert values(be.received) == [0, 1, 2]
    finally:
        st.close()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), batch=st.integers(1, 12), sizes=st.lists(st.integers(0, 20), max_size=15))
def test_flaky_backend_gets_every_point_exactly_once_in_order(tmp_path_factory, seed, batch, sizes):
    rng = random.Random(seed)

    class Flaky(FakeBackend):
        def write_lines(self, lines):
            self.up = rng.random() > 0.4
            super().write_lines(lines)

    be = Flaky()
    st_ = storage(tmp_path_factory.mktemp("flaky"), be, batch_size=batch)
    n = 0
    for k in sizes:
        st_.write(pts(n, n + k))
        n += k
        if rng.random() < 0.3:
            st_.flush(force=True)
    be.up = True
    be.write_lines = FakeBackend.write_lines.__get__(be)   # the server is back for good
    assert st_.flush(force=True)
    st_.close()
    assert values(be.received) == list(range(n))
    assert st_.stats()["points_written"] == n and st_.stats()["spool_depth"] == 0


def test_an_unserialisable_point_is_counted_and_the_others_are_written(tmp_path):
    import numpy as np

    from spinewise.storage import Point

    be = FakeBackend()
    st = storage(tmp_path, be)
    bad = Point("m", {"user": "u"}, {"v": object()}, 5)             # built by hand, unchecked
    numpy_ok = make_point("m", {"user": "u", "device": "d"}, {"v": np.int64(7)}, 7000)
    st.write([bad, numpy_ok] + pts(0, 3))
    st.close()
    assert st.stats()["points_rejected"] == 1
    assert sorted(values(be.received)) == [0, 1, 2, 7]
