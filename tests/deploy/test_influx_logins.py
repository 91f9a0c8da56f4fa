"""Least-privilege InfluxDB logins, for real: the InfluxQL statements docs/deploy.md gives for
InfluxDB 1.x run against a real influxd with auth on (Debian's 1.6); the pipeline's login
writes through spinewise's own v1 backend but cannot read, Grafana's reads but cannot write.
(The 2.x compose init makes the same two logins with `influx v1 auth create`: checked against a
stand-in CLI in test_deploy.py, as no InfluxDB 2 runs here.)"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spinewise.storage.backends import InfluxV1Backend, TransientWriteError
from tests.servers import influx_with_auth

DOCS = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
ADMIN = ("admin", "admin-pw")
PIPELINE = ("spinewise-pipeline", "pw-pipeline")
GRAFANA = ("spinewise-grafana", "pw-grafana")


def documented_statements() -> list[str]:
    """The ```sql block of docs/deploy.md's "InfluxDB 1.x instead of 2.x", passwords filled in."""
    section = DOCS.read_text().split("### InfluxDB 1.x instead of 2.x", 1)[1]
    block = re.search(r"```sql\n(.*?)```", section, re.S).group(1)
    block = block.replace("PIPELINE-PASSWORD", PIPELINE[1]).replace("GRAFANA-PASSWORD", GRAFANA[1])
    return [line.strip() for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def influx(tmp_path_factory):
    yield from influx_with_auth(tmp_path_factory.mktemp("influx-auth"), ADMIN, documented_statements())


def _select(server, login) -> tuple[int, str]:
    return server.request("/query", {"q": 'SELECT * FROM "posture"', "db": "spinewise"},
                          login=login)


def test_the_documented_statements_make_two_users_none_admin():
    statements = documented_statements()
    assert 'GRANT WRITE ON "spinewise" TO "spinewise-pipeline"' in statements
    assert 'GRANT READ ON "spinewise" TO "spinewise-grafana"' in statements
    assert not any("ALL PRIVILEGES" in q or re.search(r"GRANT ALL", q) for q in statements)


def test_the_pipeline_login_writes_but_cannot_read(influx):
    sink = InfluxV1Backend(influx.url, "spinewise", username=PIPELINE[0], password=PIPELINE[1],
                           create_database=False)
    sink.write_lines(['posture,user=alex pitch_deg=12.5 1772445600000000000'])
    status, body = _select(influx, PIPELINE)
    assert status == 403 or "not authorized" in body, body
    assert "12.5" not in body
    # nor may it make databases or users
    for q in ('CREATE DATABASE "other"', 'CREATE USER "x" WITH PASSWORD \'y\''):
        status, body = influx.request("/query", {"q": q}, login=PIPELINE)
        assert status == 403 or "not authorized" in body, (q, body)


def test_the_grafana_login_reads_but_cannot_write(influx):
    InfluxV1Backend(influx.url, "spinewise", username=PIPELINE[0], password=PIPELINE[1],
                    create_database=False).write_lines(
        ['posture,user=bob pitch_deg=7.25 1772445601000000000'])
    status, body = _select(influx, GRAFANA)
    assert status == 200, body
    values = json.loads(body)["results"][0]["series"][0]["values"]
    assert 7.25 in [v for row in values for v in row]
    sink = InfluxV1Backend(influx.url, "spinewise", username=GRAFANA[0], password=GRAFANA[1],
                           create_database=False)
    with pytest.raises(TransientWriteError, match="403"):
        sink.write_lines(['posture,user=mallory pitch_deg=99 1772445602000000000'])
    status, body = _select(influx, ADMIN)
    assert "mallory" not in body and "99" not in body


def test_a_wrong_password_is_refused(influx):
    status, body = _select(influx, (GRAFANA[0], "guess"))
    assert status == 401, body
