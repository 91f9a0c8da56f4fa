"""Publisher against a real Mosquitto: batching, order, status + last will, outage spooling, restart drain."""
import json
import threading
import time
import uuid

import numpy as np
import pytest

from spinewise.config import GatewayConfig, MqttConfig
from spinewise.events import Event
from spinewise.ingest.payload import decode
from spinewise.ingest.publisher import Publisher
from spinewise.mqtt import MqttClient
from spinewise.topics import Topics
from spinewise.stream import ImuChunk
from tests.servers import Mosquitto, missing

pytestmark = pytest.mark.servers


class Collector:
    PROBE = "swtest/probe"

    def __init__(self, cfg: MqttConfig, topic_filter: str):
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.client = MqttClient(cfg, f"collector-{id(self)}", clean_session=True)
        self.client.subscribe(topic_filter, self._on)
        self.client.subscribe(self.PROBE, self._on)      # after the filter: see wait_subscribed
        assert self.client.connect(10)

    def wait_subscribed(self, timeout_s: float = 15.0) -> bool:
        """After a (re)connect, whether our subscriptions are in force: "connected" is set when
        SUBSCRIBE is sent, not when the broker has it, so a publisher on another connection can
        get there first (a busy CI machine lost the first 10 drained samples that way). The
        broker takes one connection's packets in order: a probe of ours that comes back came
        after both SUBSCRIBEs."""
        token = uuid.uuid4().hex.encode()
        self.client.publish(self.PROBE, token, qos=1)
        return self.wait(lambda m: any(t == self.PROBE and p == token for t, p in m), timeout_s)

    def _on(self, topic, payload):
        with self.lock:
            self.messages.append((topic, payload))

    def wait(self, pred, timeout_s=15.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if pred(self.messages):
                    return True
            time.sleep(0.02)
        return False

    def samples(self):
        with self.lock:
            chunks = [decode(p) for t, p in self.messages if t.endswith("/imu")]
        return ImuChunk.concat(chunks) if chunks else None


def _chunks(n_chunks, size=5, start=0):
    for i in range(start, start + n_chunks):
        k = np.arange(i * size, (i + 1) * size)
        yield ImuChunk(t_s=1000 + k / 50.0, acc_g=np.c_[k, k, k] * 1e-3, gyro_dps=None,
                       device_id="dev", rate_hz=50.0, seq=k)


def _cfgs(port, tmp_path, **gw):
    return (MqttConfig(host="127.0.0.1", port=port, prefix="swtest"),
            GatewayConfig(spool_dir=str(tmp_path / "spool"), **gw))


def test_batches_status_and_events_in_order(mqtt_server, tmp_path):
    mc, gc = _cfgs(mqtt_server.port, tmp_path, batch_s=0.5)
    col = Collector(mc, Topics("swtest").device_all("dev"))
    pub = Publisher(mc, gc, "dev")
    pub.publish_status("online", battery_pct=80, rate_hz=50.0)
    for c in _chunks(10):                     # 50 samples = 1 s -> 2 messages of 25
        pub.publish_chunk(c)
    pub.publish_event(Event("gap", 1001.0, {"start_s": 1001.0, "end_s": 1002.0, "samples_lost": 50}, "dev"))
    for c in _chunks(3, start=20):
        pub.publish_chunk(c)
    assert pub.flush(10)
    assert col.wait(lambda m: sum(t.endswith("/imu") for t, _ in m) >= 3)
    topics = [t.rsplit("/", 1)[1] for t, _ in col.messages if not t.endswith("status")]
    assert topics == ["imu", "imu", "link", "imu"]
    sizes = [len(decode(p)) for t, p in col.messages if t.endswith("/imu")]
    assert sizes == [25, 25, 15]
    status = [json.loads(p) for t, p in col.messages if t.endswith("/status")]
    assert status[0]["state"] == "online" and status[0]["battery_pct"] == 80
    pub.close()
    assert col.wait(lambda m: json.loads([p for t, p in m if t.endswith("/status")][-1])["state"] == "offline")
    col.client.close()


def test_binary_encoding(mqtt_server, tmp_path):
    mc, gc = _cfgs(mqtt_server.port, tmp_path, encoding="binary", batch_s=0.2)
    col = Collector(mc, Topics("swtest").device("dev", "imu"))
    pub = Publisher(mc, gc, "dev")
    for c in _chunks(4):
        pub.publish_chunk(c)
    assert pub.flush(10)
    assert col.wait(lambda m: len(m) >= 2)
    assert all(p[0] == 0xB1 for _, p in col.messages)
    np.testing.assert_array_equal(col.samples().seq, np.arange(20))
    pub.close()
    col.client.close()


def test_broker_outage_spools_then_drains_in_order_and_restart_drains(tmp_path):
    broker = Mosquitto(None, tmp_path / "broker").start()
    try:
        mc, gc = _cfgs(broker.port, tmp_path, batch_s=0.1)
        col = Collector(mc, Topics("swtest").device("dev", "imu"))
        pub = Publisher(mc, gc, "dev")
        for c in _chunks(10):
            pub.publish_chunk(c)
        assert pub.flush(10)
        broker.stop()
        for c in _chunks(20, start=10):            # broker away: spooled
            pub.publish_chunk(c)
        pub.push_batch()
        time.sleep(0.3)
        assert pub.backlog > 0
        pub.close(0.5)                              # gateway stops with a backlog on disk
        broker.start()
        assert col.client.connected.wait(15) and col.wait_subscribed()
        pub2 = Publisher(mc, gc, "dev")             # the next run drains the previous run's spool
        for c in _chunks(10, start=30):
            pub2.publish_chunk(c)
        assert pub2.flush(20)
        assert col.wait(lambda m: len(m) > 0 and decode(m[-1][1]).seq[-1] == 199)
        seq = col.samples().seq
        uniq = np.unique(seq)                       # at-least-once: duplicates allowed, loss not
        np.testing.assert_array_equal(uniq, np.arange(200))
        assert np.all(np.diff(seq[np.r_[True, np.diff(seq) > 0]]) > 0)  # order kept
        pub2.close()
        col.client.close()
    finally:
        broker.cleanup()


def test_big_chunks_are_cut_into_batch_sized_messages(mqtt_server, tmp_path):
    mc, gc = _cfgs(mqtt_server.port, tmp_path, batch_s=0.5)
    col = Collector(mc, Topics("swtest").device("dev", "imu"))
    pub = Publisher(mc, gc, "dev")
    k = np.arange(260)
    pub.publish_chunk(ImuChunk(1000 + k / 50.0, np.zeros((260, 3)), None, "dev", 50.0, seq=k))
    assert pub.flush(10)
    assert col.wait(lambda m: len(m) >= 11)
    assert [len(decode(p)) for _, p in col.messages] == [25] * 10 + [10]
    np.testing.assert_array_equal(col.samples().seq, k)
    pub.close()
    col.client.close()


def _tls_material(d):
    import subprocess
    d.mkdir(parents=True, exist_ok=True)

    def ossl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
         "-subj", "/CN=spinewise test CA", "-days", "2")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=127.0.0.1")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    return d / "ca.crt", d / "server.crt", d / "server.key"


def test_username_password_and_tls(tmp_path):
    import shutil
    import subprocess
    if not shutil.which("openssl") or not shutil.which("mosquitto_passwd"):
        missing("openssl / mosquitto_passwd not installed")
    ca, cert, key = _tls_material(tmp_path / "tls")
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "gw", "s3cret"], check=True, capture_output=True)
    pw.chmod(0o600)
    broker = Mosquitto(None, tmp_path / "broker", extra_conf=(
        f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
        f"allow_anonymous false\npassword_file {pw}\n"))   # (Mosquitto adds "user root" as root)
    broker.start()
    try:
        good = MqttConfig(host="127.0.0.1", port=broker.port, prefix="swtest", username="gw",
                          password="s3cret", tls=True, ca_file=str(ca))
        col = Collector(good, Topics("swtest").device("dev", "imu"))
        pub = Publisher(good, GatewayConfig(spool_dir=str(tmp_path / "spool"), batch_s=0.1), "dev")
        for c in _chunks(2):
            pub.publish_chunk(c)
        assert pub.flush(15)
        assert col.wait(lambda m: len(m) >= 2)
        pub.close()
        bad = MqttConfig(host="127.0.0.1", port=broker.port, prefix="swtest", username="gw",
                         password="wrong", tls=True, ca_file=str(ca))
        pub2 = Publisher(bad, GatewayConfig(spool_dir=str(tmp_path / "spool2"), batch_s=0.1), "dev",
                         client_id="spinewise-gw-bad")
        for c in _chunks(2):
            pub2.publish_chunk(c)
        assert not pub2.flush(1.5)          # refused: kept on disk, not lost
        assert pub2.backlog == 2
        pub2.close(0.5)
        col.client.close()
    finally:
        broker.cleanup()


def test_a_second_publisher_on_the_same_spool_is_a_config_error(tmp_path):
    from spinewise.config import ConfigError
    mc, gc = _cfgs(1, tmp_path)                   # never connects: no broker needed
    pub = Publisher(mc, gc, "dev", connect=False)
    try:
        with pytest.raises(ConfigError, match="gateway.spool_dir"):
            Publisher(mc, gc, "dev", connect=False)
    finally:
        pub.close(0.1, graceful=False)
    Publisher(mc, gc, "dev", connect=False).close(0.1, graceful=False)   # released on close
