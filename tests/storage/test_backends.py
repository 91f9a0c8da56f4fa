"""The network backends against real servers: InfluxDB 1.6 (/write) and VictoriaMetrics
(accepts influxdb-client v2 writes), and the outage test: nothing lost, nothing duplicated."""
from __future__ import annotations

import base64
import json
import time
import urllib.parse
import urllib.request

import pytest

from spinewise.config import InfluxConfig
from spinewise.storage import make_point, open_storage
from spinewise.storage.backends import InfluxV1Backend, InfluxV2Backend, RejectedWriteError, TransientWriteError
from spinewise.storage.buffered import BufferedStorage
from spinewise.storage.spool import Spool
from tests.servers import InfluxD, free_port, missing

T0_NS = 1_767_225_600 * 10**9


def pts(a, b, measurement="m"):
    return [make_point(measurement, {"user": "ann", "device": "h10"}, {"v": float(i), "n": i},
                       T0_NS + i * 10**7) for i in range(a, b)]


def count(server, db, source='"m"') -> int:
    """count("v") over an InfluxQL source: '"m"' or '"rp"."m"'."""
    res = server.query(f'SELECT count("v") FROM {source}', db=db)["results"][0]
    series = res.get("series")
    return series[0]["values"][0][1] if series else 0


def test_v1_writes_creates_the_database_and_rejects_type_conflicts(influxdb_v1, tmp_path):
    db = "sw_v1_basic"
    be = InfluxV1Backend(influxdb_v1.url, db)
    be.write_lines([p.to_line() for p in pts(0, 50)])
    assert count(influxdb_v1, db) == 50
    with pytest.raises(RejectedWriteError, match="400"):
        be.write_lines(['m,user=ann,device=h10 v="text" 1767225600000000000'])
    cfg = InfluxConfig(backend="v1", url=influxdb_v1.url, database=db, batch_size=20,
                       spool_dir=str(tmp_path / "spool"))
    st = open_storage(cfg, background=False)
    st.write(pts(0, 120))                       # 0..49 again: overwrite, not duplicate
    conflict = make_point("m", {"user": "ann", "device": "h10"}, {"v": "text"}, T0_NS + 10**12)
    st.write([conflict] + pts(120, 130))        # one bad point among good ones
    st.close()
    assert count(influxdb_v1, db) == 130
    s = st.stats()
    assert s["points_written"] == 130 and s["points_rejected"] == 1 and s["spool_depth"] == 0


def test_v1_unreachable_is_transient():
    be = InfluxV1Backend(f"http://127.0.0.1:{free_port()}", "x", timeout_s=2)
    with pytest.raises(TransientWriteError):
        be.write_lines(["m v=1 1"])


def test_outage_mid_write_loses_nothing_and_duplicates_nothing(tmp_path):
    """Stop InfluxDB while points stream in, keep writing, restart it, count exactly."""
    server = InfluxD(free_port(), tmp_path / "influx")
    if not server.available():
        missing("influxd not installed")
    server.start()
    try:
        db = "sw_outage"
        server.create_database(db)
        be = InfluxV1Backend(server.url, db, timeout_s=2)
        st = BufferedStorage(be, Spool(tmp_path / "spool"), batch_size=50, flush_interval_s=0.05)
        total, step = 3000, 25
        stop_at, restart_at = 1000, 2000
        for i in range(0, total, step):
            if i == stop_at:
                server.stop()                      # mid-stream: the flusher hits a dead server
            if i == restart_at:
                assert st.stats()["spool_depth"] > 0
                server.start()
            st.write(pts(i, i + step))
            time.sleep(0.005)
        deadline = time.monotonic() + 60
        while (st.stats()["spool_depth"] or st.stats()["buffered"]) and time.monotonic() < deadline:
            st.flush(force=True)
            time.sleep(0.1)
        st.close()
        stats = st.stats()
        assert stats["write_errors"] >= 1 and stats["points_spooled"] > 0
        assert stats["spool_depth"] == 0 and stats["points_rejected"] == 0
        assert count(server, db) == total          # nothing lost
        # nothing duplicated: every value exactly once, in one series
        res = server.query('SELECT "n" FROM "m"', db=db)["results"][0]["series"][0]["values"]
        assert sorted(v[1] for v in res) == list(range(total))
    finally:
        server.cleanup()


def _vm_export(url: str, match: str) -> list[dict]:
    urllib.request.urlopen(f"{url}/internal/force_flush", timeout=10).read()
    q = urllib.parse.urlencode({"match[]": match})
    with urllib.request.urlopen(f"{url}/api/v1/export?{q}", timeout=10) as r:
        return [json.loads(line) for line in r.read().decode().splitlines() if line.strip()]


def test_v2_client_writes_to_victoria_metrics(victoria_metrics, tmp_path):
    cfg = InfluxConfig(backend="v2", url=victoria_metrics.url, token="unused", org="o",
                       bucket="spinewise", batch_size=100, spool_dir=str(tmp_path / "spool"))
    st = open_storage(cfg, background=False)
    st.write(pts(0, 250, measurement="swv2"))
    st.close()
    assert st.stats()["points_written"] == 250 and st.stats()["write_errors"] == 0
    series = _vm_export(victoria_metrics.url, '{__name__="swv2_v"}')
    assert len(series) == 1
    assert series[0]["metric"]["user"] == "ann"
    assert sorted(series[0]["values"]) == [float(i) for i in range(250)]
    assert series[0]["timestamps"][0] == T0_NS // 10**6


def test_v2_unreachable_is_transient():
    be = InfluxV2Backend(f"http://127.0.0.1:{free_port()}", "t", "o", "b", timeout_s=2)
    with pytest.raises(TransientWriteError):
        be.write_lines(["m v=1 1"])
    be.close()


class _AuthInfluxD(InfluxD):
    """InfluxDB 1.x with HTTP authentication on."""

    def command(self):
        cmd = super().command()
        conf = self.data_dir / "influxdb.conf"
        conf.write_text(conf.read_text().replace("[http]\n", "[http]\n  auth-enabled = true\n"))
        return cmd


def test_v1_user_password_go_in_a_header_and_wrong_ones_are_retried_not_dropped(tmp_path):
    server = _AuthInfluxD(free_port(), tmp_path / "influx")
    if not server.available():
        missing("influxd not installed")
    server.start()
    try:
        # the first user may be created without credentials
        server.query("CREATE USER admin WITH PASSWORD 'pa ss:wörd' WITH ALL PRIVILEGES", method="POST")
        good = InfluxV1Backend(server.url, "sw_auth", username="admin", password="pa ss:wörd")
        good.write_lines([p.to_line() for p in pts(0, 5)])          # creates the database too
        bad = BufferedStorage(InfluxV1Backend(server.url, "sw_auth", username="admin", password="nope"),
                              Spool(tmp_path / "spool"), background=False)
        bad.write(pts(5, 10))
        bad.flush(force=True)
        s = bad.stats()
        assert s["spool_depth"] == 5 and "401" in s["last_error"] and s["points_rejected"] == 0
        assert "nope" not in s["last_error"]
        bad.close()
        # fixed credentials: the spooled points go out
        fixed = BufferedStorage(good, Spool(tmp_path / "spool"), background=False)
        fixed.close()
        auth = base64.b64encode("admin:pa ss:wörd".encode()).decode()
        req = urllib.request.Request(
            f"{server.url}/query?" + urllib.parse.urlencode({"db": "sw_auth", "q": 'SELECT count("v") FROM "m"'}),
            headers={"Authorization": f"Basic {auth}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["results"][0]["series"][0]["values"][0][1] == 10
    finally:
        server.cleanup()


def test_v2_outage_against_victoria_metrics_counts_exactly(tmp_path):
    """VictoriaMetrics keeps duplicate samples, so an exact count proves nothing was re-sent."""
    from tests.servers import Victoria

    vm = Victoria(free_port(), tmp_path / "vm")
    if not vm.available():
        missing("victoria-metrics not installed")
    vm.start()
    try:
        st = BufferedStorage(InfluxV2Backend(vm.url, "t", "o", "b", timeout_s=2),
                             Spool(tmp_path / "spool"), batch_size=50, background=False)
        st.write(pts(0, 100, measurement="out"))
        vm.stop()
        st.write(pts(100, 200, measurement="out"))
        st.flush(force=True)
        assert st.stats()["spool_depth"] == 100
        vm.start()
        st.write(pts(200, 300, measurement="out"))
        assert st.flush(force=True)
        st.close()
        series = _vm_export(vm.url, '{__name__="out_v"}')
        assert sorted(series[0]["values"]) == [float(i) for i in range(300)]
    finally:
        vm.cleanup()


def test_v1_writes_into_the_configured_retention_policy(influxdb_v1):
    db = "sw_v1_rp"
    influxdb_v1.create_database(db)
    influxdb_v1.query(f'CREATE RETENTION POLICY "short" ON "{db}" DURATION 100000h REPLICATION 1',
                      method="POST")
    InfluxV1Backend(influxdb_v1.url, db, retention_policy="short").write_lines(
        [p.to_line() for p in pts(0, 7)])
    assert count(influxdb_v1, db, '"short"."m"') == 7
    assert count(influxdb_v1, db) == 0                    # not in the default policy
