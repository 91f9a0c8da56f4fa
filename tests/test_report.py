"""The ``--report`` figure: clock-time x axis in the config's zone, nudges marked, labels
apart on a long chart, slouch named."""
from __future__ import annotations

import re

import matplotlib
import pytest

matplotlib.use("Agg")

from spinewise.report import build_figure  # noqa: E402

START = 1767600000.0           # 2026-01-05 08:00 UTC = 09:00 Europe/Berlin


def _summary(duration_s: float, holds: list[dict]) -> dict:
    return {"duration_s": duration_s, "sample_rate_hz": 25.0, "has_gyro": True,
            "sets": [], "holds": holds,
            "activity": {"sedentary_s": 0.0, "walking_s": 0.0, "steps": 0,
                         "sedentary_bouts": [{"start_s": 100.0, "end_s": 3000.0}]},
            "posture": {"slouch_s": 60.0, "neutral_flexion_deg": {"sitting": -10.0},
                        "slouch_threshold_deg": 15.0},
            "calibration": {"events": []}}


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_clock_time_ticks_in_the_config_zone_and_nudges_marked():
    timeline = {"posture": [(t, -5.0, 0.0, 10.0) for t in range(0, 7200, 60)],
                "activity": [(0.0, "sitting")], "slouch": [(600.0, 900.0)],
                "nudge": [(3000.0, "time to move"), (6600.0, "time to move")]}
    fig = build_figure(_summary(7200.0, []), timeline, tz="Europe/Berlin", start_epoch_s=START)
    fig.canvas.draw()
    ax = fig.axes[-1]
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(re.fullmatch(r"\d\d:\d\d", t) for t in ticks), ticks
    assert ticks[0] >= "09:00" and ticks[-1] <= "11:00" and "10:00" in ticks
    assert "Europe/Berlin" in ax.get_xlabel()
    for panel in fig.axes:          # a dashed line through every panel at each nudge
        marks = [ln for ln in panel.get_lines() if ln.get_gid() == "nudge"]
        assert len(marks) == 2
    x0 = matplotlib.dates.date2num(matplotlib.dates.num2date(ax.get_xlim()[0]))
    first = [ln for ln in ax.get_lines() if ln.get_gid() == "nudge"][0].get_xdata()[0]
    assert (first - x0) * 86400 == pytest.approx(3000.0, abs=1.0)
    assert _texts(fig).count("nudge") == 2
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(t.startswith("slouch") and "below neutral" in t for t in legend)


def test_relative_recording_without_a_start_counts_from_zero():
    fig = build_figure(_summary(1200.0, []), {"activity": [(0.0, "sitting")]})
    assert "from the start" in fig.axes[-1].get_xlabel()


def test_hold_labels_do_not_overprint_on_a_24_h_chart():
    holds = [{"exercise": "plank", "start_s": t, "end_s": t + 30.0, "duration_s": 30.0}
             for t in range(3600, 3600 + 40 * 120, 120)]        # a plank every 2 min
    fig = build_figure(_summary(86400.0, holds), {"activity": [(0.0, "sitting")]},
                       tz="UTC", start_epoch_s=START)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[-1].texts if t.get_gid() == "label"]
    assert 1 <= len(boxes) < len(holds)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
