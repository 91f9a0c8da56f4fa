"""The storage spool: line-protocol lines over spinewise.spool (generic cases: tests/test_spool.py)."""
from __future__ import annotations

import shutil
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinewise.storage.spool import Spool, SpoolBusyError


def drain(sp: Spool, batch: int = 3) -> list[str]:
    out = []
    while len(sp):
        lines, receipt = sp.peek(batch)
        assert lines, "depth says lines are waiting but peek found none"
        out += lines
        sp.ack(receipt, len(lines))
    return out


def test_lines_come_back_in_order_and_only_ack_removes_them(tmp_path):
    sp = Spool(tmp_path)
    sp.append([f"m v={i}i {i}" for i in range(5)])
    sp.append([f"m v={i}i {i}" for i in range(5, 8)])
    assert sp.depth == 8
    lines, receipt = sp.peek(4)
    assert lines == [f"m v={i}i {i}" for i in range(4)]
    again, _ = sp.peek(4)                       # not acknowledged: the same lines again
    assert again == lines
    sp.ack(receipt, len(lines))
    assert sp.depth == 4
    assert drain(sp) == [f"m v={i}i {i}" for i in range(4, 8)]
    assert sp.peek(5) == ([], None)


def test_a_partial_ack_keeps_the_rest(tmp_path):
    sp = Spool(tmp_path)
    sp.append(["a", "b", "c"])
    lines, receipt = sp.peek(3)
    sp.ack(receipt, 1)
    assert drain(sp) == ["b", "c"]
    sp.append(["x", "y"])
    _, receipt = sp.peek(1)
    with pytest.raises(ValueError, match="peeked"):
        sp.ack(receipt, 2)                        # more than peek handed out


def test_a_restarted_spool_continues_after_the_acknowledged_part(tmp_path):
    sp = Spool(tmp_path)
    sp.append([f"m v={i}i {i}" for i in range(6)])
    lines, receipt = sp.peek(2)
    sp.ack(receipt, 2)
    sp.close()
    reopened = Spool(tmp_path)
    assert reopened.depth == 4
    assert drain(reopened) == [f"m v={i}i {i}" for i in range(2, 6)]


def test_a_line_torn_by_a_crash_is_dropped_not_sent_half_nor_glued(tmp_path):
    sp = Spool(tmp_path)
    sp.append(["m v=1i 1", "m v=23i 2"])
    sp.close()
    seg = next(tmp_path.glob("seg-*.log"))
    seg.write_bytes(seg.read_bytes()[:-6])      # crash mid-append: "m v=2" must not become v=2
    sp = Spool(tmp_path)
    sp.append(["m v=3i 3"])
    assert drain(sp, 10) == ["m v=1i 1", "m v=3i 3"]
    assert sp.stats()["corrupt"] == 1


def test_size_cap_drops_the_oldest_segment_and_counts_it(tmp_path):
    sp = Spool(tmp_path, max_bytes=250, segment_bytes=100)
    for i in range(10):
        sp.append([f"m v={i}i {i:020d}"] * 3)     # ~ 100 bytes per append: one segment each
    assert sp.dropped_lines > 0
    assert sp.depth + sp.dropped_lines == 30
    rest = drain(sp, 100)
    assert rest[-1].startswith("m v=9i")          # the newest data survives
    assert sp.depth == 0


def test_lines_of_the_earlier_lp_format_are_imported(tmp_path):
    (tmp_path / "000000000001.lp").write_bytes(b"m v=1i 1\nm v=2i 2\nm v=3i 3\nm v=4")
    (tmp_path / "000000000001.done").write_text("9")  # the first line was acknowledged
    sp = Spool(tmp_path)
    assert drain(sp) == ["m v=2i 2", "m v=3i 3"]
    assert not list(tmp_path.glob("*.lp")) and not list(tmp_path.glob("*.done"))


_ops = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(1, 40)),
    st.tuples(st.just("drain"), st.integers(1, 25)),       # peek n + ack
    st.tuples(st.just("peek"), st.integers(1, 25)),        # peek without ack (write failed)
    st.tuples(st.just("reopen"), st.just(0))), max_size=40)


@settings(max_examples=40, deadline=None)
@given(ops=_ops)
def test_storage_spool_behaves_like_a_durable_fifo(ops):
    """BufferedStorage's usage: failed and successful drains and restarts keep FIFO order,
    lose nothing and acknowledge nothing twice (small segments to exercise rotation)."""
    tmp = tempfile.mkdtemp()
    try:
        sp = Spool(tmp, segment_bytes=200)
        model: list[str] = []
        sent: list[str] = []
        n = 0
        for op, k in ops:
            if op == "append":
                lines = [f"m v={n + i}i {n + i}" for i in range(k)]
                n += k
                sp.append(lines)
                model += lines
            elif op in ("drain", "peek"):
                lines, receipt = sp.peek(k)
                assert lines == model[:len(lines)] and (lines or not model)
                if op == "drain":
                    sp.ack(receipt, len(lines))
                    sent += lines
                    del model[:len(lines)]
            else:
                sp.close()
                sp = Spool(tmp, segment_bytes=200)
            assert sp.depth == len(model)
        sent += drain(sp, 7)
        assert sent == [f"m v={i}i {i}" for i in range(n)]
        sp.close()
    finally:
        shutil.rmtree(tmp)


def test_a_second_user_of_the_same_spool_is_refused_until_the_first_closes(tmp_path):
    first = Spool(tmp_path)
    with pytest.raises(SpoolBusyError, match="spool_dir"):
        Spool(tmp_path)
    first.close()
    Spool(tmp_path).close()
