"""The Patients dashboard over the simulated fortnight as the pipeline would store it: the
tracker's events and the coach's own (plan, nudges, pain) written to a real InfluxDB 1.x
through the v1 Storage, every Patients query run for week 2026-W48 in Europe/Berlin, and the
numbers compared with the weekly report's figures for the same people and week."""
from __future__ import annotations

from datetime import timedelta

import pytest

from spinewise.config import CoachingConfig, InfluxConfig
from spinewise.storage import open_storage, points_from_event
from spinewise.storage.grafana import patients
from spinewise.weekly import CoachStoreSource, gather
from tests.deploy.test_dashboards import substitute
from tests.weekly import week as W

DB = "spinewise_patients"


@pytest.fixture(scope="module")
def stored(influxdb_v1, tmp_path_factory):
    influxdb_v1.query(f'DROP DATABASE "{DB}"', method="POST")
    d = tmp_path_factory.mktemp("patients")
    storage = open_storage(InfluxConfig(backend="v1", url=influxdb_v1.url, database=DB,
                                        batch_size=5000, spool_dir=str(d / "spool")),
                           background=False)

    def sink(events, user, device):
        for e in events:
            storage.write(points_from_event(e, user, device))

    store = W.fill(d / "c.sqlite", sink)
    storage.close()
    assert storage.stats()["points_rejected"] == 0 and storage.stats()["spool_depth"] == 0
    return influxdb_v1, store


def test_patients_rows_agree_with_the_weekly_report(stored):
    server, store = stored
    source = CoachStoreSource(store, CoachingConfig(timezone=W.TZ))
    week = (W.at(W.W48, 0), W.at(W.W48 + timedelta(days=7), 0) - 0.001)
    variables = {"user": "$__all", "device": "$__all", "tz": W.TZ}
    table = next(p for p in patients()["panels"] if p["title"] == "Patients")
    got: dict[str, dict] = {}
    for t in table["targets"]:
        res = server.query(substitute(t["query"], *week, variables), db=DB)["results"][0]
        assert "error" not in res, res
        for s in res.get("series", []):
            row = dict(zip(s["columns"], s["values"][0]))
            got.setdefault(s["tags"]["user"], {}).update(
                {(f"time {t['refId']}" if k == "time" else k): v for k, v in row.items()})
    ann, bob = (gather(source, u, W.W48) for u in ("ann", "bob"))
    a, b = got["ann"], got["bob"]
    assert a["sets"] + a["holds"] == ann.totals["sets"] == 15 and a["reps"] == ann.totals["reps"]
    assert a["planned sets"] == sum(e["planned_sets"] for e in ann.exercises) and a["plan"] == "train"
    recorded = [d["sedentary_h"] for d in ann.days if d["recorded"]]
    assert a["sedentary h/day"] == pytest.approx(sum(recorded) / len(recorded))
    assert (a["pain first"], a["pain last"], a["pain change"]) == (4, 2, -2)
    assert "red flags" not in a
    # last seen: the start of ann's last stored minute (Saturday's walk ends 11:30)
    assert a["time A"] == int(W.at(W.W48 + timedelta(days=5), 11, 29) * 1e9)
    assert b["sets"] == bob.totals["sets"] == 1 and b["red flags"] == 1 and b["plan"] == "stop"
    assert b["planned sets"] == 0 and bob.red_flags
