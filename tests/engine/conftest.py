"""Engine-mode fixtures: a private nats-server (or a 3-node cluster) on loopback with temporary
data directories, worker processes (`spinewise pipeline --transport nats`), and a look into
the engine's lease bucket. Under CI=true a missing nats-server fails the tests, never skips."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import NatsCluster, NatsServer, missing

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "sw"
PARTITIONS = 6


@pytest.fixture
def nats_server(tmp_path):
    if not NatsServer.available():
        missing("nats-server is not installed (/usr/sbin/nats-server); run scripts/bootstrap --test")
    server = NatsServer(None, tmp_path / "nats", prefix=PREFIX, partitions=PARTITIONS)
    try:
        server.start()
    except RuntimeError as exc:
        missing(f"nats-server could not be started: {exc}")
    yield server
    server.cleanup()


@pytest.fixture
def nats_cluster(tmp_path):
    if not NatsServer.available():
        missing("nats-server is not installed (/usr/sbin/nats-server); run scripts/bootstrap --test")
    cluster = NatsCluster(tmp_path / "cluster", 3, prefix=PREFIX, partitions=PARTITIONS)
    try:
        cluster.start()
    except RuntimeError as exc:
        missing(f"nats cluster could not be started: {exc}")
    yield cluster
    cluster.stop()


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    raise TypeError(v)


def write_toml(path: Path, data: dict) -> Path:
    lines = []
    for section, table in data.items():
        if isinstance(table, list):
            for row in table:
                lines.append(f"[[{section}]]")
                lines += [f"{k} = {toml_value(v)}" for k, v in row.items()]
        else:
            lines.append(f"[{section}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def engine_config(tmp_path: Path, mqtt_port: int, nats_urls: str, *, influx: dict | None = None,
                  devices=(("back1", "ann"),), **pipeline) -> dict:
    return {
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "prefix": PREFIX, "keepalive_s": 10},
        "influx": influx or {"backend": "local", "local_path": str(tmp_path / "local.sqlite")},
        "gateway": {"spool_dir": str(tmp_path / "gw-spool"), "batch_s": 0.5},
        "coaching": {"state_db": str(tmp_path / "coach.sqlite")},
        "pipeline": {"state_dir": str(tmp_path / "state"), "client_id": "pl",
                     "stats_interval_s": 0.5, "state_interval_s": 0.2, "reorder_wait_s": 1.0,
                     "transport": "nats", "nats_servers": nats_urls, "partitions": PARTITIONS,
                     "lease_ttl_s": 2.0, "checkpoint_interval_s": 0.5, **pipeline},
        "devices": [{"id": d, "user": u} for d, u in devices],
    }


class WorkerProcess:
    """`spinewise pipeline --transport nats --worker-id NAME` in a process of its own."""

    def __init__(self, config_path: Path, name: str, work_dir: Path) -> None:
        self.name = name
        self.log_path = work_dir / f"worker-{name}.log"
        # what a worker keeps on its own machine: coaching store, storage spool
        env = {**os.environ, "PYTHONFAULTHANDLER": "1",      # SIGABRT dumps every thread's stack
               "SPINEWISE_COACHING__STATE_DB": str(work_dir / f"coach-{name}.sqlite"),
               "SPINEWISE_INFLUX__SPOOL_DIR": str(work_dir / f"influx-spool-{name}")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spinewise.cli", "pipeline", "--config", str(config_path),
             "--worker-id", name], cwd=ROOT, env=env, stdout=open(self.log_path, "ab"),
            stderr=subprocess.STDOUT, start_new_session=True)

    def kill9(self) -> None:
        self.proc.kill()              # SIGKILL: no checkpoint, no lease given back
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:      # stuck: its stacks go to its log, then kill
                self.proc.send_signal(signal.SIGABRT)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def acquired_at(self) -> dict[int, float]:
        """partition -> wall time this worker last acquired it (from its log)."""
        from datetime import datetime
        out = {}
        for m in re.finditer(r"ts=(\S+)Z .*engine: partition (\d+) acquired by", self.log()):
            out[int(m.group(2))] = datetime.fromisoformat(m.group(1) + "+00:00").timestamp()
        return out


def snapshot_of(nats_urls: str, device: str) -> dict | None:
    """The device's state snapshot as the engine holds it (what the next owner restores)."""
    import pickle

    import nats

    from spinewise.engine.subjects import SNAPSHOTS

    async def read():
        nc = await nats.connect(nats_urls.split(","), connect_timeout=5)
        try:
            entry = await (await nc.jetstream().key_value(SNAPSHOTS)).get(device)
            return pickle.loads(entry.value)
        except Exception:
            return None
        finally:
            await nc.close()
    return asyncio.run(read())


def stream_leaders(nats_urls: str) -> dict[str, str]:
    """stream name -> the server name of its leader, for the input stream and the MQTT
    listener's store it sources (empty while a stream has no leader)."""
    import nats

    from spinewise.engine.inputstream import MQTT_STORE
    from spinewise.engine.subjects import STREAM

    async def read():
        nc = await nats.connect(nats_urls.split(","), connect_timeout=5)
        try:
            out = {}
            for name in (STREAM, MQTT_STORE):
                info = await nc.jetstream(timeout=2.0).stream_info(name)
                if info.cluster is not None and info.cluster.leader:
                    out[name] = info.cluster.leader
            return out
        finally:
            await nc.close()
    try:
        return asyncio.run(read())
    except Exception:
        return {}


def all_streams_led(nats_urls: str, dead: str) -> bool:
    """Whether every stream of the cluster (input, MQTT listener's, buckets) has a leader
    again, none on the ``dead`` node: the cluster's elections after a node loss are over."""
    import nats

    async def read():
        nc = await nats.connect(nats_urls.split(","), connect_timeout=5)
        try:
            infos = await nc.jetstream(timeout=2.0).streams_info()
            return bool(infos) and all(i.cluster is not None and i.cluster.leader
                                       and i.cluster.leader != dead for i in infos)
        finally:
            await nc.close()
    try:
        return asyncio.run(read())
    except Exception:
        return False


def lease_owners(nats_urls: str) -> dict[int, str]:
    """partition -> worker id, as the engine's lease bucket says now."""
    import nats

    from spinewise.engine.subjects import LEASES

    async def read():
        nc = await nats.connect(nats_urls.split(","), connect_timeout=5)
        try:
            kv = await nc.jetstream().key_value(LEASES)
            out = {}
            for p in range(PARTITIONS):
                try:
                    e = await kv.get(f"p{p}")
                except Exception:
                    continue
                if e is not None and e.value:
                    out[p] = e.value.decode()
            return out
        finally:
            await nc.close()
    try:
        return asyncio.run(read())
    except Exception:
        return {}
