"""JumpGuard: a jump in time or sequence numbers goes on only once later messages confirm it
(issue 17: one chunk a day ahead once moved the stream, real samples were then dropped as late
and a gap claimed 999,940,000 lost samples)."""
import pickle
from dataclasses import replace

import numpy as np

from spinewise.pipeline.device import DeviceSession
from spinewise.pipeline.jumps import JumpGuard
from spinewise.stream import ImuChunk
from tests.pipeline.fakes import FakeAnalyzer

T0 = 1.7e9


def msg(k, n=25, rate=50.0, dt_s=0.0, dseq=0):
    """The k-th 0.5 s message of a numbered 50 Hz stream."""
    seq = np.arange(k * n, (k + 1) * n, dtype=np.int64)
    return ImuChunk(T0 + seq / rate + dt_s, np.tile([0.0, 0.0, 1.0], (n, 1)), None, "d", rate,
                    seq=seq + dseq)


def feed(guard, chunks):
    out = []
    for c in chunks:
        out += guard.push(c)
    return out


def test_a_chunk_a_day_ahead_is_dropped_and_the_stream_goes_on():
    s = DeviceSession("d", "u", FakeAnalyzer, reorder_wait_s=2.0)
    for k in range(10):
        s.ingest([msg(k)])
    s.ingest([replace(msg(10), t_s=msg(10).t_s + 86400.0, seq=msg(10).seq + 10**9)])
    for k in range(10, 40):
        s.ingest([msg(k)])
    s.flush()
    assert s.buffer.counts.gaps == 0 and s.buffer.counts.samples_lost == 0
    assert s.buffer.counts.late == 0 and s.stats.samples == 40 * 25
    assert s.guard.counts.samples_unconfirmed == 25 and s.guard.counts.jumps_confirmed == 0


def test_a_real_jump_is_believed_once_it_spans_the_reorder_window():
    g = JumpGuard("d", window_s=2.0)
    out = feed(g, [msg(k) for k in range(6)])
    assert sum(map(len, out)) == 6 * 25            # the first run, once it spans 2 s
    # the sensor was off for an hour: every later message continues from the new place
    later = [msg(k, dt_s=3600.0, dseq=180000) for k in range(6, 16)]
    got = [feed(g, [c]) for c in later]
    assert [len(x) for x in got[:4]] == [0, 0, 0, 0]        # held until 2 s of it arrived
    assert sum(len(c) for x in got for c in x) == 10 * 25   # then all of it, nothing lost
    assert g.counts.jumps_confirmed == 1 and g.counts.samples_unconfirmed == 0


def test_a_few_consistent_forged_messages_between_real_ones_never_move_the_stream():
    """Copies of the stream with the sequence numbers 10^4 on (consistent with each other) are
    refuted by the real stream continuing between them."""
    g = JumpGuard("d", window_s=2.0)
    out = feed(g, [msg(k) for k in range(6)])
    for k in range(6, 60):
        out += feed(g, [msg(k)])
        if k % 2:
            out += feed(g, [msg(k - 1, dseq=10**4), msg(k, dseq=10**4)])   # two consistent fakes
    assert g.counts.jumps_confirmed == 0
    assert np.array_equal(np.concatenate([c.seq for c in out]), np.arange(60 * 25))


def test_candidates_stay_bounded_and_the_growing_run_survives_the_noise():
    """Before the stream is placed, lone absurd messages do not evict the real stream's run."""
    g = JumpGuard("d", window_s=2.0)
    out = []
    rng = np.random.default_rng(0)
    for k in range(8):
        out += feed(g, [msg(k)])
        for _ in range(30):
            out += feed(g, [msg(k, dt_s=float(rng.uniform(10, 1e6)), dseq=int(rng.integers(1, 10**9)))])
        assert len(g._candidates) <= 64
    assert np.array_equal(np.concatenate([c.seq for c in out]), np.arange(8 * 25))


def test_state_round_trip_with_runs_pending():
    g = JumpGuard("d", window_s=2.0)
    feed(g, [msg(k) for k in range(6)])
    feed(g, [msg(k, dt_s=3600.0, dseq=180000) for k in range(6, 8)])       # a run, unconfirmed
    h = JumpGuard("d", window_s=2.0)
    h.set_state(pickle.loads(pickle.dumps(g.get_state())))
    rest = [msg(k, dt_s=3600.0, dseq=180000) for k in range(8, 12)]
    a, b = feed(g, rest), feed(h, rest)
    assert [c.seq.tolist() for c in a] == [c.seq.tolist() for c in b] and len(a) == 6
    assert g.counts == h.counts


def test_copies_of_old_messages_with_moved_numbers_never_move_the_stream():
    """Two copies of earlier messages 2 s apart with the same seq offset once made a run that
    spanned the window (the issue's fuzz: seq resets, samples lost); a jump back in time is
    dropped at once, and a run needs the window's samples, not just its span."""
    g = JumpGuard("d", window_s=2.0)
    out = feed(g, [msg(k) for k in range(8)])
    for k in range(8, 40):
        out += feed(g, [msg(k)])
        out += feed(g, [msg(k - 6, dseq=10**4), msg(k - 2, dseq=10**4)])      # in the past
        out += feed(g, [msg(k + 1, dt_s=30.0, dseq=10**4 + 1500), msg(k + 5, dt_s=30.0, dseq=10**4 + 1500)])
    assert g.counts.jumps_confirmed == 0
    assert np.array_equal(np.concatenate([c.seq for c in out]), np.arange(40 * 25))
