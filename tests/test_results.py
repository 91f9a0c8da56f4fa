"""The JSON contract of ``analyze``: the summary agrees with itself, and the text with it."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from spinewise.commands.analyze import analyze_recording, format_text
from spinewise.recording.units import Units
from spinewise.results import split_sedentary

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/sim/ex_prone_52hz_random.csv"
EPOCH = 1767600000.0         # 2026-01-05 08:00 UTC


def _damaged() -> bytes:
    """The fixture with epoch times, a NaN, a time going back and an 8 s gap."""
    lines = FIXTURE.read_text().splitlines()
    head, rows = lines[0], lines[1:]
    out = []
    for i, line in enumerate(rows):
        t, rest = line.split(",", 1)
        if 3000 <= i < 3400:
            continue                                   # the gap
        if i == 100:
            rest = "nan," + rest.split(",", 1)[1]
        if i == 200:
            t = repr(float(rows[150].split(",")[0]) + EPOCH)
        else:
            t = repr(float(t) + EPOCH)
        out.append(f"{t},{rest}")
    return ("\n".join([head, *out]) + "\n").encode()


@pytest.fixture(scope="module")
def summary() -> dict:
    return analyze_recording(io.BytesIO(_damaged()), units=Units())


def _overlap(a, b) -> float:
    return min(a[1], b[1]) - max(a[0], b[0])


def test_rejected_counts_what_the_reader_dropped(summary):
    counts = summary["read"]["counts"]
    assert counts.get("nan") == 1 and counts.get("non_monotonic") == 1 and counts.get("gap") == 1
    for reason, n in counts.items():
        if reason != "gap":
            assert summary["rejected"].get(reason, 0) >= n, reason
    assert summary["read"]["dropped"] == sum(n for r, n in counts.items() if r != "gap")


def test_sedentary_bouts_never_overlap_exercise(summary):
    spans = [(x["start_s"], x["end_s"]) for x in summary["sets"] + summary["holds"]]
    assert spans
    for bout in summary["activity"]["sedentary_bouts"]:
        assert bout["end_s"] > bout["start_s"]
        for span in spans:
            assert _overlap((bout["start_s"], bout["end_s"]), span) <= 1e-6, (bout, span)


def test_holds_keep_variant_and_side(summary):
    planks = [h for h in summary["holds"] if h["exercise"] == "plank"]
    sides = [h for h in summary["holds"] if h["exercise"] == "side_plank"]
    assert {h["variant"] for h in planks} == {"knee", "forearm"}      # the fixture's truth
    assert [h["side"] for h in sides] == ["right", "left"]


def test_times_are_seconds_from_the_first_sample(summary):
    assert summary["start_epoch_s"] == pytest.approx(EPOCH)
    for x in summary["sets"] + summary["holds"] + summary["activity"]["sedentary_bouts"]:
        assert 0 <= x["start_s"] <= x["end_s"] <= summary["duration_s"] + 1
    for g in summary["read"]["gaps"]:
        assert 0 < g["start_s"] < g["end_s"] <= summary["duration_s"]
    json.dumps(summary, allow_nan=False)


def test_text_shows_flags_gaps_and_drops_without_python_structures(summary):
    text = format_text(summary, "Europe/Berlin")
    assert not any(c in text for c in "{}[]'"), text
    assert "form: " in text and "sag" in text
    assert "gaps " in text and "input " in text and "1 nan" in text
    assert "plank (knee)" in text and "side_plank (left)" in text
    assert " 09:0" in text          # clock time in the configured zone (08:00 UTC + 1 h)


def test_split_sedentary_cuts_the_exercise_out():
    act = {"sedentary_s": 100.0,
           "sedentary_bouts": [{"start_s": 0.0, "end_s": 100.0}, {"start_s": 200.0, "end_s": 250.0}]}
    split_sedentary(act, [(10.0, 20.0), (90.0, 120.0), (240.0, 260.0)])
    assert [(b["start_s"], b["end_s"]) for b in act["sedentary_bouts"]] == [
        (0.0, 10.0), (20.0, 90.0), (200.0, 240.0)]
    assert act["sedentary_s"] == 100.0
