"""Shared fixtures: real servers on loopback (see tests/servers.py).

Servers started by ``scripts/test-servers start`` are found through ``.run/test-servers.env``
(or the same variables in the environment). Without them a fixture starts a private instance.
Under ``CI=true`` a server that cannot be reached or started fails the test: it never skips.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.servers import ENV_KEYS, IN_CI, SERVERS, missing

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def _configured_ports() -> dict[str, int]:
    values = dict(os.environ)
    env_file = ROOT / ".run" / "test-servers.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), value.strip())
    return {k: int(values[v]) for k, v in ENV_KEYS.items() if values.get(v, "").isdigit()}


def _server(key: str, tmp_path_factory):
    cls = SERVERS[key]
    port = _configured_ports().get(key)
    if port is not None:
        server = cls(port, tmp_path_factory.mktemp(key))
        if server.ready():
            yield server
            return
        if IN_CI:
            missing(f"{cls.name} configured on port {port} but not reachable")
    if not cls.available():
        missing(f"{cls.name} is not installed ({cls.binary}); run `make test`")
    server = cls(None, tmp_path_factory.mktemp(key))
    try:
        server.start()
    except RuntimeError as exc:
        missing(f"{cls.name} could not be started: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mqtt_server(tmp_path_factory):
    """A running Mosquitto (.host, .port)."""
    yield from _server("mqtt", tmp_path_factory)


@pytest.fixture(scope="session")
def influxdb_v1(tmp_path_factory):
    """A running InfluxDB 1.x (.url, .query(q, db), .create_database(db))."""
    yield from _server("influxdb", tmp_path_factory)


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory):
    """A running VictoriaMetrics (.url; accepts influxdb-client v2 writes at /api/v2/write)."""
    yield from _server("victoria", tmp_path_factory)


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
