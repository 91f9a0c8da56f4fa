"""points_from_event: the schema's shape, types, keys and its handling of bad input."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinewise.events import Event
from spinewise.storage import MEASUREMENTS, SchemaError, points_from_event, time_ns
from spinewise.storage.schema import ACTIVITY_CODES, LIVE_ONLY_KINDS, points_from_chunk
from spinewise.stream import ImuChunk

EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z

SAMPLE_EVENTS = [
    Event("posture", 12.34, {"flexion_deg": 10.0, "lateral_deg": -1.5, "incl_deg": 12.0}),
    Event("minute", 60.0, {"start_s": 0.0, "sitting_s": 50.0, "standing_s": 10.0, "walking_s": 0,
                           "lying_s": 0, "exercise_s": 0, "sedentary_s": 50.0, "steps": 3,
                           "enmo_mg": 4.5, "slouch_s": 20.0}),
    Event("activity", 61.0, {"activity": "walking", "start_s": 61.0}),
    Event("rep", 90.0, {"exercise": "bird_dog", "index": 1, "side": "left", "start_s": 80.0,
                        "end_s": 90.0, "hold_s": 6.0, "amplitude_deg": 14.0,
                        "flags": ["hip_rotation"]}),
    Event("set_finished", 200.0, {"exercise": "bird_dog", "start_s": 80.0, "end_s": 200.0,
                                  "reps": 10, "reps_left": 5, "reps_right": 5,
                                  "reps_detail": [{"flags": ["hip_rotation"]}, {"flags": []}]}),
    Event("hold_finished", 260.0, {"exercise": "plank", "start_s": 230.0, "end_s": 260.0,
                                   "duration_s": 30.0, "flags": ["sag"],
                                   "stability": {"sway_deg_rms": 0.8, "tremor_mg_rms": None,
                                                 "drift_deg": 2.0}}),
    Event("sedentary_bout", 4000.0, {"start_s": 300.0, "end_s": 4000.0}),
    Event("slouch_ended", 500.0, {"start_s": 400.0, "end_s": 500.0, "flexion_deg": -25.0}),
    Event("break", 4100.0, {"start_s": 4000.0, "end_s": 4100.0}),
    Event("nudge", 3600.0, {"user": "ann", "reason": "sedentary", "sedentary_min": 52.0,
                            "suggestion": {"kind": "walk_break", "text": "Walk 3-5 minutes",
                                           "items": [], "guide": []}}),
    Event("nudge_outcome", 3900.0, {"user": "ann", "id": "ann-1", "outcome": "answered",
                                    "nudge_t_s": 3600.0, "response_s": 300.0}),
    Event("pain", 3700.0, {"score": 3, "leg": False, "note": "after gardening"}),
    Event("status", 10.0, {"battery_pct": 80, "rssi_dbm": -67, "rate_hz": 50.2, "connected": True}),
    Event("gap", 5000.0, {"start_s": 4990.0, "end_s": 5000.0, "samples_lost": 500}),
    Event("calibrated", 5.0, {"R_sensor_from_body": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                              "reason": "standing still"}),
]


def _one(event):
    points = points_from_event(event, "ann", "h10", epoch_s=EPOCH)
    assert len(points) == 1
    return points[0]


@pytest.mark.parametrize("event", SAMPLE_EVENTS, ids=lambda e: e.kind)
def test_every_stored_kind_follows_the_documented_schema(event):
    p = _one(event)
    spec = MEASUREMENTS[p.measurement]
    assert set(p.tags) == set(spec.tags)
    types = {f.name: f.type for f in spec.fields}
    python = {"float": float, "int": int, "str": str, "bool": bool}
    for name, value in p.fields.items():
        assert name in types, f"{p.measurement}.{name} is not documented"
        assert type(value) is python[types[name]], (p.measurement, name, value)
    assert p.to_line().startswith(p.measurement + ",")


def test_timestamps_are_the_start_of_what_a_point_describes():
    rep = _one(SAMPLE_EVENTS[3])
    assert rep.time_ns == time_ns(80.0, EPOCH)
    assert rep.fields["duration_s"] == 10.0
    assert rep.fields["flags"] == "hip_rotation" and rep.fields["flag_count"] == 1
    minute = _one(SAMPLE_EVENTS[1])
    assert minute.time_ns == int(EPOCH * 1e9)
    assert minute.fields["steps"] == 3 and isinstance(minute.fields["enmo_mg"], float)


def test_unavailable_figures_are_absent_not_nan():
    hold = _one(SAMPLE_EVENTS[5])
    assert "tremor_mg_rms" not in hold.fields
    nan_posture = Event("posture", 1.0, {"flexion_deg": 1.0, "lateral_deg": math.nan, "incl_deg": 3.0})
    assert "lateral_deg" not in _one(nan_posture).fields


def test_posture_is_quantised_to_the_angle_rate_so_extra_points_overwrite():
    events = [Event("posture", t, {"flexion_deg": float(i), "lateral_deg": 0.0, "incl_deg": 0.0})
              for i, t in enumerate([0.0, 0.1, 0.2, 0.3, 0.45, 0.5])]
    keys = [points_from_event(e, "u", "d", angle_rate_hz=2.0)[0].key for e in events]
    assert len(set(keys)) == 2          # two 0.5 s slots
    keys5 = [points_from_event(e, "u", "d", angle_rate_hz=5.0)[0].key for e in events]
    assert len(set(keys5)) == 3         # 0.2 s slots: {0, 0.1}, {0.2, 0.3}, {0.45, 0.5}


def test_same_event_gives_the_same_key_and_line():
    a = points_from_event(SAMPLE_EVENTS[3], "ann", "h10", epoch_s=EPOCH)[0]
    b = points_from_event(Event.from_dict(SAMPLE_EVENTS[3].to_dict()), "ann", "h10", epoch_s=EPOCH)[0]
    assert a.key == b.key and a.to_line() == b.to_line()


def test_activity_codes_and_live_only_kinds():
    p = _one(SAMPLE_EVENTS[2])
    assert p.fields == {"activity": "walking", "code": ACTIVITY_CODES["walking"]}
    for kind in LIVE_ONLY_KINDS:
        assert points_from_event(Event(kind, 1.0, {"exercise": "plank"}), "u", "d") == []
    assert points_from_event(Event("something_new", 1.0, {}), "u", "d") == []


def test_tags_escape_in_line_protocol():
    p = points_from_event(SAMPLE_EVENTS[0], "Ann Smith", "h10,chest=1")[0]
    assert "user=Ann\\ Smith" in p.to_line() and "device=h10\\,chest\\=1" in p.to_line()


@pytest.mark.parametrize("event", [
    Event("rep", 1.0, {"index": 1}),                                    # no exercise
    Event("posture", 1.0, {"lateral_deg": 1.0}),                        # no flexion
    Event("minute", 1.0, {"start_s": "yesterday"}),
    Event("minute", 60.0, {"start_s": 0.0, "steps": "many"}),
    Event("hold_finished", 1.0, {"exercise": "plank", "stability": [1, 2]}),
    Event("activity", 1.0, {}),
])
def test_malformed_events_raise_a_clear_schema_error(event):
    with pytest.raises(SchemaError, match=event.kind):
        points_from_event(event, "u", "d")


_values = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(),
                    st.text(max_size=5), st.lists(st.integers(), max_size=2),
                    st.dictionaries(st.sampled_from(["kind", "text", "sway_deg_rms"]),
                                    st.one_of(st.text(max_size=5), st.floats()), max_size=2))


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted({m.source for m in MEASUREMENTS.values()})),
       t_s=st.floats(0, 1e6),
       data=st.dictionaries(st.sampled_from(["start_s", "end_s", "exercise", "flexion_deg", "steps",
                                              "duration_s", "flags", "reps", "stability", "score",
                                              "activity", "index", "samples_lost", "rate_hz",
                                              "suggestion", "note", "nudge_t_s", "outcome"]),
                            _values, max_size=8))
def test_garbage_gives_points_or_schema_error_never_anything_else(kind, t_s, data):
    try:
        points = points_from_event(Event(kind, t_s, data), "u", "d")
    except SchemaError:
        return
    for p in points:
        assert "\n" not in p.to_line()
        assert all(not (isinstance(v, float) and not math.isfinite(v)) for v in p.fields.values())


def test_raw_imu_points_with_and_without_gyro():
    chunk = ImuChunk([0.0, 0.02], [[0, 0, 1], [0, 0.1, 1]], [[1, 2, 3], [4, 5, 6]], "h10", 50.0)
    pts = points_from_chunk(chunk, "ann", "h10", epoch_s=EPOCH)
    assert [p.fields["gz_dps"] for p in pts] == [3.0, 6.0]
    assert pts[1].time_ns - pts[0].time_ns == 20_000_000
    acc_only = ImuChunk([0.0], [[0, 0, 1]], None, "h10", 50.0)
    assert set(points_from_chunk(acc_only, "ann", "h10")[0].fields) == {"ax_g", "ay_g", "az_g"}


def test_nudge_keeps_the_suggestion_kind_and_text_and_outcome_lands_on_the_nudge():
    nudge = _one(SAMPLE_EVENTS[9])
    assert nudge.fields["suggestion"] == "walk_break" and nudge.fields["text"] == "Walk 3-5 minutes"
    outcome = _one(SAMPLE_EVENTS[10])
    assert outcome.time_ns == nudge.time_ns and outcome.fields["answered"] == 1


def test_docs_storage_md_has_the_current_schema_tables():
    from pathlib import Path

    from spinewise.storage.schema import schema_markdown
    doc = (Path(__file__).resolve().parents[2] / "docs" / "storage.md").read_text()
    start = doc.index("a test checks them -->\n\n") + len("a test checks them -->\n\n")
    end = doc.index("<!-- end of generated schema tables -->")
    assert doc[start:end] == schema_markdown(), (
        "docs/storage.md is out of date: paste spinewise.storage.schema.schema_markdown()")


def test_text_with_line_breaks_stays_on_one_line():
    ev = Event("pain", 1.0, {"score": 2, "note": "stiff\nafter\r\ndriving"})
    p = points_from_event(ev, "ann\nx", "h10")[0]
    assert p.fields["note"] == "stiff after driving"
    assert "\n" not in p.to_line() and "\r" not in p.to_line()


def test_the_gateway_status_document_is_stored_as_it_is():
    doc = {"v": 1, "device": "h10", "state": "online", "profile": "polar_h10", "address": "AA:BB",
           "rate_hz": 200.0, "has_gyro": False, "battery_pct": 87, "rssi_dbm": -71, "samples": 12000,
           "gaps": 1, "drops": 3, "drift_ppm": 12.5, "reconnects": 2, "watchdog_trips": 0,
           "decode_errors": 0, "spooled": 0}
    p = _one(Event("status", 100.0, doc))
    assert p.fields == {"battery_pct": 87.0, "rssi_dbm": -71.0, "rate_hz": 200.0, "connected": True,
                        "drops": 3, "reconnects": 2}
    off = _one(Event("status", 200.0, {"state": "offline", "reason": "connection lost"}))
    assert off.fields == {"connected": False}


def test_make_point_takes_numpy_scalars_and_refuses_other_types():
    import numpy as np

    from spinewise.storage import make_point
    p = make_point("m", {"user": "u"}, {"a": np.float64(1.5), "b": np.int32(2), "c": np.bool_(True)}, 1)
    assert p.fields == {"a": 1.5, "b": 2, "c": True} and type(p.fields["b"]) is int
    with pytest.raises(ValueError, match="m.d"):
        make_point("m", {"user": "u"}, {"d": [1, 2]}, 1)


def test_reconnecting_gateway_is_stored_as_not_connected():
    p = _one(Event("status", 300.0, {"v": 1, "device": "h10", "state": "reconnecting", "battery_pct": 50}))
    assert p.fields == {"battery_pct": 50.0, "connected": False}


def test_the_coach_summary_is_live_only_on_purpose():
    summary = Event("summary", 86400.0, {"type": "summary", "user": "ann", "date": "2026-01-01",
                                         "sedentary_min": 300.0, "steps": 4000, "nudges": {"sent": 2}})
    assert "summary" in LIVE_ONLY_KINDS and points_from_event(summary, "ann", "") == []


def test_the_pipeline_counters_measurement_is_documented_without_tags():
    from spinewise.storage.schema import schema_markdown

    spec = MEASUREMENTS["pipeline"]
    assert spec.tags == () and "`pipeline`\nFrom `Pipeline.stats()`" in schema_markdown()
    assert "tags: none." in schema_markdown()
    assert {"messages_in", "samples_processed", "outbox_dropped", "points_written"} <= {f.name for f in spec.fields}
