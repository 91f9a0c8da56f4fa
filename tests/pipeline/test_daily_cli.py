"""The daily CLI (``today``, ``pain``, ``snooze``, ``done``, ``patients``) against the running pipeline
over real Mosquitto, and ``today`` / ``coach`` against the coaching store."""
from __future__ import annotations

import json
import sqlite3

import pytest

from spinewise import cli
from spinewise.pipeline import Pipeline
from tests.pipeline.conftest import make_config, wait_until

pytestmark = pytest.mark.servers


def _toml(tmp_path, cfg, port) -> str:
    path = tmp_path / "spinewise.toml"
    path.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nprefix = "{cfg.mqtt.prefix}"\n'
                    f'[coaching]\nstate_db = "{cfg.coaching.state_db}"\n'
                    '[[devices]]\nid = "back1"\nuser = "ann"\n'
                    '[[devices]]\nid = "back2"\nuser = "bob"\n'
                    '[[carers]]\nid = "physio"\nusers = ["ann", "bob"]\n')
    return str(path)


def test_today_pain_snooze_patients_over_mosquitto(mqtt_server, tmp_path, capsys):
    cfg = make_config(tmp_path, mqtt_server.port, devices=(("back1", "ann"), ("back2", "bob")))
    toml = _toml(tmp_path, cfg, mqtt_server.port)
    pipeline = Pipeline(cfg)
    pipeline.start()
    try:
        assert cli.main(["--config", toml, "snooze", "30"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("nudges for ann snoozed until ")
        assert cli.main(["--config", toml, "done"]) == 0          # no nudge was sent yet
        assert capsys.readouterr().out == "no open nudge for ann to answer\n"

        assert cli.main(["--config", toml, "pain", "4"]) == 0
        assert "pain 4/10 logged for ann" in capsys.readouterr().out
        assert cli.main(["--config", toml, "pain", "6", "--leg", "--user", "bob"]) == 0
        out = capsys.readouterr().out
        assert "logged for bob" in out and "clinician" in out      # red flag advice

        assert cli.main(["--config", toml, "today", "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["user"] == "ann" and "sedentary_min_today" in status
        assert cli.main(["--config", toml, "today"]) == 0
        assert "spinewise coach - ann" in capsys.readouterr().out

        assert cli.main(["--config", toml, "patients", "--carer", "physio"]) == 0
        out = capsys.readouterr().out
        assert "carer physio: 2 people" in out and "- ann -" in out and "- bob -" in out
        assert "red_flag" in out                                  # bob's flag shows
        assert wait_until(lambda: (pipeline.counters.get("commands") or 0) >= 8, 5)
    finally:
        pipeline.stop()
    # the store the pipeline wrote: today/coach read it without a broker
    assert cli.main(["--config", toml, "today", "--db", cfg.coaching.state_db, "--user", "bob"]) == 0
    assert "red_flag" in capsys.readouterr().out


def test_pain_score_is_checked_before_sending(capsys):
    with pytest.raises(SystemExit):
        cli.main(["pain", "11"])


def test_today_without_broker_falls_back_to_the_store_or_says_why(tmp_path, capsys):
    from tests.servers import free_port
    port = free_port()
    cfg = make_config(tmp_path, port)
    toml = _toml(tmp_path, cfg, port)
    assert cli.main(["--config", toml, "today", "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "no coaching store" in err


def test_coach_refuses_files_that_are_not_its_store(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE points (x)")
    con.commit()
    con.close()
    before = other.read_bytes()
    for db, why in ((text, "not an SQLite file"), (other, "without the coaching tables")):
        assert cli.main(["coach", "--db", str(db), "--user", "ann"]) == 1
        assert why in capsys.readouterr().out
    assert other.read_bytes() == before          # nothing written into someone else's file
