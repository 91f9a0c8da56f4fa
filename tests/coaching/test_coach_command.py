import json

from spinewise.cli import main
from spinewise.config import CoachingConfig, Config
from spinewise.events import Event
from spinewise.coaching import CoachService, CoachStore
from tests.coaching.helpers import epoch, minutes

NINE = epoch("2026-03-02T09:00:00", "UTC")


def _fill(db):
    svc = CoachService(Config(coaching=CoachingConfig(state_db=str(db))), CoachStore(db))
    svc.on_events("ann", minutes(NINE, 55))
    svc.on_events("ann", [Event("set_finished", NINE + 3400, {
        "exercise": "bird_dog", "start_s": NINE + 3300, "end_s": NINE + 3400, "reps": 20,
        "reps_left": 10, "reps_right": 10})])
    svc.store.close()


def test_coach_prints_status_and_plan(tmp_path, capsys):
    db = tmp_path / "c.sqlite"
    _fill(db)
    assert main(["coach", "--db", str(db), "--at", "2026-03-02T10:00:00+00:00"]) == 0
    out = capsys.readouterr().out
    assert "spinewise coach - ann - 2026-03-02" in out
    assert "sedentary today      55 min" in out and "reps today           20" in out
    assert "nudges today         1 sent" in out
    assert "PLAN: programme week 1, stability phase" in out and "why:" in out
    assert main(["coach", "--db", str(db), "--user", "ann", "--json",
                 "--at", "2026-03-02T10:00:00+00:00"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"]["reps_today"] == 20 and doc["plan"]["status"] == "train"


def test_coach_without_store_or_user(tmp_path, capsys):
    assert main(["coach", "--db", str(tmp_path / "none.sqlite")]) == 1
    assert "no coaching store" in capsys.readouterr().out
    db = tmp_path / "c.sqlite"
    _fill(db)
    store = CoachStore(db)
    store.put("bob", "flags", {})
    store.close()
    assert main(["coach", "--db", str(db)]) == 2
    assert "--user" in capsys.readouterr().out
    assert main(["coach", "--db", str(db), "--user", "ann", "--at", "yesterday"]) == 2
