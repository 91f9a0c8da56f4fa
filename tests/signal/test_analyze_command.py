"""``spinewise analyze``: JSON contract, text, PNG report, clean failures (exit 2)."""
import json
import subprocess
import sys

from spinewise.cli import main
from tests.signal.conftest import fixture_path

CONTRACT = {"duration_s", "sample_rate_hz", "sets", "holds", "activity", "posture"}
ACTIVITY = {"sedentary_s", "sitting_s", "standing_s", "walking_s", "lying_s", "exercise_s",
            "steps", "breaks", "sedentary_bouts"}


def test_json_is_exactly_one_object_with_the_contract(capsys):
    path = fixture_path("office_snippet_52hz_accel_only")
    assert main(["analyze", str(path), "--json", "--chunk", "500"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)                       # exactly one JSON document
    assert CONTRACT <= set(data) and ACTIVITY <= set(data["activity"])
    assert "slouch_s" in data["posture"] and "axial_rate_dps" in data["unavailable"]
    assert data["sample_rate_hz"] == 52.0


def test_text_summary_and_png_report(tmp_path, capsys):
    path = fixture_path("office_snippet_25hz_random")
    png = tmp_path / "r.png"
    assert main(["analyze", str(path), "--report", str(png)]) == 0
    out = capsys.readouterr().out
    assert "sedentary" in out and "steps" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20000


def test_malformed_files_exit_2_without_traceback(tmp_path, capsys):
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("time,x,y,z\n1,2,3,4\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    for path in (empty, tmp_path / "missing.csv"):
        assert main(["analyze", str(path), "--json"]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and "spinewise analyze:" in captured.err
    # one real process: nothing but the message reaches the terminal
    proc = subprocess.run([sys.executable, "-m", "spinewise.cli", "analyze", str(bad_header), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert "spinewise analyze:" in proc.stderr


def test_unknown_exercise_is_a_clean_error(capsys):
    path = fixture_path("office_snippet_25hz_random")
    assert main(["analyze", str(path), "--exercise", "pushup"]) == 2
    assert "pushup" in capsys.readouterr().err
