"""DeviceSession: live analysis equals offline analysis whatever the network does to the
stream (reordering, duplicates, chunking), across a snapshot/restore, accelerometer-only too."""
import pickle
import random

import numpy as np
import pytest

from spinewise.config import SignalConfig
from spinewise.pipeline.device import DeviceSession, shift_times
from spinewise.pipeline.replay import map_times
from spinewise.recording import read_chunks
from spinewise.signal.analyzer import Analyzer

EPOCH = 1772445600.0      # 2026-03-02T10:00:00Z, a whole minute


def factory(device_id, rate_hz):
    return Analyzer(SignalConfig(), device_id, rate_hz)


@pytest.fixture(scope="module")
def accel_only(fixtures_dir_module):
    path = fixtures_dir_module / "sim" / "ex_all_accel_only_25hz.csv"
    chunks = list(read_chunks(path, 4096))
    an = Analyzer(SignalConfig(), "ref", None)
    for c in chunks:
        an.update(c)
    an.finish()
    return path, an.summary()


@pytest.fixture(scope="module")
def fixtures_dir_module():
    from tests.conftest import FIXTURES
    return FIXTURES


def session_summary(chunks, *, restore_at=None, wait_s=2.0):
    s = DeviceSession("back1", "ann", factory, reorder_wait_s=wait_s)
    events = []
    for i, c in enumerate(chunks):
        if restore_at is not None and i == restore_at:
            state = pickle.loads(pickle.dumps(s.get_state()))
            s = DeviceSession("back1", "ann", factory, reorder_wait_s=wait_s)
            s.set_state(state)
        events += s.ingest([c])
    events += s.request_end(float(max(c.t_s[-1] for c in chunks)))
    return s, events


def chunking_note(path) -> str:
    """Whether the Analyzer alone gives the same sets with small and large chunks."""
    out = []
    for size in (100, 4096):
        an = Analyzer(SignalConfig(), "ref", None)
        for c in read_chunks(path, size):
            an.update(c)
        an.finish()
        out.append([(x["exercise"], x["reps"]) for x in an.summary()["sets"]])
    return ("" if out[0] == out[1] else
            f"the Analyzer itself is not chunk-invariant: {out[0]} (100) vs {out[1]} (4096)")


def compare(got, ref, offset, path=None):
    ref = shift_times(ref, offset)
    got_sets = [(x["exercise"], x["reps"], x["start_s"]) for x in got["sets"]]
    ref_sets = [(x["exercise"], x["reps"], x["start_s"]) for x in ref["sets"]]
    assert got_sets == ref_sets, chunking_note(path) if path else ""
    assert [(h["exercise"], h["duration_s"]) for h in got["holds"]] == \
        [(h["exercise"], h["duration_s"]) for h in ref["holds"]]
    assert got["activity"] == ref["activity"]
    assert got["unavailable"] == ref["unavailable"]


def test_shuffled_duplicated_stream_equals_offline_analysis(accel_only):
    path, ref = accel_only
    chunks = list(map_times(read_chunks(path, 100), "back1", EPOCH))
    rng = random.Random(7)
    sent = []
    for i, c in enumerate(chunks):          # swap neighbours and repeat some messages
        sent.append(c)
        if rng.random() < 0.1:
            sent.append(chunks[max(0, i - rng.randint(1, 3))])
    for i in range(0, len(sent) - 1, 7):
        sent[i], sent[i + 1] = sent[i + 1], sent[i]
    s, events = session_summary(sent, wait_s=10.0)      # a swap moves a 4 s chunk by 4 s
    assert s.buffer.counts.duplicates > 0 and s.buffer.counts.gaps == 0
    assert s.stats.samples == sum(map(len, chunks))
    compare(s.last_summary, ref, EPOCH, path)
    assert ref["unavailable"], "accelerometer-only: gyro figures must be reported unavailable"
    kinds = {e.kind for e in events}
    assert {"set_finished", "hold_finished", "rep", "minute"} <= kinds
    assert all(e.t_s > EPOCH - 120 for e in events)        # epoch times, not session times


def test_snapshot_restore_mid_stream_continues_identically(accel_only):
    path, ref = accel_only
    chunks = list(map_times(read_chunks(path, 250), "back1", EPOCH))
    s, _ = session_summary(chunks, restore_at=len(chunks) // 2)
    compare(s.last_summary, ref, EPOCH, path)


def test_end_marker_for_a_finished_stream_is_ignored(accel_only):
    path, _ = accel_only
    chunks = list(map_times(read_chunks(path, 500), "back1", EPOCH))[:6]
    s = DeviceSession("back1", "ann", factory)
    s.ingest(chunks)
    end = float(chunks[-1].t_s[-1])
    assert any(e.kind == "minute" for e in s.request_end(end))
    assert s.analyzer is None and s.live.finished
    assert s.request_end(end) == []          # the retained marker, delivered again
    assert s.analyzer is None


def test_end_marker_before_the_tail_waits_for_it(accel_only):
    """The tail still on its way (reordered, within the reorder wait) is waited for."""
    path, _ = accel_only
    chunks = list(map_times(read_chunks(path, 25), "back1", EPOCH))[:12]      # 1 s each at 25 Hz
    s = DeviceSession("back1", "ann", factory, reorder_wait_s=2.0)
    s.ingest(chunks[:10])
    assert s.request_end(float(chunks[-1].t_s[-1])) == []
    assert s.analyzer is not None
    s.ingest(chunks[4:])
    assert s.analyzer is None and s.last_summary is not None
    assert s.stats.samples == sum(map(len, chunks))


def test_live_figures_count_today_and_reset_on_a_new_day():
    from spinewise.events import Event
    from spinewise.pipeline.device import LiveFigures

    live = LiveFigures()
    day = lambda t: str(int(t // 86400))          # noqa: E731
    live.apply([Event("rep", 100.0, {"exercise": "bridge"}), Event("rep", 101.0, {"exercise": "bridge"}),
                Event("minute", 160.0, {"start_s": 100.0, "sedentary_s": 30.0}),
                Event("posture", 161.0, {"flexion_deg": -12.0, "lateral_deg": 1.0, "incl_deg": 12.0}),
                Event("hold_running", 170.0, {"exercise": "plank", "elapsed_s": 12.0})], day)
    doc = live.payload("back1", "ann")
    assert doc["reps_today"] == 2 and doc["sedentary_min_today"] == 0.5
    assert doc["trunk_angle_deg"] == -12.0 and doc["current_hold"]["elapsed_s"] == 12.0
    live.apply([Event("rep", 86400.0 + 5, {"exercise": "squat"})], day)
    assert live.reps_today == 1 and live.sedentary_s_today == 0.0


def test_shift_times_moves_points_in_time_not_durations():
    data = {"start_s": 1.0, "end_s": 3.0, "hold_s": 2.0, "duration_s": 2.0,
            "reps_detail": [{"start_s": 1.5, "hold_s": 1.0}], "t_from_s": 0.5, "elapsed_s": 4.0,
            "flag": True}
    out = shift_times(data, 10.0)
    assert out == {"start_s": 11.0, "end_s": 13.0, "hold_s": 2.0, "duration_s": 2.0,
                   "reps_detail": [{"start_s": 11.5, "hold_s": 1.0}], "t_from_s": 10.5,
                   "elapsed_s": 4.0, "flag": True}
    assert np.isclose(shift_times({"t_s": 1.0}, -1.0)["t_s"], 0.0)


def test_a_start_off_the_whole_second_is_analysed_on_the_clock_minute_grid(accel_only):
    """The Analyzer cuts epochs on whole seconds of its own time axis, so its results depend on
    where time 0 is. A session puts time 0 at the start of the minute of its first sample: a
    recording starting at 10:00:37.37 is analysed as if it started 37.37 s into a recording,
    on any day and at any hour (no float noise from epoch seconds), and minute epochs are
    clock minutes."""
    from dataclasses import replace

    path, _ = accel_only
    phase = 37.37
    ref_an = Analyzer(SignalConfig(), "ref", None)
    for c in read_chunks(path, 4096):
        ref_an.update(replace(c, t_s=np.round(c.t_s + phase, 6)))     # the file starts at 0
    ref_an.finish()
    ref = ref_an.summary()
    summaries = []
    for start in (EPOCH + phase, EPOCH + 17 * 86400 + 5 * 3600 + phase):
        chunks = list(map_times(read_chunks(path, 100), "back1", start))
        s, events = session_summary(chunks)
        assert s.origin_s == start - phase                  # the start of that clock minute
        minutes = [e.data["start_s"] for e in events if e.kind == "minute"]
        assert minutes and all(abs(m - s.origin_s - 60 * round((m - s.origin_s) / 60)) < 1e-6
                               for m in minutes)
        compare(s.last_summary, ref, s.origin_s, path)
        summaries.append(shift_times(s.last_summary, -s.origin_s))
    assert summaries[0]["activity"] == summaries[1]["activity"]


def test_a_stale_or_forged_end_marker_does_not_end_the_stream(accel_only):
    """A marker naming a time the stream has already passed is not the end of *this* stream:
    believed, it finished the Analyzer mid-recording and split its sets in two."""
    path, ref = accel_only
    chunks = list(map_times(read_chunks(path, 500), "back1", EPOCH))
    s = DeviceSession("back1", "ann", factory)
    assert s.request_end(EPOCH - 3600.0) == [] and s.end_t_s is None    # before any sample
    events = []
    for i, c in enumerate(chunks):
        events += s.ingest([c])
        if i == len(chunks) // 2:
            assert s.request_end(float(chunks[1].t_s[-1])) == []     # in the past
            assert s.request_end(EPOCH - 86400.0) == []               # a day before the stream
            assert s.request_end(float(chunks[-1].t_s[-1])) == []     # far ahead: forged
    assert s.stats.end_markers_ignored == 4 and s.stats.sessions == 1 and s.end_t_s is None
    events += s.request_end(float(chunks[-1].t_s[-1]))
    compare(s.last_summary, ref, EPOCH, path)


def test_live_figures_survive_a_time_no_calendar_has():
    """A far-future sample time raised in coaching.localtime via LiveFigures.apply and threw
    away the worker's cycle; now it counts on the same day."""
    from spinewise.coaching.localtime import local_date
    from spinewise.events import Event
    from spinewise.pipeline.device import LiveFigures

    live = LiveFigures()
    day_of = lambda t: local_date(t, "Europe/London").isoformat()    # noqa: E731
    live.apply([Event("rep", EPOCH, {"exercise": "bridge"}, "d")], day_of)
    for t in (1e15, 1e300, float("inf"), -1e15):
        live.apply([Event("rep", t, {"exercise": "bridge"}, "d")], day_of)
    assert live.reps_today == 5 and live.day == "2026-03-02"
