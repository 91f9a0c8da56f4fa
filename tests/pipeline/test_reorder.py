"""The reorder buffer: order restored, duplicates dropped, late samples counted, gaps declared."""
import numpy as np
from hypothesis import given, settings, strategies as st

from spinewise.pipeline.reorder import ReorderBuffer
from spinewise.stream import ImuChunk

RATE = 50.0


def stream(n, start=0, seq=True, gyro=True):
    t = (np.arange(n) + start) / RATE
    acc = np.column_stack([t, -t, np.ones(n)])
    return ImuChunk(t, acc, acc * 2 if gyro else None, "dev", RATE,
                    seq=np.arange(n) + start if seq else None)


def feed(buf, chunks):
    out, events = [], []
    for c in chunks:
        got, ev = buf.push(c)
        events += ev
        if got is not None:
            out.append(got)
    got, ev = buf.flush()
    events += ev
    if got is not None:
        out.append(got)
    return (ImuChunk.concat(out) if out else None), events


def test_in_order_is_released_at_once_after_the_start():
    s = stream(200)
    buf = ReorderBuffer("dev", RATE, wait_s=2.0)
    got, _ = buf.push(s.slice(0, 25))
    assert got is None            # the very first samples wait for the horizon: maybe not first
    got, _ = buf.push(s.slice(25, 150))
    assert len(got) == 150 and buf.pending_samples == 0
    got, events = buf.push(s.slice(150, 175))
    assert len(got) == 25 and events == [] and buf.pending_samples == 0


def test_hole_waits_then_fills():
    s = stream(100)
    buf = ReorderBuffer("dev", RATE, wait_s=0.2)
    a, _ = buf.push(s.slice(0, 25))
    assert len(a) == 25
    b, _ = buf.push(s.slice(50, 60))      # hole 25..49: held back
    assert b is None and buf.pending_samples == 10
    c, ev = buf.push(s.slice(25, 50))     # hole filled: both runs go out in order
    assert len(c) == 35 and ev == []
    np.testing.assert_array_equal(c.seq, np.arange(25, 60))


@settings(max_examples=40, deadline=None)
@given(st.data(), st.booleans())
def test_any_shuffle_within_wait_gives_the_same_samples(data, by_seq):
    s = stream(300, seq=by_seq)
    chunks = list(s.split(data.draw(st.integers(1, 40))))
    # local shuffles (each chunk moves at most 2 places: well inside the 2 s wait) + duplicates
    order = sorted(range(len(chunks)), key=lambda i: i + data.draw(st.floats(0, 2.5)))
    dups = data.draw(st.lists(st.integers(0, len(chunks) - 1), max_size=5))
    sent = [chunks[i] for i in order] + [chunks[i] for i in dups]
    got, events = feed(ReorderBuffer("dev", RATE, 2.0), sent)
    np.testing.assert_array_equal(got.t_s, s.t_s)
    np.testing.assert_array_equal(got.acc_g, s.acc_g)
    assert events == []


def test_duplicates_counted_and_dropped():
    s = stream(50)
    buf = ReorderBuffer("dev", RATE)
    got, _ = feed(buf, [s.slice(0, 25), s.slice(0, 25), s.slice(20, 50)])
    assert len(got) == 50
    assert buf.counts.duplicates == 30


def test_gap_declared_after_wait_and_late_samples_dropped():
    s = stream(400)
    buf = ReorderBuffer("dev", RATE, wait_s=2.0)
    got, events = feed(buf, [s.slice(0, 100), s.slice(110, 400), s.slice(100, 110)])
    assert [e.kind for e in events] == ["gap"]
    gap = events[0].data
    assert gap["samples_lost"] == 10
    assert gap["start_s"] == s.t_s[99] and gap["end_s"] == s.t_s[110]
    assert len(got) == 390 and buf.counts.late == 10 and buf.counts.duplicates == 0
    assert np.all(np.diff(got.t_s) > 0)


def test_time_ordering_without_seq_declares_gap():
    s = stream(400, seq=False)
    buf = ReorderBuffer("dev", RATE, wait_s=1.0)
    got, events = feed(buf, [s.slice(0, 100), s.slice(150, 400)])
    assert events[0].data["samples_lost"] == 50
    assert len(got) == 350 and got.seq is None


def test_sequence_reset_is_not_a_duplicate():
    buf = ReorderBuffer("dev", RATE)
    a = stream(50)
    b = ImuChunk(a.t_s + 10.0, a.acc_g, a.gyro_dps, "dev", RATE, seq=np.arange(50))
    got, events = feed(buf, [a, b])
    assert len(got) == 100 and buf.counts.seq_resets == 1 and buf.counts.duplicates == 0


def test_state_roundtrip_continues_identically():
    s = stream(300)
    parts = [s.slice(0, 100), s.slice(150, 200), s.slice(100, 150), s.slice(200, 300)]
    ref, ref_ev = feed(ReorderBuffer("dev", RATE), parts)
    a = ReorderBuffer("dev", RATE)
    out = [a.push(parts[0])[0], a.push(parts[1])[0]]
    b = ReorderBuffer("dev", RATE)
    b.set_state(a.get_state())
    rest, ev = feed(b, parts[2:])
    got = ImuChunk.concat([c for c in out + [rest] if c is not None])
    np.testing.assert_array_equal(got.t_s, ref.t_s)


def test_time_backwards_with_increasing_seq_is_dropped():
    s = stream(50)
    t = s.t_s.copy()
    t[30] = t[10]
    bad = ImuChunk(t, s.acc_g, s.gyro_dps, "dev", RATE, seq=s.seq)
    buf = ReorderBuffer("dev", RATE)
    got, _ = feed(buf, [bad])
    assert len(got) == 49 and buf.counts.time_backwards == 1


def test_a_repeat_with_its_time_a_little_off_is_a_duplicate_not_a_reset():
    """A copy of the last sample with its time 0.2 s late (a flipped digit) was declared a
    sequence reset: released, it made the real samples after it look like time going back."""
    from dataclasses import replace

    buf = ReorderBuffer("d", RATE, wait_s=2.0)
    s = stream(200)
    pieces = [s.slice(0, 50), s.slice(50, 100)]
    last = s.slice(99, 100)
    pieces += [replace(last, t_s=last.t_s + 0.2), s.slice(100, 200)]
    out = []
    for c in pieces:
        got, _ = buf.push(c)
        if got is not None:
            out.append(got)
    got, _ = buf.flush()
    if got is not None:
        out.append(got)
    assert buf.counts.seq_resets == 0 and buf.counts.time_backwards == 0
    assert buf.counts.duplicates == 1
    assert np.array_equal(ImuChunk.concat(out).seq, np.arange(200))
