"""A carer sees only their people, in InfluxDB too (issue 14 item 3, issue 17): with
``influx.carer_copies`` the pipeline's storage writes each carer's people to a database of
their own, and ``spinewise acl --influxql`` makes the carer a login that reads that database
and nothing else. Checked on a real influxd 1.6 with auth on, through spinewise's own storage."""
from __future__ import annotations

import json
import stat

import pytest

from spinewise.access import carer_influx_passwords, carer_influxql
from spinewise.config import ConfigError, from_dict
from spinewise.storage import make_point, open_storage
from spinewise.storage.carers import CarerCopies
from tests.servers import influx_with_auth

ADMIN = ("admin", "admin-pw")
PIPELINE = ("spinewise-pipeline", "pw-pipeline")
T0_NS = 1772445600 * 10**9


def clinic(url: str = "http://127.0.0.1:1", tmp_path=None, **influx) -> object:
    return from_dict({
        "devices": [{"id": "clip-a", "user": "alex"}, {"id": "clip-s", "user": "sam"},
                    {"id": "clip-k", "user": "kim"}],
        "carers": [{"id": "physio-jo", "users": ["alex", "sam"]},
                   {"id": "physio-lee", "users": ["kim"]}],
        "influx": {"backend": "v1", "url": url, "database": "spinewise", "username": PIPELINE[0],
                   "password": PIPELINE[1], "carer_copies": True, "flush_interval_s": 0.05,
                   "spool_dir": str(tmp_path / "spool") if tmp_path else "/tmp/unused", **influx}})


def posture(user: str, i: int):
    return make_point("posture", {"user": user, "device": f"clip-{user[0]}"},
                      {"pitch_deg": float(i)}, T0_NS + i * 10**9)


class Memory:
    def __init__(self):
        self.points, self.closed = [], False

    def write(self, points):
        self.points += list(points)

    def flush(self, force=False):
        return True

    def close(self):
        self.closed = True

    def stats(self):
        return {"points_written": len(self.points), "backend_up": True}


def test_each_copy_gets_only_its_carers_people():
    main, jo, lee = Memory(), Memory(), Memory()
    store = CarerCopies(main, [("jo", ["alex", "sam"], jo), ("lee", ["kim"], lee)])
    store.write(posture(u, i) for i, u in enumerate(["alex", "kim", "sam", "nobody", "alex"]))
    assert [p.tags["user"] for p in main.points] == ["alex", "kim", "sam", "nobody", "alex"]
    assert [p.tags["user"] for p in jo.points] == ["alex", "sam", "alex"]
    assert [p.tags["user"] for p in lee.points] == ["kim"]
    st = store.stats()
    assert st["points_written"] == 5 and st["carer_points_written"] == 4
    assert st["carer_backends_up"] == 2
    store.close()
    assert main.closed and jo.closed and lee.closed


def test_carer_copies_without_carers_is_a_config_error(tmp_path):
    cfg = from_dict({"influx": {"backend": "v1", "carer_copies": True,
                                "spool_dir": str(tmp_path / "spool")}})
    with pytest.raises(ConfigError, match="influx.carer_copies"):
        open_storage(cfg.influx, carers=cfg.carers)


def test_carer_passwords_are_private_and_kept(tmp_path):
    cfg = clinic()
    first = carer_influx_passwords(cfg, tmp_path)
    assert set(first) == {"physio-jo", "physio-lee"} and len(set(first.values())) == 2
    assert stat.S_IMODE((tmp_path / "influxdb" / "physio-jo").stat().st_mode) == 0o600
    assert carer_influx_passwords(cfg, tmp_path) == first


@pytest.fixture(scope="module")
def influx(tmp_path_factory):
    yield from influx_with_auth(tmp_path_factory.mktemp("influx-carers"), ADMIN, (
        'CREATE DATABASE "spinewise"', f"CREATE USER \"{PIPELINE[0]}\" WITH PASSWORD '{PIPELINE[1]}'",
        f'GRANT WRITE ON "spinewise" TO "{PIPELINE[0]}"'))


def _users_in(server, db: str, login) -> tuple[int, set[str]]:
    status, body = server.request("/query", {"q": 'SELECT * FROM "posture"', "db": db}, login=login)
    if status != 200 or "error" in json.loads(body)["results"][0]:
        return status if status != 200 else 403, set()
    series = json.loads(body)["results"][0].get("series", [])
    users = set()
    for s in series:
        col = s["columns"].index("user")
        users |= {row[col] for row in s["values"]}
    return status, users


def test_a_carers_login_reads_exactly_their_people(influx, tmp_path):
    cfg = clinic(influx.url, tmp_path)
    passwords = carer_influx_passwords(cfg, tmp_path / "secrets")
    for _ in range(2):                      # run twice: adding a carer later re-runs it all
        for q in carer_influxql(cfg, passwords):
            status, body = influx.request("/query", {"q": q}, login=ADMIN)
            assert status == 200 and "error" not in body, (q, body)
    storage = open_storage(cfg.influx, background=False, carers=cfg.carers)
    storage.write(posture(u, i) for i, u in enumerate(["alex", "sam", "kim", "alex"]))
    assert storage.flush(force=True)
    assert storage.stats()["carer_points_written"] == 4
    storage.close()

    jo, lee = ("physio-jo", passwords["physio-jo"]), ("physio-lee", passwords["physio-lee"])
    assert _users_in(influx, "spinewise_carer_physio-jo", jo) == (200, {"alex", "sam"})
    assert _users_in(influx, "spinewise_carer_physio-lee", lee) == (200, {"kim"})
    assert _users_in(influx, "spinewise", ADMIN) == (200, {"alex", "sam", "kim"})
    # nobody else's data: not the main database, not another carer's copy
    assert _users_in(influx, "spinewise", jo)[1] == set()
    assert _users_in(influx, "spinewise_carer_physio-lee", jo)[1] == set()
    # and a carer cannot write
    status, body = influx.request("/write", {"db": "spinewise_carer_physio-jo"}, login=jo,
                                  body=b"posture,user=mallory pitch_deg=9 1772445600000000000")
    assert status == 403, body


def test_the_pipelines_stats_carry_the_copies_sums(tmp_path):
    from spinewise.pipeline import Pipeline
    from tests.pipeline.conftest import make_config

    main, jo = Memory(), Memory()
    store = CarerCopies(main, [("jo", ["alex"], jo)])
    store.write([posture("alex", 1), posture("kim", 2)])
    pipeline = Pipeline(make_config(tmp_path, 1), storage=store)
    stats = pipeline.stats()
    assert stats["points_written"] == 2 and stats["storage_carer_points_written"] == 1
