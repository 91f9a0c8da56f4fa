"""``spinewise pipeline`` as a process: structured logs, counters on MQTT, clean SIGTERM."""
import signal
import subprocess
import sys

import pytest

from spinewise.ingest.payload import encode_json
from spinewise.mqtt import MqttClient
from spinewise.pipeline.replay import map_times
from spinewise.topics import Topics
from tests.pipeline.conftest import START_EPOCH_S, Collector, make_config

pytestmark = pytest.mark.servers


def test_pipeline_process_reports_counters_and_stops_cleanly_on_sigterm(mqtt_server, tmp_path, fixtures_dir):
    from spinewise.recording import read_chunks

    cfg = make_config(tmp_path, mqtt_server.port)
    p = cfg.mqtt.prefix
    toml = tmp_path / "spinewise.toml"
    toml.write_text(
        f'log_level = "INFO"\n[mqtt]\nport = {mqtt_server.port}\nprefix = "{p}"\n'
        f'[influx]\nbackend = "local"\nlocal_path = "{tmp_path}/local.sqlite"\n'
        f'[coaching]\nstate_db = "{tmp_path}/coach.sqlite"\n'
        f'[pipeline]\nstate_dir = "{tmp_path}/state"\nstats_interval_s = 0.5\nclient_id = "cli-{p}"\n'
        '[[devices]]\nid = "back1"\nuser = "ann"\n')
    sys_msgs = Collector(cfg, Topics(p).sys_all())
    proc = subprocess.Popen([sys.executable, "-m", "spinewise.cli", "--config", str(toml), "pipeline"],
                            stderr=subprocess.PIPE, text=True)
    raw = MqttClient(cfg.mqtt, f"raw-{p}", clean_session=True)
    try:
        assert sys_msgs.wait_for(lambda t, d: t.endswith("/status") and d.get("state") == "online", 20)
        assert raw.connect(10)
        rec = fixtures_dir / "sim" / "office_snippet_25hz_random.csv"
        chunks = list(map_times(read_chunks(rec, 25), "back1", START_EPOCH_S))[:80]
        for c in chunks:
            assert raw.publish(Topics(p).device("back1", "imu"), encode_json(c))
        assert raw.publish(Topics(p).device("back1", "imu"), b"garbage")
        stats = sys_msgs.wait_for(lambda t, d: t.endswith("/stats") and d.get("samples_in") == 2000
                                  and d.get("rejected.unknown_encoding") == 1, 20)
        assert stats is not None
        assert stats[1]["messages_in"] == 81 and stats[1]["queue_depth"] == 0
    finally:
        raw.close()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        err = proc.stderr.read()
    assert rc == 0, err[-2000:]
    assert sys_msgs.wait_for(lambda t, d: t.endswith("/status") and d.get("state") == "offline", 10)
    sys_msgs.close()
    assert "signal=SIGTERM shutting down" in err and "pipeline stopped" in err
    assert all(line.startswith("ts=") and " level=" in line for line in err.splitlines() if line.strip()
               and not line.startswith((" ", "Traceback"))), err[-2000:]
    assert list((tmp_path / "state").glob("back1*"))           # the snapshot for the next start
