"""Spool: FIFO order, durability across reopen, size bound with counted drop-oldest, torn tails."""

from spinewise.ingest.spool import Spool, SpoolRecord


def _rec(i, size=10):
    return SpoolRecord(f"t/{i}", bytes([i % 256]) * size, 1, i % 2 == 0)


def _drain(sp):
    out = []
    while (r := sp.peek()) is not None:
        out.append(r)
        sp.pop()
    return out


def test_fifo_order_and_fields(tmp_path):
    sp = Spool(tmp_path, 1 << 20)
    for i in range(100):
        sp.append(_rec(i))
    assert len(sp) == 100
    got = _drain(sp)
    assert [r.topic for r in got] == [f"t/{i}" for i in range(100)]
    assert got[3] == _rec(3)
    assert len(sp) == 0 and sp.peek() is None


def test_peek_is_stable_until_pop(tmp_path):
    sp = Spool(tmp_path)
    sp.append(_rec(1))
    sp.append(_rec(2))
    assert sp.peek() == sp.peek() == _rec(1)
    sp.pop()
    assert sp.peek() == _rec(2)


def test_reopen_continues_where_acknowledged(tmp_path):
    sp = Spool(tmp_path, 1 << 20, segment_bytes=4096)
    for i in range(500):
        sp.append(_rec(i))
    for _ in range(123):
        sp.peek()
        sp.pop()
    sp.close()
    sp2 = Spool(tmp_path, 1 << 20, segment_bytes=4096)
    assert len(sp2) == 377
    sp2.append(_rec(999))
    got = _drain(sp2)
    assert [r.topic for r in got] == [f"t/{i}" for i in range(123, 500)] + ["t/999"]


def test_consumed_segments_are_deleted(tmp_path):
    sp = Spool(tmp_path, 1 << 20, segment_bytes=1024)
    for i in range(300):
        sp.append(_rec(i))
    assert len(list(tmp_path.glob("seg-*.log"))) > 3
    _drain(sp)
    assert len(list(tmp_path.glob("seg-*.log"))) == 1


def test_bound_drops_oldest_and_counts(tmp_path):
    sp = Spool(tmp_path, max_bytes=20_000, segment_bytes=2_000)
    for i in range(2000):
        sp.append(_rec(i, 20))
    assert sp.size_bytes <= 20_000
    got = _drain(sp)
    assert sp.dropped + len(got) == 2000
    assert sp.dropped > 0
    idx = [int(r.topic[2:]) for r in got]
    assert idx == list(range(idx[0], 2000))  # the newest survive, contiguous, in order


def test_torn_tail_is_skipped_and_counted(tmp_path):
    sp = Spool(tmp_path, 1 << 20)
    for i in range(10):
        sp.append(_rec(i))
    sp.close()
    seg = sorted(tmp_path.glob("seg-*.log"))[-1]
    data = seg.read_bytes()
    seg.write_bytes(data[:-5])  # crash mid-write
    sp2 = Spool(tmp_path, 1 << 20)
    assert len(sp2) == 9
    sp2.append(_rec(42))
    got = _drain(sp2)
    assert [r.topic for r in got] == [f"t/{i}" for i in range(9)] + ["t/42"]
    assert sp2.corrupt == 1


def test_corrupt_crc_in_middle(tmp_path):
    sp = Spool(tmp_path, 1 << 20, segment_bytes=100_000)
    for i in range(10):
        sp.append(_rec(i))
    sp.close()
    seg = sorted(tmp_path.glob("seg-*.log"))[0]
    data = bytearray(seg.read_bytes())
    rec_len = len(data) // 10
    data[5 * rec_len + 12] ^= 0xFF
    seg.write_bytes(bytes(data))
    sp2 = Spool(tmp_path, 1 << 20)
    sp2.append(_rec(77))
    got = [r.topic for r in _drain(sp2)]
    assert got == [f"t/{i}" for i in range(5)] + ["t/77"]


def test_crash_without_close_loses_nothing_unacknowledged(tmp_path):
    sp = Spool(tmp_path, 1 << 20, segment_bytes=2048, head_interval_s=3600)
    for i in range(200):
        sp.append(_rec(i))
    sp.peek()
    sp.pop()                  # the first ack writes the head (interval not yet started)
    for _ in range(99):
        sp.peek()
        sp.pop()              # acknowledged, head file not rewritten (interval)
    sp._writer.flush()        # a crash: no close(); the OS has what was written
    sp2 = Spool(tmp_path, 1 << 20, segment_bytes=2048)
    got = [int(r.topic[2:]) for r in _drain(sp2)]
    assert got[-100:] == list(range(100, 200))        # every unacknowledged message is there
    assert got == list(range(got[0], 200))            # at most some acknowledged ones again, in order


def test_read_ahead_window_pop_and_rewind(tmp_path):
    sp = Spool(tmp_path, 1 << 20, segment_bytes=1024)
    for i in range(100):
        sp.append(_rec(i))
    assert [r.topic for r in sp.peek_many(16)] == [f"t/{i}" for i in range(16)]
    sp.pop(3)
    assert [r.topic for r in sp.peek_many(16)] == [f"t/{i}" for i in range(3, 19)]
    sp.rewind()                                   # connection lost: in-flight ones go again
    assert sp.peek().topic == "t/3" and len(sp) == 97
    sp.peek_many(50)
    sp.pop(50)
    assert sp.peek().topic == "t/53"


def test_bound_drop_under_read_ahead_restarts_the_window(tmp_path):
    sp = Spool(tmp_path, max_bytes=8_000, segment_bytes=1_000)
    for i in range(50):
        sp.append(_rec(i, 20))
    sp.peek_many(8)                               # the sender has the oldest in flight...
    for i in range(50, 400):
        sp.append(_rec(i, 20))                    # ...while the bound drops them
    got = [int(r.topic[2:]) for r in sp.peek_many(1000)]
    assert got == list(range(got[0], 400)) and got[0] > 8
    sp.pop(len(got))
    assert len(sp) == 0 and sp.dropped == got[0]
