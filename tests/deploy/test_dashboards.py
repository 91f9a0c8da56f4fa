"""Every panel query of the generated dashboards, run against a real InfluxDB 1.6 holding a
known session, with Grafana's macros and variables substituted as Grafana does. Asserts the
numbers the session must give, panel by panel.

Substitution (Grafana's InfluxDB data source, InfluxQL raw mode):
- template variables first (frontend): a single value in a regex context is regex-escaped,
  a multi-value selection becomes ``(a|b)``, "All" with a custom all value becomes that
  value (our ``device`` uses ``.*``); ``$__from``/``$__to`` are epoch milliseconds;
- then the backend (pkg/tsdb/influxdb/models/query.go): ``$timeFilter`` ->
  ``time >= <from>ms and time <= <to>ms``, ``$interval``/``$__interval`` -> the rounded
  interval text (e.g. ``1m``), ``$__interval_ms`` -> milliseconds.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spinewise.config import InfluxConfig
from spinewise.storage import open_storage, points_from_event
from spinewise.storage.grafana import DASHBOARDS, write_dashboards
from spinewise.topics import ANY, Topics
from tests.deploy import session as S

ROOT = Path(__file__).resolve().parents[2]
DB = "spinewise_dash"
NS = 10**9

# Grafana's interval rounding (rangeutil.roundInterval): nearest nice step, as
# (upper bound of the raw interval in ms, rounded interval in ms, text)
_ROUND = [(1500, 1000, "1s"), (3500, 2000, "2s"), (7500, 5000, "5s"), (12500, 10000, "10s"),
          (17500, 15000, "15s"), (25000, 20000, "20s"), (45000, 30000, "30s"), (90000, 60000, "1m"),
          (210000, 120000, "2m"), (450000, 300000, "5m"), (750000, 600000, "10m"),
          (1050000, 900000, "15m"), (1500000, 1200000, "20m"), (2700000, 1800000, "30m"),
          (5400000, 3600000, "1h"), (9000000, 7200000, "2h"), (16200000, 10800000, "3h"),
          (27000000, 21600000, "6h"), (39600000, 43200000, "12h"), (604800000, 86400000, "1d"),
          (1814400000, 604800000, "1w")]


def grafana_interval(from_s: float, to_s: float, max_points: int = 1000) -> tuple[str, int]:
    """$__interval for a panel about max_points pixels wide (Grafana's default data points)."""
    raw_ms = (to_s - from_s) * 1000 / max_points
    for bound, ms, text in _ROUND:
        if raw_ms < bound:
            return text, ms
    return "30d", 2592000000


def _regex_escape(v: str) -> str:
    return re.sub(r"([\\^$*+?.()|{}\[\]/])", r"\\\1", v)


def substitute(query: str, from_s: float, to_s: float, variables: dict[str, list[str] | str]) -> str:
    """A raw InfluxQL target as Grafana sends it to InfluxDB."""
    def value(name, in_regex):
        v = variables[name]
        if v == "$__all":
            return ".*"                                # our allValue
        values = v if isinstance(v, list) else [v]
        if in_regex or len(values) > 1:
            values = [_regex_escape(x) for x in values]
        return values[0] if len(values) == 1 else "(" + "|".join(values) + ")"

    from_ms, to_ms = int(from_s * 1000), int(to_s * 1000)
    q = query.replace("$__from", str(from_ms)).replace("$__to", str(to_ms))
    variables = {"tz": "UTC", **variables}
    for name in sorted(variables, key=len, reverse=True):
        # a value is regex-escaped where the variable sits inside /.../, used as it is elsewhere
        q = re.sub(r"/\^\$" + name + r"\$/", lambda m: "/^" + value(name, True) + "$/", q)
        q = q.replace("${" + name + "}", value(name, False)).replace("$" + name, value(name, False))
    text, ms = grafana_interval(from_s, to_s)
    q = q.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    q = q.replace("$interval", text).replace("$__interval_ms", str(ms)).replace("$__interval", text)
    assert not re.search(r"\$(?!tag_)[A-Za-z_{]", q), f"unsubstituted macro left in {q}"
    return q


@pytest.fixture(scope="module")
def loaded(influxdb_v1, tmp_path_factory):
    """The session written through the real v1 Storage path."""
    influxdb_v1.query(f'DROP DATABASE "{DB}"', method="POST")
    cfg = InfluxConfig(backend="v1", url=influxdb_v1.url, database=DB, batch_size=1000,
                       spool_dir=str(tmp_path_factory.mktemp("spool")))
    storage = open_storage(cfg, background=False)
    for user, events in (("ann", S.ann_events()), ("bob", S.bob_events())):
        for e in events:
            storage.write(points_from_event(e, user, e.device_id))
    storage.close()
    stats = storage.stats()
    assert stats["spool_depth"] == 0 and stats["points_rejected"] == 0 and stats["write_errors"] == 0
    return influxdb_v1


def run(server, query: str) -> list[dict]:
    res = server.query(query, db=DB)["results"][0]
    assert "error" not in res, f"{res.get('error')}\n{query}"
    return res.get("series", [])


def pts(series: list[dict], col: int = 1) -> list[float]:
    """Non-null values of one column over all series, in order."""
    return [row[col] for s in series for row in s["values"] if row[col] is not None]


def by_tag(series: list[dict], tag: str, col: int = 1) -> dict[str, list[float]]:
    return {s["tags"][tag]: [r[col] for r in s["values"] if r[col] is not None] for s in series}


def when(series: list[dict]) -> list[int]:
    return [row[0] for s in series for row in s["values"] if row[1] is not None]


def approx(a, b):
    return a == pytest.approx(b, rel=1e-9, abs=1e-9)


def week_ns(day: int) -> int:
    return int(S.ts(day) * NS)


# -- the numbers the session must give, per (dashboard, panel title, refId) -------------------
def _exp_today():
    d = S.DAY
    return {
        ("Trunk angle", "A"): lambda s: pts(s) and all(approx(v, -20.0) for v in pts(s)),
        ("Trunk angle", "B"): lambda s: pts(s) and all(approx(v, 2.0) for v in pts(s)),
        ("Activity", "A"): lambda s: pts(s) == ["sitting", "walking", "sitting", "walking", "standing",
                                                "exercise", "standing"],
        ("Sedentary", "A"): lambda s: approx(pts(s), [110.0]),
        ("Longest sedentary bout", "A"): lambda s: approx(pts(s), [60.0]),
        ("Movement breaks", "A"): lambda s: pts(s) == [2],
        ("Nudges (answered)", "A"): lambda s: pts(s) == [2],
        ("Nudges (answered)", "B"): lambda s: pts(s) == [1],
        ("Steps", "A"): lambda s: pts(s) == [1450],
        ("Slouched", "A"): lambda s: approx(pts(s), [10.0]),
        ("Minutes per hour by activity", "A"): lambda s: approx(pts(s), [60.0, 50.0, 0.0, 0.0]),
        ("Minutes per hour by activity", "B"): lambda s: approx(pts(s), [0.0, 0.0, 10.0, 0.0])
        and when(s) == [int(S.ts(d, h) * NS) for h in (8, 9, 10, 18)],
        ("Minutes per hour by activity", "C"): lambda s: approx(pts(s), [0.0, 10.0, 5.0, 0.0]),
        ("Minutes per hour by activity", "D"): lambda s: approx(pts(s), [0.0, 0.0, 0.0, 0.0]),
        ("Minutes per hour by activity", "E"): lambda s: approx(pts(s), [0.0, 0.0, 0.0, 10.0]),
        ("Nudges", "A"): lambda s: pts(s) == ["walk_break", "walk_break"]
        and pts(s, 2) == [50.0, 48.0] and pts(s, 3) == ["Walk 3-5 minutes"] * 2,
    }


def _exp_exercise():
    return {
        ("Sets and reps by exercise", "A"): lambda s: {x["tags"]["exercise"]: x["values"][0][1:] for x in s}
        == {"bird_dog": [3, 34], "bridge": [2, 22]},
        ("Reps per day", "A"): lambda s: by_tag(s, "exercise") == {"bird_dog": [10, 12, 12], "bridge": [10, 12]},
        ("Plank hold time per week", "A"): lambda s: approx(pts(s), [30.0, 40.0, 45.0])
        and when(s) == [week_ns(5), week_ns(12), week_ns(19)],
        ("Plank hold time per week", "B"): lambda s: approx(pts(s), [30.0, 37.5, 45.0]),
        ("Plank stability per week", "A"): lambda s: approx(pts(s), [1.0, 0.8, 0.8]),
        ("Plank stability per week", "B"): lambda s: approx(pts(s), [5.0, 3.5, 2.0]),
        ("Form flags per week", "A"): lambda s: by_tag(s, "exercise") == {"bird_dog": [0, 0, 1], "bridge": [0, 0]},
        ("Form flags per week", "B"): lambda s: by_tag(s, "exercise") == {"plank": [0, 0, 1]},
        ("Flagged reps and holds", "A"): lambda s: [r[1:] for r in s[0]["values"]]
        == [["bird_dog", "hip_rotation", 15.0]],
        ("Flagged reps and holds", "B"): lambda s: [r[1:] for r in s[0]["values"]] == [["plank", "sag", 45.0]],
        ("Range of motion per day", "A"): lambda s: by_tag(s, "exercise")
        == {"bird_dog": [15.0, 15.0, 15.0], "bridge": [20.0, 20.0]},
    }


def _exp_trends():
    d = S.DAY
    return {
        ("Weekly reps against the 10 % line", "A"): lambda s: pts(s) == [20, 24, 12],
        # 110 % of the previous week: 1.1 x 20, 1.1 x 24
        ("Weekly reps against the 10 % line", "B"): lambda s: approx(pts(s), [22.0, 26.4])
        and when(s) == [week_ns(12), week_ns(19)],
        ("Weekly hold seconds against the 10 % line", "A"): lambda s: approx(pts(s), [30.0, 75.0, 45.0]),
        ("Weekly hold seconds against the 10 % line", "B"): lambda s: approx(pts(s), [33.0, 82.5]),
        ("Sedentary hours per day", "A"): lambda s: approx(pts(s), [110 / 60]) and when(s) == [int(S.ts(d) * NS)],
        ("Pain against activity", "A"): lambda s: approx(pts(s), [5.0, 4.0, 2.5]),
        ("Pain against activity", "B"): lambda s: approx(pts(s), [25.0]),
        ("Steps per day", "A"): lambda s: pts(s) == [1450],
        ("Slouched minutes per day", "A"): lambda s: approx(pts(s), [10.0]),
    }


def _exp_devices():
    return {
        ("Battery", "A"): lambda s: list(by_tag(s, "device")) == ["h10"]
        and pts(s)[0] == 90.0 and pts(s)[-1] == 78.0,
        ("Signal (RSSI)", "A"): lambda s: pts(s) and all(approx(v, -60.0) for v in pts(s)),
        ("Sample rate", "A"): lambda s: pts(s) and all(approx(v, 50.0) for v in pts(s)),
        ("Data lost to gaps", "A"): lambda s: approx(pts(s), [20.0]),
        ("Data lost to gaps", "B"): lambda s: pts(s) == [2],
        ("Connection gaps", "A"): lambda s: [r[1:] for r in s[0]["values"]] == [[12.0, 600], [8.0, 400]],
    }


def _rows(series: list[dict]) -> dict[str, list]:
    """A GROUP BY "user" table: {user: [time, value, ...]} (one row per person)."""
    assert all(len(s["values"]) == 1 for s in series)
    return {s["tags"]["user"]: s["values"][0] for s in series}


def _exp_patients():
    # over the three weeks: ann 5 sets (56 reps) and 4 holds, bob one set of 50
    return {
        ("Patients", "A"): lambda s: {u: r[0] for u, r in _rows(s).items()}
        == {"ann": int(S.ts(S.DAY, 18, 9) * NS), "bob": int(S.ts(S.DAY, 12, 29) * NS)},
        ("Patients", "B"): lambda s: {u: r[1:] for u, r in _rows(s).items()}
        == {"ann": [5, 56], "bob": [1, 50]},
        ("Patients", "C"): lambda s: {u: r[1:] for u, r in _rows(s).items()} == {"ann": [4]},
        ("Patients", "D"): lambda s: {u: r[1:] for u, r in _rows(s).items()}
        == {"ann": [9, "train"], "bob": [0, "stop"]},
        ("Patients", "E"): lambda s: {u: round(r[1], 9) for u, r in _rows(s).items()}
        == {"ann": round(110 / 60, 9), "bob": 0.5},
        ("Patients", "F"): lambda s: {u: r[1:] for u, r in _rows(s).items()}
        == {"ann": [5.0, 2.0, -3.0], "bob": [6.0, 6.0, 0.0]},
        ("Patients", "G"): lambda s: {u: r[1:] for u, r in _rows(s).items()} == {"bob": [1]},
        ("Pain by day", "A"): lambda s: by_tag(s, "user") == {"ann": [5.0, 4.0, 2.5], "bob": [6.0]},
        ("Sedentary hours per day", "A"): lambda s: {u: [round(v, 9) for v in vs] for u, vs in
                                                     by_tag(s, "user").items()}
        == {"ann": [round(110 / 60, 9)], "bob": [0.5]},
    }


EXPECTED = {"patients": (_exp_patients, S.RANGE_WEEKS), "today": (_exp_today, S.RANGE_TODAY), "exercise": (_exp_exercise, S.RANGE_WEEKS),
            "trends": (_exp_trends, S.RANGE_WEEKS), "devices": (_exp_devices, S.RANGE_DEVICES)}


@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_every_panel_query_gives_the_sessions_numbers(loaded, name):
    dashboard = DASHBOARDS[name]()
    expected_fn, (from_s, to_s) = EXPECTED[name]
    expected = expected_fn()
    # a carer's overview shows every person; the others one person
    variables = {"user": "$__all" if name == "patients" else "ann", "device": "$__all"}
    seen = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            key = (panel["title"], target["refId"])
            assert key in expected, f"{name}: no expected numbers for panel {key}; add them"
            q = substitute(target["query"], from_s, to_s, variables)
            series = run(loaded, q)
            assert expected[key](series), f"{name} / {key}:\n{q}\n{json.dumps(series)[:1500]}"
            seen.add(key)
    assert seen == set(expected), f"expectations for panels that no longer exist: {set(expected) - seen}"


def test_selecting_one_device_and_the_other_user(loaded):
    dash = DASHBOARDS["today"]()
    q = next(t["query"] for p in dash["panels"] if p["title"] == "Steps" for t in p["targets"])
    assert pts(run(loaded, substitute(q, *S.RANGE_TODAY, {"user": "ann", "device": ["h10"]}))) == [1450]
    assert pts(run(loaded, substitute(q, *S.RANGE_TODAY, {"user": "bob", "device": "$__all"}))) == [210]
    assert run(loaded, substitute(q, *S.RANGE_TODAY, {"user": "ann", "device": ["bob-h10"]})) == []
    multi = substitute(q, *S.RANGE_TODAY, {"user": ["ann", "bob"], "device": ["h10", "bob-h10"]})
    assert "/^(ann|bob)$/" in multi and pts(run(loaded, multi)) == [1660]


def test_daily_totals_follow_the_time_zone_variable(loaded):
    q = _panel_query("trends", "Pain against activity", "B")           # walking + exercise min/day
    utc = run(loaded, substitute(q, *S.RANGE_WEEKS, {"user": "ann", "device": "$__all"}))
    assert approx(pts(utc), [25.0]) and when(utc) == [int(S.ts(S.DAY) * NS)]
    # Tokyo is UTC+9: the 18:00 UTC exercise falls on the next local day
    tokyo = run(loaded, substitute(q, *S.RANGE_WEEKS, {"user": "ann", "device": "$__all",
                                                       "tz": "Asia/Tokyo"}))
    assert approx(pts(tokyo), [15.0, 10.0])
    assert when(tokyo) == [int((S.ts(S.DAY) - 9 * 3600) * NS), int((S.ts(S.DAY + 1) - 9 * 3600) * NS)]
    weekly = _panel_query("trends", "Weekly reps against the 10 % line", "B")
    assert weekly.count("tz('$tz')") == 1 and "fill(0) tz('$tz')))" in weekly


def test_template_variable_queries(loaded):
    for name, build in DASHBOARDS.items():
        variables = {v["name"]: v for v in build()["templating"]["list"]}
        assert set(variables) == {"user", "device", "tz"}
        assert variables["tz"]["type"] == "textbox" and variables["tz"]["query"] == "UTC"
        # one series per measurement: Grafana offers the distinct values over all of them
        users = {r[1] for s in run(loaded, variables["user"]["query"]) for r in s["values"]}
        assert users == {"ann", "bob"}
        q = substitute(variables["device"]["query"], *S.RANGE_TODAY, {"user": "ann"})
        assert {r[1] for s in run(loaded, q) for r in s["values"]} == {"h10"}


def test_dashboard_json_is_sane_and_committed_files_are_current(tmp_path):
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    import tomllib
    # the provisioned dashboards default to the shipped config's time zone
    shipped_tz = tomllib.loads((ROOT / "deploy/spinewise.toml").read_text())["coaching"]["timezone"]
    paths = write_dashboards(tmp_path, shipped_tz)
    for path in paths:
        d = json.loads(path.read_text())
        # the Foundation SDK's dashboard model reads it back unchanged (schema-shaped JSON)
        assert json.loads(json.dumps(Dashboard.from_json(d), cls=JSONEncoder)) == d
        assert d["uid"].startswith("spinewise-") and d["title"] and d["schemaVersion"] >= 36
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids))
        for p in d["panels"]:
            g = p["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
            assert p["datasource"] == {"type": "influxdb", "uid": "spinewise-influxdb"}
            for t in p["targets"]:
                assert t["rawQuery"] is True and t["query"].startswith(("SELECT", "SHOW"))
                assert "$timeFilter" in t["query"], f"{p['title']}: query ignores the time picker"
                assert '"user" =~ /^$user$/' in t["query"], f"{p['title']}: not filtered by user"
        committed = ROOT / "deploy" / "grafana" / "dashboards" / path.name
        assert committed.exists() and committed.read_text() == path.read_text(), (
            f"{committed} is stale: run `spinewise --config deploy/spinewise.toml dashboards`")


def test_interval_rounding_matches_grafana_for_the_ranges_used():
    assert grafana_interval(*S.RANGE_TODAY) == ("1m", 60_000)       # 86400 s / 1000 px = 86 s
    assert grafana_interval(0, 3600) == ("5s", 5000)                 # 3.6 s rounds to 5 s
    assert grafana_interval(0, 12 * 7 * 86400) == ("2h", 7_200_000)


# -- the same panels over events from the real Analyzer on committed simulator recordings -----
SIM_DAY = 21                                       # 2026-01-21, after the hand-built session
SIM_RUNS = [("office_snippet_25hz_random", 8), ("ex_prone_52hz_random", 18)]


@pytest.fixture(scope="module")
def analysed(loaded, tmp_path_factory):
    """Events of the Analyzer on two fixtures, stored for user "carol" through the v1 Storage."""
    from spinewise.recording import read_chunks
    from spinewise.signal.analyzer import Analyzer

    cfg = InfluxConfig(backend="v1", url=loaded.url, database=DB,
                       spool_dir=str(tmp_path_factory.mktemp("spool-sim")))
    storage = open_storage(cfg, background=False)
    runs = []
    for name, hour in SIM_RUNS:
        analyzer = Analyzer(device_id="sim1")
        events = []
        for chunk in read_chunks(ROOT / "fixtures" / "sim" / f"{name}.csv", chunk_size=500):
            events += analyzer.update(chunk)
        events += analyzer.finish()
        epoch = S.ts(SIM_DAY, hour)
        for e in events:
            storage.write(points_from_event(e, "carol", "sim1", epoch_s=epoch))
        runs.append((events, analyzer.summary(), epoch))
    storage.close()
    assert storage.stats()["points_rejected"] == 0 and storage.stats()["spool_depth"] == 0
    return runs


def _panel_query(name: str, title: str, ref: str = "A") -> str:
    dash = DASHBOARDS[name]()
    return next(t["query"] for p in dash["panels"] if p["title"] == title
                for t in p["targets"] if t["refId"] == ref)


def test_panels_over_analyzer_events_match_the_analysis(loaded, analysed):
    day = (S.ts(SIM_DAY), S.ts(SIM_DAY + 1) - 0.001)
    carol = {"user": "carol", "device": "$__all"}
    events = [e for run in analysed for e in run[0]]
    minutes = [e.data for e in events if e.kind == "minute"]

    def one(name, title, ref="A", rng=day):
        return pts(run(loaded, substitute(_panel_query(name, title, ref), *rng, carol)))

    assert one("today", "Steps") == [sum(m["steps"] for m in minutes)]
    assert approx(one("today", "Sedentary"), [sum(m["sedentary_s"] for m in minutes) / 60])
    breaks = sum(run_[1]["activity"]["breaks"] for run_ in analysed)
    assert one("today", "Movement breaks") == ([breaks] if breaks else [])
    longest = max(b["end_s"] - b["start_s"] for run_ in analysed
                  for b in run_[1]["activity"]["sedentary_bouts"])
    assert approx(one("today", "Longest sedentary bout"), [longest / 60])
    assert one("today", "Activity") == [e.data["activity"] for e in events if e.kind == "activity"]
    flexion = [e.data["flexion_deg"] for e in events if e.kind == "posture"]
    assert min(flexion) - 1e-9 <= min(one("today", "Trunk angle")) <= max(one("today", "Trunk angle")) <= max(flexion) + 1e-9

    # sets, reps and plank holds: whatever the Analyzer found comes out of the Exercise panels
    # (compared with its summary, not with truth: recognition accuracy is tested in tests/signal)
    table = run(loaded, substitute(_panel_query("exercise", "Sets and reps by exercise"), *day, carol))
    got = {s["tags"]["exercise"]: s["values"][0][1:] for s in table}
    want: dict[str, list[int]] = {}
    for s in analysed[1][1]["sets"]:
        sets, reps = want.get(s["exercise"], [0, 0])
        want[s["exercise"]] = [sets + 1, reps + s["reps"]]
    assert got == want
    planks = [h["duration_s"] for h in analysed[1][1]["holds"] if h["exercise"] == "plank"]
    week = (S.ts(SIM_DAY - 2), S.ts(SIM_DAY + 1) - 0.001)              # Monday .. the day
    longest = one("exercise", "Plank hold time per week", "A", week)
    assert approx(longest, [max(planks)] if planks else [])
    # every panel of every dashboard runs on real analyzer data without an InfluxQL error
    for name, build in DASHBOARDS.items():
        for p in build()["panels"]:
            for t in p["targets"]:
                run(loaded, substitute(t["query"], *day, carol))


def test_the_dashboards_command_writes_checks_and_rejects_bad_time_zones(tmp_path, capsys):
    from spinewise.cli import main

    out = tmp_path / "dash"
    assert main(["dashboards", "--out", str(out), "--tz", "Europe/London"]) == 0
    d = json.loads((out / "spinewise-trends.json").read_text())
    tz = next(v for v in d["templating"]["list"] if v["name"] == "tz")
    assert tz["query"] == "Europe/London" and tz["current"]["value"] == "Europe/London"
    assert main(["dashboards", "--out", str(out), "--tz", "Europe/London", "--check"]) == 0
    assert main(["dashboards", "--out", str(out), "--check"]) == 1          # UTC default differs
    assert main(["dashboards", "--out", str(out), "--tz", "Nowhere/Atlantis"]) == 2
    assert "unknown time zone" in capsys.readouterr().err


def test_devices_panels_show_what_the_gateway_publishes_through_the_pipeline(influxdb_v1, tmp_path):
    """Gateway status documents and gap events, as the gateway publishes them on MQTT, go through
    the pipeline into InfluxDB; every Devices panel then shows their numbers."""
    import time

    from spinewise.config import from_dict
    from spinewise.events import Event
    from spinewise.pipeline import Pipeline
    from tests.pipeline.conftest import wait_until
    from tests.pipeline.fakes import FakeClient, RecordingCoach

    db = "spinewise_dash_pipeline"
    influxdb_v1.query(f'DROP DATABASE "{db}"', method="POST")
    cfg = from_dict({"mqtt": {"prefix": "p"},
                     "influx": {"backend": "v1", "url": influxdb_v1.url, "database": db,
                                "spool_dir": str(tmp_path / "spool")},
                     "pipeline": {"state_dir": str(tmp_path / "st")},
                     "devices": [{"id": "h30", "user": "dave"}]})
    storage = open_storage(cfg.influx, background=False)
    pl = Pipeline(cfg, storage=storage, coach=RecordingCoach(), client_factory=FakeClient)
    pl.start(connect_timeout_s=0.1)
    topics = Topics("p")
    now = time.time()
    batteries, rssi = [81, 80, 79], [-58, -64, -70]
    try:
        for i, (b, r) in enumerate(zip(batteries, rssi)):
            doc = S.gateway_status("h30", battery_pct=b, rssi_dbm=r, samples=1000 * i)
            pl.sub.handlers[topics.device(ANY, "status")](topics.device("h30", "status"),
                                                          json.dumps(doc).encode())
        for start, dur, lost in [(now - 600, 4.0, 200), (now - 300, 6.0, 300)]:
            gap = Event("gap", start + dur, {"start_s": start, "end_s": start + dur, "samples_lost": lost}, "h30")
            pl.sub.handlers[topics.device(ANY, "link")](topics.device("h30", "link"),
                                                        json.dumps(gap.to_dict()).encode())
        assert wait_until(lambda: pl.counters.get("gateway_events") == 2, 10)
    finally:
        pl.stop()
    assert storage.stats()["points_rejected"] == 0 and storage.stats()["spool_depth"] == 0
    rng = (now - 7 * 86400, time.time() + 60)         # the dashboard's default range: 10 min buckets
    variables = {"user": "dave", "device": "$__all"}

    def panel(title, ref="A"):
        return influxdb_v1.query(substitute(_panel_query("devices", title, ref), *rng, variables),
                                 db=db)["results"][0].get("series", [])

    assert pts(panel("Battery"))[-1] == 79.0 and list(by_tag(panel("Battery"), "device")) == ["h30"]
    assert approx(sum(pts(panel("Signal (RSSI)"))) / len(pts(panel("Signal (RSSI)"))), -64.0)
    assert pts(panel("Sample rate")) and all(approx(v, 50.0) for v in pts(panel("Sample rate")))
    assert approx(pts(panel("Data lost to gaps")), [10.0]) and pts(panel("Data lost to gaps", "B")) == [2]
    assert [r[1:] for r in panel("Connection gaps")[0]["values"]] == [[4.0, 200], [6.0, 300]]


def test_the_dashboards_take_the_configs_time_zone(tmp_path):
    """Without --tz the dashboards default to coaching.timezone (issue 16); the provisioned
    ones are those of the shipped deploy/spinewise.toml."""
    import tomllib

    from spinewise.cli import main
    from spinewise.storage.grafana import render

    config = tmp_path / "spinewise.toml"
    config.write_text('[coaching]\ntimezone = "Asia/Tokyo"\n')
    out = tmp_path / "dash"
    assert main(["--config", str(config), "dashboards", "--out", str(out)]) == 0
    d = json.loads((out / "spinewise-today.json").read_text())
    tz = next(v for v in d["templating"]["list"] if v["name"] == "tz")
    assert tz["query"] == "Asia/Tokyo" and tz["current"]["value"] == "Asia/Tokyo"
    assert main(["--config", str(config), "dashboards", "--out", str(out), "--check"]) == 0
    assert main(["--config", str(config), "dashboards", "--out", str(out), "--tz", "UTC",
                 "--check"]) == 1                                # --tz overrides the config
