"""The weekly report over a simulated fortnight fed through CoachService: figures, CSV, PDF.

The PDF is rendered to PNG with pdftoppm and its text extracted with pdftotext (Debian
poppler-utils, installed by scripts/bootstrap --test); the printed numbers are checked
against what the weeks hold by construction and what the store recorded.
"""
from __future__ import annotations

import csv
import re
import shutil
import subprocess

import pytest

from spinewise.cli import main
from spinewise.config import CoachingConfig
from spinewise.weekly import CoachStoreSource, gather, parse_week, write_csv
from tests.weekly import week as W


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    d = tmp_path_factory.mktemp("weekly")
    db = d / "coaching.sqlite"
    store = W.fill(db)
    cfg = d / "spinewise.toml"
    cfg.write_text(W.config_text(db))
    return store, db, cfg


def _ann(filled):
    store = filled[0]
    return gather(CoachStoreSource(store, CoachingConfig(timezone=W.TZ)), "ann", W.W48)


def test_parse_week():
    assert parse_week("2026-W48").isoformat() == "2026-11-23"
    for bad in ("2026-48", "2026-W60", "W48"):
        with pytest.raises(ValueError, match="--week"):
            parse_week(bad)


def test_figures_match_the_simulated_week_and_the_store(filled):
    store = filled[0]
    wk = _ann(filled)
    assert wk.week == "2026-W48" and [d["date"] for d in wk.days][0] == "2026-11-23"
    by_ex = {e["exercise"]: e for e in wk.exercises}
    # done: 3 sessions of 22 / 24 reps and 3 x 16 s; last week 20 / 20 reps, 3 x 15 s
    assert (by_ex["dead_bug"]["sets"], by_ex["dead_bug"]["reps"]) == (3, 66)
    assert (by_ex["bird_dog"]["sets"], by_ex["bird_dog"]["reps"]) == (3, 72)
    assert (by_ex["plank"]["sets"], by_ex["plank"]["hold_s"]) == (9, 144.0)
    # the 10 % line is the progression's cap: 1.1 x last week's volume
    assert by_ex["dead_bug"]["line_volume"] == pytest.approx(66.0) and not by_ex["dead_bug"]["over_line"]
    assert by_ex["bird_dog"]["line_volume"] == pytest.approx(66.0) and by_ex["bird_dog"]["over_line"]
    assert by_ex["plank"]["line_volume"] == pytest.approx(148.5) and not by_ex["plank"]["over_line"]
    assert all(by_ex[n]["planned_volume"] is not None for n in ("dead_bug", "bird_dog", "plank"))
    # sedentary hours per day: 3.5 h Mon-Fri, none at the weekend
    assert [d["sedentary_h"] for d in wk.days] == [W.SEDENTARY_H_WEEKDAY] * 5 + [0.0, 0.0]
    assert [d["sets"] for d in wk.days] == [5, 0, 5, 0, 5, 0, 0]
    assert [d["pain_max"] for d in wk.days] == [4, None, 3, None, None, 2, None]
    assert wk.form_flags == [("bird_dog", "hip_rotation", 1), ("plank", "sag", 1)]
    assert [round(w["sway_deg_rms"], 3) if w["sway_deg_rms"] else None
            for w in wk.plank_weeks[-2:]] == [1.2, 0.9]
    assert [w["longest_s"] for w in wk.plank_weeks[-2:]] == [15.0, 16.0]
    # nudges: what the policy sent and settled, as stored
    stored = store.nudges("ann", W.at(W.W48, 0), W.at(W.W48 + W.timedelta(days=7), 0))
    assert wk.nudges["sent"] == len(stored) > 0
    assert wk.nudges["answered"] == sum(n["outcome"] == "answered" for n in stored) > 0
    assert wk.red_flags == []


def test_red_flags_are_listed(filled):
    store = filled[0]
    wk = gather(CoachStoreSource(store, CoachingConfig(timezone=W.TZ)), "bob", W.W48)
    assert wk.red_flags[0].startswith("RED FLAG active")
    assert "2026-11-26 08:00: pain 6/10 with leg" in wk.red_flags[1]
    assert "paused" in wk.plan_note


def test_csv_has_one_row_per_day_with_the_same_figures(filled, tmp_path):
    wk = _ann(filled)
    rows = list(csv.DictReader(write_csv(wk, tmp_path / "w.csv").open()))
    assert [r["date"] for r in rows] == [d["date"] for d in wk.days] and len(rows) == 7
    assert [float(r["sedentary_h"]) for r in rows] == [3.5] * 5 + [0.0, 0.0]
    assert [int(r["reps"]) for r in rows] == [46, 0, 46, 0, 46, 0, 0]
    assert [r["pain_max"] for r in rows] == ["4", "", "3", "", "", "2", ""]
    assert sum(int(r["nudges_sent"]) for r in rows) == wk.nudges["sent"]
    assert [float(r["walking_min"]) for r in rows] == [15.0] * 5 + [30.0, 0.0]
    assert [r["recorded"] for r in rows] == ["1"] * 6 + ["0"]           # Sunday: not worn


needs_poppler = pytest.mark.skipif(not (shutil.which("pdftoppm") and shutil.which("pdftotext")),
                                   reason="poppler-utils not installed (scripts/bootstrap --test)")


@needs_poppler
def test_pdf_renders_and_prints_the_weeks_numbers(filled, tmp_path):
    _, db, cfg = filled
    pdf = tmp_path / "ann.pdf"
    assert main(["--config", str(cfg), "report", "--user", "ann", "--week", "2026-W48",
                 "--out", str(pdf)]) == 0
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(pdf), str(tmp_path / "page")],
                   check=True)
    png = (tmp_path / "page.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M)
    text = " ".join(subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())
    wk = _ann(filled)
    t = wk.totals
    assert "spinewise weekly report - ann - 2026-W48" in text
    assert f"Sets {t['sets']} Reps {t['reps']} Hold 144 s Form flags 2 Sedentary 17.5 h" in text
    assert f"Nudges sent {wk.nudges['sent']} / answered {wk.nudges['answered']}" in text
    assert "bird_dog 3 72 72" in text and "66 60 OVER 10 % line" in text      # over the line
    assert "dead_bug 3 66 66" in text and "plank 9 144 s 144" in text
    assert "Red flags: none reported this week" in text
    assert "bird dog: hip_rotation x1" in text and "plank: sag x1" in text


@needs_poppler
def test_red_flag_page_and_png_and_csv_from_the_command(filled, tmp_path):
    _, db, cfg = filled
    pdf = tmp_path / "bob.pdf"
    assert main(["--config", str(cfg), "report", "--user", "bob", "--week", "2026-W48",
                 "--out", str(pdf)]) == 0
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert "RED FLAG active" in text and "pain 6/10 with leg" in text
    png = tmp_path / "bob.png"
    assert main(["--config", str(cfg), "report", "--user", "bob", "--week", "2026-W48",
                 "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    out = tmp_path / "bob.csv"
    assert main(["--config", str(cfg), "report", "--user", "bob", "--week", "2026-W48",
                 "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 8


def test_command_errors(filled, tmp_path, capsys):
    _, db, cfg = filled
    base = ["--config", str(cfg), "report"]
    assert main(base + ["--user", "ann", "--out", str(tmp_path / "x.docx")]) == 2
    assert main(base + ["--user", "ann", "--week", "48", "--out", str(tmp_path / "x.pdf")]) == 2
    assert main(base + ["--user", "zoe", "--out", str(tmp_path / "x.pdf")]) == 1
    err = capsys.readouterr().err
    assert "--out" in err and "--week" in err and "no data for user 'zoe'" in err
