"""The generic disk spool: order, ack, reopen, bound, torn tails, bit rot, flock, crash safety."""
from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinewise.spool import Spool, SpoolBusyError


def rec(i: int, size: int = 10) -> bytes:
    return f"{i:06d}".encode() + bytes([i % 256]) * size


def ident(r: bytes) -> int:
    return int(r[:6])


def drain(sp: Spool, batch: int = 7) -> list[int]:
    out = []
    while recs := sp.peek(batch):
        out += [ident(r) for r in recs]
        sp.ack(len(recs))
    assert len(sp) == 0
    return out


def abandon(sp: Spool) -> None:
    """A process crash: the OS keeps what was written, no bookkeeping runs, the flock goes."""
    for f in (sp._writer, sp._lock_file):
        if f is not None:
            f.close()


def segments(d: Path) -> list[Path]:
    return sorted(d.glob("seg-*.log"))


def test_fifo_order_peek_is_stable_until_ack(tmp_path):
    sp = Spool(tmp_path, 1 << 20)
    for i in range(100):
        sp.append(rec(i))
    assert len(sp) == sp.depth_records == 100
    assert sp.peek(3) == sp.peek(3) == [rec(0), rec(1), rec(2)]
    assert [ident(r) for r in sp.peek(5)] == [0, 1, 2, 3, 4]    # the window grows
    sp.ack(2)
    assert sp.peek(1) == [rec(2)]
    assert drain(sp) == list(range(2, 100))
    assert sp.peek(4) == [] and sp.stats()["acked"] == 100


def test_ack_more_than_peeked_is_a_clear_error(tmp_path):
    sp = Spool(tmp_path)
    sp.append(rec(1))
    sp.peek(1)
    with pytest.raises(ValueError, match="peeked"):
        sp.ack(2)


def test_rewind_gives_the_window_again(tmp_path):
    sp = Spool(tmp_path, 1 << 20, segment_bytes=1024)
    sp.append_many(rec(i) for i in range(100))
    assert len(sp.peek(16)) == 16
    sp.ack(3)
    sp.rewind()
    assert ident(sp.peek(1)[0]) == 3 and len(sp) == 97
    sp.peek(50)
    sp.ack(50)
    assert ident(sp.peek(1)[0]) == 53


def test_reopen_continues_where_acknowledged_and_appends_to_a_new_segment(tmp_path):
    sp = Spool(tmp_path, 1 << 20, segment_bytes=4096)
    sp.append_many(rec(i) for i in range(500))
    for _ in range(123):
        sp.peek(1)
        sp.ack(1)
    sp.peek(10)                                    # in flight at close: not acknowledged
    sp.close()
    n_before = len(segments(tmp_path))
    sp2 = Spool(tmp_path, 1 << 20, segment_bytes=4096)
    assert len(sp2) == 377
    sp2.append(rec(999))
    assert len(segments(tmp_path)) == n_before + 1
    assert drain(sp2) == list(range(123, 500)) + [999]


def test_acknowledged_segments_are_deleted(tmp_path):
    sp = Spool(tmp_path, 1 << 20, segment_bytes=1024)
    sp.append_many(rec(i) for i in range(300))
    assert len(segments(tmp_path)) > 3
    drain(sp)
    assert len(segments(tmp_path)) == 1 and sp.depth_bytes == 0


def test_bound_drops_the_oldest_segment_and_counts_it(tmp_path, caplog):
    sp = Spool(tmp_path, max_bytes=20_000, segment_bytes=2_000)
    for i in range(2000):
        sp.append(rec(i, 20))
        assert sp.size_bytes <= 20_000             # the bound holds after every append
    assert sp.dropped > 0 and "dropped" in caplog.text
    got = drain(sp)
    assert sp.dropped + len(got) == 2000
    assert got == list(range(got[0], 2000))        # the newest survive, contiguous, in order


def test_records_in_flight_stay_deliverable_when_the_bound_drops_their_segment(tmp_path):
    sp = Spool(tmp_path, max_bytes=8_000, segment_bytes=1_000)
    sp.append_many(rec(i, 20) for i in range(50))
    window = [ident(r) for r in sp.peek(8)]        # the sender has these in flight...
    sp.append_many(rec(i, 20) for i in range(50, 400))   # ...while the bound drops their segment
    assert [ident(r) for r in sp.peek(8)] == window      # positions the sender holds stay valid
    sp.ack(8)                                      # their PUBACKs arrive
    rest = drain(sp)
    assert rest == list(range(rest[0], 400)) and rest[0] > 8
    assert sp.dropped == rest[0] - 8 and sp.stats()["acked"] == 8 + len(rest)


def test_in_flight_records_of_a_dropped_segment_count_as_dropped_when_rewound(tmp_path):
    sp = Spool(tmp_path, max_bytes=8_000, segment_bytes=1_000)
    sp.append_many(rec(i, 20) for i in range(50))
    sp.peek(8)
    sp.append_many(rec(i, 20) for i in range(50, 400))
    before = sp.dropped
    sp.rewind()                                    # connection lost: the window is gone
    assert sp.dropped == before + 8
    rest = drain(sp)
    assert sp.dropped + len(rest) == 400


def test_a_record_larger_than_the_bound_is_refused(tmp_path):
    sp = Spool(tmp_path, max_bytes=100)
    with pytest.raises(ValueError, match="does not fit"):
        sp.append(b"x" * 200)
    sp.append(b"x" * 50)
    assert len(sp) == 1


def test_oversized_record_gets_its_own_segment(tmp_path):
    sp = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=100)
    sp.append_many([b"a" * 10, b"b" * 500, b"c" * 10])
    assert [len(r) for r in sp.peek(3)] == [10, 500, 10]


def test_torn_tail_is_skipped_counted_and_never_glued_to_new_records(tmp_path):
    sp = Spool(tmp_path, 1 << 20)
    sp.append_many(rec(i) for i in range(10))
    sp.close()
    seg = segments(tmp_path)[-1]
    seg.write_bytes(seg.read_bytes()[:-5])        # crash mid-append
    sp2 = Spool(tmp_path, 1 << 20)
    assert len(sp2) == 9 and sp2.corrupt == 1 and sp2.stats()["corrupt_bytes"] == 8 + 16 - 5
    sp2.append(rec(42))
    assert drain(sp2) == list(range(9)) + [42]
    sp2.close()
    assert Spool(tmp_path).corrupt == 0           # counted once: the torn segment is gone


def test_bad_crc_in_the_middle_ends_its_segment(tmp_path):
    sp = Spool(tmp_path, 1 << 20, segment_bytes=100_000)
    sp.append_many(rec(i) for i in range(10))
    sp.close()
    seg = segments(tmp_path)[0]
    data = bytearray(seg.read_bytes())
    data[5 * (len(data) // 10) + 12] ^= 0xFF
    seg.write_bytes(bytes(data))
    sp2 = Spool(tmp_path, 1 << 20)
    sp2.append(rec(77))
    assert drain(sp2) == [0, 1, 2, 3, 4, 77] and sp2.corrupt == 1


def test_bit_rot_found_while_reading_is_skipped_and_depth_recounted(tmp_path):
    sp = Spool(tmp_path, 1 << 20, segment_bytes=100_000)
    sp.append_many(rec(i) for i in range(10))
    seg = segments(tmp_path)[0]
    with open(seg, "r+b") as f:                   # the disk changes under the open spool
        f.seek(3 * 24 + 10)
        f.write(b"\xff")
    assert drain(sp) == [0, 1, 2] and sp.corrupt == 1
    sp.append(rec(50))                             # goes to a fresh segment
    assert drain(sp) == [50]


def test_a_failed_write_leaves_a_readable_spool(tmp_path):
    import errno

    class DiskFull:                               # writes half, then fails like ENOSPC
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[:len(data) // 2])
            self.f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

    sp = Spool(tmp_path, 1 << 20)
    sp.append_many(rec(i) for i in range(3))
    sp._writer = DiskFull(sp._writer)
    with pytest.raises(OSError):
        sp.append_many(rec(i) for i in range(3, 6))
    assert len(sp) == 3
    sp.append(rec(9))                             # space again: a new segment
    assert drain(sp) == [0, 1, 2, 9]
    sp.close()
    assert Spool(tmp_path).corrupt == 0           # the torn segment was consumed and deleted


def test_unreadable_head_file_means_everything_is_read_again(tmp_path):
    sp = Spool(tmp_path)
    sp.append_many(rec(i) for i in range(5))
    sp.peek(2)
    sp.ack(2)
    sp.close()
    (tmp_path / "head").write_text("garbage")
    assert drain(Spool(tmp_path)) == [0, 1, 2, 3, 4]  # at-least-once, never at-most-once


def test_on_disk_record_format_is_length_crc_body(tmp_path):
    body = b"hello"
    (tmp_path / "seg-000000000001.log").write_bytes(struct.pack("<II", 5, zlib.crc32(body)) + body)
    assert Spool(tmp_path).peek(1) == [body]


def test_a_second_opener_is_refused_until_the_first_closes(tmp_path):
    first = Spool(tmp_path)
    with pytest.raises(SpoolBusyError, match="spool_dir"):
        Spool(tmp_path)
    code = f"""
        from spinewise.spool import Spool, SpoolBusyError
        try:
            Spool({str(tmp_path)!r})
        except SpoolBusyError:
            raise SystemExit(3)
    """
    assert subprocess.run([sys.executable, "-c", textwrap.dedent(code)]).returncode == 3
    first.close()
    Spool(tmp_path).close()


def test_a_killed_process_loses_nothing_unacknowledged(tmp_path):
    """A real crash (os._exit, no close): at most the acks of the last head interval return."""
    code = f"""
        import os
        from spinewise.spool import Spool
        sp = Spool({str(tmp_path)!r}, 1 << 20, segment_bytes=2048, head_interval_s=3600)
        sp.append_many(b"%06d" % i for i in range(200))
        for _ in range(100):
            sp.peek(1)
            sp.ack(1)
        os._exit(0)
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True)
    got = drain(Spool(tmp_path, 1 << 20, segment_bytes=2048))
    assert got[-100:] == list(range(100, 200))    # every unacknowledged record is there
    assert got == list(range(got[0], 200))        # at most some acknowledged ones again, in order


def test_sync_if_due_fsyncs_after_a_pause(tmp_path, monkeypatch):
    import os
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    sp = Spool(tmp_path, fsync_interval_s=0.0)
    sp.append(b"a")
    n = len(calls)
    assert n >= 1                                  # interval 0: fsync on every append
    sp.sync_if_due()
    assert len(calls) == n                         # nothing new to sync
    sp.fsync_interval_s = 3600
    sp.append(b"b")
    assert len(calls) == n                         # paced
    sp.fsync_interval_s = 0
    sp.sync_if_due()
    assert len(calls) == n + 1


# -- the property: any mix of appends, peeks, acks, rewinds, reopens and crashes ----------------
_ops = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(1, 30)),
    st.tuples(st.just("peek"), st.integers(1, 20)),
    st.tuples(st.just("ack"), st.integers(0, 20)),       # acks up to this many of the window
    st.tuples(st.just("rewind"), st.just(0)),
    st.tuples(st.just("reopen"), st.just(0)),
    st.tuples(st.just("crash"), st.integers(0, 40)),     # crash, torn append of k bytes (0: none)
    st.tuples(st.just("power_loss"), st.integers(1, 100))),  # crash, newest k bytes never synced
    max_size=40)


@settings(max_examples=80, deadline=None)
@given(ops=_ops, max_bytes=st.sampled_from([600, 2_000, 1 << 20]))
def test_spool_behaves_like_a_bounded_durable_fifo(ops, max_bytes):
    """Order kept; nothing acknowledged returns; nothing unacknowledged is lost except by the
    bound (only when over it, oldest first) and counted; the bound always holds."""
    tmp = tempfile.mkdtemp()
    opts = dict(segment_bytes=150, head_interval_s=0.0, fsync_interval_s=0.0)
    try:
        sp = Spool(tmp, max_bytes, **opts)
        pending: list[int] = []       # model: unacknowledged ids in order
        window = 0                    # how many of them the spool has handed out
        acked: list[int] = []
        n = 0
        for op, k in ops:
            dropped0 = sp.dropped
            if op == "append":
                size0 = sp.size_bytes
                ids = list(range(n, n + k))
                n += k
                sp.append_many(rec(i) for i in ids)
                pending += ids
                lost = sp.dropped - dropped0
                if lost:              # only when over the bound, and only unsent, oldest first
                    assert size0 + sum(8 + len(rec(i)) for i in ids) > max_bytes
                    del pending[window:window + lost]
            elif op == "peek":
                got = [ident(r) for r in sp.peek(k)]
                assert got == pending[:len(got)]
                assert len(got) == min(k, len(pending))
                window = max(window, len(got))
            elif op == "ack":
                m = min(k, window)
                sp.ack(m)
                acked += pending[:m]
                del pending[:m]
                window -= m
            elif op == "rewind":
                sp.rewind()
                del pending[:sp.dropped - dropped0]   # in-flight records of dropped segments
                window = 0
            elif op == "reopen":
                sp.close()
                del pending[:sp.dropped - dropped0]
                window = 0
                sp = Spool(tmp, max_bytes, **opts)
                del pending[:sp.dropped]              # (the bound is enforced at open too)
            elif op == "power_loss":  # unsynced appends lost: the newest records go
                abandon(sp)
                segs = segments(Path(tmp))
                if segs:
                    data = segs[-1].read_bytes()
                    segs[-1].write_bytes(data[:max(0, len(data) - k)])
                sp = Spool(tmp, max_bytes, **opts)
                new = [ident(r) for r in sp.peek(len(sp))]
                cut = (k + 8 + len(rec(0))) // (8 + len(rec(0)))  # records k bytes can hold
                if new:
                    a = pending.index(new[0])
                    assert new == pending[a:a + len(new)]    # a contiguous run, in order
                    assert a - sp.dropped <= window          # older: in flight over the bound
                    assert len(pending) - a - len(new) <= cut  # newer: only what was cut off
                else:
                    assert len(pending) <= window + sp.dropped + cut
                pending = new
                window = len(new)
            else:                     # crash, maybe in the middle of writing a record
                abandon(sp)
                if k and segments(Path(tmp)):
                    with open(segments(Path(tmp))[-1], "ab") as f:
                        f.write((struct.pack("<II", 50, 0) + b"z" * 50)[:k])
                sp = Spool(tmp, max_bytes, **opts)
                # in-flight records whose segment the bound deleted lived only in memory; the
                # torn bytes count against the bound at open (the oldest records make room)
                lost = len(pending) - len(sp)
                assert 0 <= lost - sp.dropped <= window
                del pending[:lost]
                window = 0
            assert len(sp) == len(pending)
            assert sp.size_bytes <= max_bytes
        rest = drain(sp)
        assert rest == pending
        delivered = acked + rest
        assert delivered == sorted(set(delivered))    # in order, nothing twice
        sp.close()
    finally:
        shutil.rmtree(tmp)


def test_spool_and_snapshot_files_are_private(tmp_path):
    """Spools and snapshots hold health data: owner only (they were 0644)."""
    import os
    import stat

    from spinewise.pipeline.snapshot import SnapshotStore
    from spinewise.spool import Spool

    d = tmp_path / "spool"
    d.mkdir(mode=0o755)
    (d / "old.txt").write_text("x")
    os.chmod(d / "old.txt", 0o644)
    with Spool(d, max_bytes=1 << 20, head_interval_s=0.0) as sp:
        sp.append(b"record")
        sp.peek(1)
        sp.ack(1)
        sp.sync()
    snaps = SnapshotStore(tmp_path / "state")
    snaps.save("back1", {"a": 1})
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)   # noqa: E731
    assert mode(d) == 0o700 and mode(tmp_path / "state") == 0o700
    files = [p for p in d.iterdir()] + list((tmp_path / "state").iterdir())
    assert files and all(mode(p) == 0o600 for p in files), {p.name: oct(mode(p)) for p in files}


def test_an_unusable_state_dir_is_an_error_naming_the_key(tmp_path):
    import pytest

    from spinewise.config import ConfigError
    from spinewise.pipeline.snapshot import SnapshotStore

    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="pipeline.state_dir"):
        SnapshotStore(tmp_path / "file" / "state")
