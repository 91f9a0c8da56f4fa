"""Engine mode: user commands reach the worker that coaches the user, and a user's coaching
rows (flags, settings, logs, nudges) follow the user to the next worker when a worker dies."""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import time
import uuid

import pytest

from spinewise.coaching.log import LogEntry, PainReport
from spinewise.engine.coachstore import KvCoachStore, key_token
from spinewise.engine.link import EngineLink
from spinewise.engine.subjects import COACH
from tests.engine.conftest import PARTITIONS, PREFIX, WorkerProcess, engine_config, lease_owners, write_toml
from tests.pipeline.conftest import wait_until

pytestmark = pytest.mark.servers

T0 = 1_765_000_000.0


def test_key_tokens_are_plain_when_they_can_be():
    assert key_token("ann") == "ann" and key_token("back-1_x") == "back-1_x"
    odd = key_token("dr. who")
    assert odd.startswith("=") and "." not in odd and " " not in odd
    assert key_token("a.b") != key_token("a_b")


def test_coaching_rows_flushed_by_one_worker_are_what_the_next_loads(nats_server):
    from nats.js.api import KeyValueConfig
    link = EngineLink([nats_server.nats_url], "t-coach")
    try:
        link.call(link.open(5.0))
        kv = link.call(link.js.create_key_value(KeyValueConfig(bucket=COACH, history=1)))
        a, b = KvCoachStore(link), KvCoachStore(link)
        a.kv = b.kv = kv
        assert a.load("ann") == 0
        a.update_settings("ann", {"daily_steps_goal": 6000})
        a.set_flags("ann", acute=True)
        assert a.add_entry("ann", LogEntry(T0, "plank", "hold", duration_s=31.5, flags=("sag",)))
        assert not a.add_entry("ann", LogEntry(T0, "plank", "hold", duration_s=31.5))   # replayed
        a.add_pain("ann", PainReport(T0 + 60, 3, True, False, False, "after the walk"))
        a.add_nudge("ann", "n1", T0 + 120, "break", {"text": "stand up"})
        a.set_nudge_outcome("ann", "n1", "answered", 42.0)
        a.put("bob", "settings", {"quiet": True})
        assert a.dirty_users() == ["ann", "bob"]
        assert a.flush(lambda user: user == "ann") == 5     # settings, flags, entry, pain, nudge
        assert a.dirty_users() == ["bob"]                  # not coached here: kept back

        assert b.load("ann") == 5
        assert b.settings("ann") == {"daily_steps_goal": 6000}
        assert b.flags("ann")["acute"] is True
        assert b.entries("ann") == a.entries("ann")
        assert b.pain("ann") == a.pain("ann")
        assert b.nudges("ann") == a.nudges("ann") and b.nudges("ann")[0]["outcome"] == "answered"
        assert b.load("bob") == 0 and b.settings("bob") == {}

        a.set_flags("ann", acute=False)                    # not flushed: the next owner
        assert b.load("ann") == 5 and b.flags("ann")["acute"] is True     # replays it
        b.unload("ann")
        assert b.flags("ann")["acute"] is False and b.entries("ann") == []
    finally:
        link.close()


class App:
    """A person's app on the engine's MQTT listener: sends commands, collects replies."""

    def __init__(self, port: int, user: str) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion
        self.user = user
        self.replies: queue.Queue = queue.Queue()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"app-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda c, u, msg: self.replies.put(json.loads(msg.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(f"{PREFIX}/user/{user}/cmd/reply", qos=1)
        time.sleep(0.3)

    def ask(self, cmd: dict, user: str | None = None, timeout_s: float = 20.0) -> dict | None:
        self.client.publish(f"{PREFIX}/user/{user or self.user}/cmd", json.dumps(cmd), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                reply = self.replies.get(timeout=0.2)
            except queue.Empty:
                continue
            if reply.get("id") == cmd.get("id"):
                return reply
        return None

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_commands_reach_the_coaching_worker_and_its_state_outlives_it(nats_server, tmp_path):
    """A command goes to the worker that owns the user's primary device; after that worker is
    killed (kill -9), the next one answers from the same coaching state."""
    data = engine_config(tmp_path, nats_server.mqtt_port, nats_server.nats_url,
                         devices=[("back1", "ann"), ("chest1", "ann"), ("back2", "bob")])
    cfg_path = write_toml(tmp_path / "worker.toml", data)
    url = nats_server.nats_url
    a = WorkerProcess(cfg_path, "wa", tmp_path)
    app = None
    b = None
    try:
        assert wait_until(lambda: len(lease_owners(url)) == PARTITIONS, 30), a.log()
        app = App(nats_server.mqtt_port, "ann")
        reply = app.ask({"v": 1, "cmd": "acute", "on": True, "id": "c1", "t_s": T0})
        assert reply is not None and reply["ok"], a.log()[-3000:]
        reply = app.ask({"v": 1, "cmd": "pain", "score": 4, "id": "c2", "t_s": T0 + 10})
        assert reply is not None and reply["ok"], reply
        assert app.ask({"v": 1, "cmd": "status", "id": "x"}, user="mallory", timeout_s=2.0) is None
        time.sleep(1.5)                     # a checkpoint (0.5 s) stores the rows and acks
        a.kill9()
        b = WorkerProcess(cfg_path, "wb", tmp_path)
        assert wait_until(lambda: lease_owners(url) == {p: "wb" for p in range(PARTITIONS)}, 30), b.log()
        reply = app.ask({"v": 1, "cmd": "status", "id": "c3", "t_s": T0 + 20})
        assert reply is not None and reply["ok"], b.log()[-3000:]
        assert reply["status"]["flags"]["acute"] is True, reply
        assert "coaching restored rows=" in b.log()
        # a stranger's command: sent on (unknown sensors are accepted by default, filed under
        # user = their id), then refused and counted where it lands
        assert "rejected reason=unknown_user key='mallory'" in a.log()
        # answered once: the command was not taken a second time after the takeover
        time.sleep(1.0)
        assert all(r.get("id") not in ("c1", "c2") for r in list(app.replies.queue))
        # the physiotherapist's view reads the same rows from the engine
        out = subprocess.run([sys.executable, "-m", "spinewise.cli", "--config", str(cfg_path), "coach",
                              "--user", "ann", "--json", "--at", "2025-12-06T12:00:00+00:00"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert json.loads(out.stdout)["status"]["flags"]["acute"] is True
    finally:
        if app is not None:
            app.close()
        a.stop()
        if b is not None:
            b.stop()


def test_an_input_stream_made_before_commands_is_given_their_subjects(nats_server):
    """Upgrading: the input stream of a release without commands sources the MQTT store only;
    the first worker of this one adds the routed commands' subjects to it."""
    import asyncio

    import nats
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from spinewise.engine import inputstream
    from spinewise.engine.subjects import STREAM

    async def run():
        nc = await nats.connect(nats_server.nats_url)
        js = nc.jetstream()
        try:
            await inputstream._wait(lambda: js.stream_info(inputstream.MQTT_STORE), 10.0, "no MQTT store")
            old = inputstream.config(PREFIX, replicas=1, retention_s=3600, source=True, durable_source=True)
            old.subjects = None
            await js.add_consumer(inputstream.MQTT_STORE, inputstream.source_consumer(PREFIX, 1))
            await js.add_stream(old)
            mode = await inputstream.ensure(js, nc.connected_server_version, PREFIX, replicas=1,
                                            retention_s=3600, timeout_s=10)
            info = await js.stream_info(STREAM)
            ack = await js.publish(f"{PREFIX}.cmdroute.back1", b"{}", stream=STREAM)
            return mode, info.config.subjects, [s.name for s in info.config.sources], ack.seq
        finally:
            await nc.close()

    # the MQTT listener makes its store when the first MQTT client connects
    mqtt = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"up-{uuid.uuid4().hex[:8]}")
    mqtt.connect("127.0.0.1", nats_server.mqtt_port)
    mqtt.loop_start()
    try:
        mode, subjects_, sources, seq = asyncio.run(run())
    finally:
        mqtt.loop_stop()
        mqtt.disconnect()
    assert mode.startswith("sourced")
    assert subjects_ == [f"{PREFIX}.cmdpart.>"] and sources == [inputstream.MQTT_STORE]
    assert seq >= 1
