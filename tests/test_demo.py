"""``spinewise demo`` runs the whole system with no server installed and tells the whole story."""
import io

from spinewise import cli


def test_demo_shows_reps_a_timed_plank_and_a_nudge(tmp_path):
    from spinewise.demo import run_demo

    out = io.StringIO()
    res = run_demo(tmp_path, speed=0, out=out)
    text = out.getvalue()
    assert res.ok, text
    assert res.reps > 0 and "rep 1" in text
    assert any(h["exercise"] == "plank" and h["duration_s"] > 10 for h in res.holds)
    assert "plank holding ... 10 s" in text and ">>> NUDGE" in text
    assert res.summary["sets"] and res.stats.get("rejected", 0) == 0
    assert res.report_path.exists() and res.report_path.stat().st_size > 10_000
    assert (tmp_path / "demo.sqlite").exists()
    assert res.stats["samples_processed"] == 2280 * 50


def test_demo_command_is_registered():
    parser = cli.build_parser()
    args = parser.parse_args(["demo", "--speed", "0", "--out", "x"])
    assert args.func and args.speed == 0
