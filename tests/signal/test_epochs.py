import numpy as np
from hypothesis import given, settings, strategies as st

from spinewise.signal.epochs import EpochSplitter


def _run(t, x, cuts):
    sp = EpochSplitter(1.0)
    out_i, out_m = [], []
    bounds = [0, *sorted(set(cuts)), len(t)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        ep = sp.push(t[a:b], x=x[a:b])
        if len(ep):
            out_i.append(ep.index)
            out_m.append(ep.mean("x"))
    ep = sp.flush()
    if len(ep):
        out_i.append(ep.index)
        out_m.append(ep.mean("x"))
    return np.concatenate(out_i), np.concatenate(out_m)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300), max_size=20), st.integers(0, 10 ** 6))
def test_epochs_identical_for_any_chunking(cuts, seed):
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.01, 0.05, 300)) + 1000.0
    x = rng.normal(size=300)
    i1, m1 = _run(t, x, [])
    i2, m2 = _run(t, x, cuts)
    assert np.array_equal(i1, i2)
    assert np.array_equal(m1, m2)           # bit-identical, not just close
    assert np.all(np.diff(i1) > 0)


def test_epochs_sit_on_absolute_grid_and_state_round_trips():
    t = np.arange(0.5, 5.0, 0.25)
    sp = EpochSplitter(1.0)
    ep = sp.push(t[:7], x=np.arange(7.0))
    assert list(ep.index) == [0, 1]          # epoch 2 is still open
    sp2 = EpochSplitter(1.0)
    sp2.set_state(sp.get_state())
    a, b = sp.push(t[7:], x=np.arange(7.0, t.size)), sp2.push(t[7:], x=np.arange(7.0, t.size))
    assert np.array_equal(a.index, b.index) and np.array_equal(a.mean("x"), b.mean("x"))


def test_pending_pieces_round_trip_through_state_at_every_sample():
    """Small pushes leave the open epoch in several pieces; a restore between any two
    pushes must carry all of them (the live pipeline restores at arbitrary points)."""
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.uniform(0.01, 0.05, 200)) + 50.0
    x = rng.normal(size=(200, 3))
    ref = EpochSplitter(1.0).push(t, x=x)
    sp, got_i, got_m = EpochSplitter(1.0), [], []
    for k in range(t.size):
        restored = EpochSplitter(1.0)
        restored.set_state(sp.get_state())
        sp = restored
        ep = sp.push(t[k:k + 1], x=x[k:k + 1])
        if len(ep):
            got_i.append(ep.index)
            got_m.append(ep.mean("x"))
    assert np.array_equal(np.concatenate(got_i), ref.index)
    assert np.array_equal(np.concatenate(got_m), ref.mean("x"))
    state = sp.get_state()
    assert state["carry"]["x"].shape[1:] == (3,) and state["carry_t"].size == state["carry"]["x"].shape[0]
