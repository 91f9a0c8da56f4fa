"""The deploy stack, validated with the real tools available here: Mosquitto runs the shipped
config and enforces the ACL, systemd-analyze verifies the units, compose and provisioning
YAML parse and agree with each other, the shipped spinewise.toml loads."""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from spinewise.config import load
from spinewise.storage.grafana import DATASOURCE_UID
from tests.servers import free_port, missing, port_open

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def need(binary: str) -> str:
    path = shutil.which(binary) or (binary if Path(binary).exists() else None)
    if path is None:
        missing(f"{binary} is not installed")
    return path


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_parses_and_wires_secrets_and_mounts(compose):
    services = compose["services"]
    assert {"mosquitto", "influxdb", "grafana", "pipeline"} <= set(services)
    declared = set(compose["secrets"])
    for name, svc in services.items():
        assert set(svc.get("secrets", [])) <= declared, name
        for key, value in (svc.get("environment") or {}).items():
            if re.search(r"PASSWORD|TOKEN", key):
                assert key.endswith(("_FILE", "__FILE")), f"{name}: {key} must come from a file"
                assert str(value).startswith("/run/secrets/"), f"{name}: {key}={value}"
        for volume in svc.get("volumes", []):
            src = volume.split(":")[0]
            if src.startswith("./") and src not in ("./mosquitto/passwd", "./mosquitto/certs", "./gateway.toml"):  # user-made
                assert (DEPLOY / src).exists(), f"{name}: mounts missing {src}"
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    assert (DEPLOY / "pipeline.Dockerfile").exists()
    assert services["pipeline"]["build"]["dockerfile"] == "deploy/pipeline.Dockerfile"


def test_grafana_provisioning_matches_the_dashboards_and_compose(compose):
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/spinewise.yaml").read_text())
    (source,) = ds["datasources"]
    assert source["uid"] == DATASOURCE_UID and source["type"] == "influxdb"
    assert source["jsonData"]["dbName"] == "spinewise"
    # Grafana reads as the read-only login the compose init creates, never with the operator token
    assert source["user"] == "spinewise-grafana"
    assert source["secureJsonData"] == {"password": "$__file{/run/secrets/influxdb-grafana-password}"}
    assert "influxdb-token" not in (DEPLOY / "grafana/provisioning/datasources/spinewise.yaml").read_text()
    prov = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/spinewise.yaml").read_text())
    path = prov["providers"][0]["options"]["path"]
    assert f"./grafana/dashboards:{path}:ro" in compose["services"]["grafana"]["volumes"]
    assert sorted(p.name for p in (DEPLOY / "grafana/dashboards").glob("*.json")) == [
        "spinewise-devices.json", "spinewise-exercise.json", "spinewise-patients.json",
        "spinewise-today.json", "spinewise-trends.json"]


def test_shipped_config_loads_with_secrets_from_files(tmp_path):
    influx_pw = tmp_path / "influx-pw"
    influx_pw.write_text("s3cret-influx\n")
    pw = tmp_path / "pw"
    pw.write_text("mqtt-pass")
    cfg = load(DEPLOY / "spinewise.toml", env={"SPINEWISE_INFLUX__PASSWORD_FILE": str(influx_pw),
                                               "SPINEWISE_MQTT__PASSWORD_FILE": str(pw)})
    # the write-only login of 20-scoped-logins.sh, not the operator token
    assert cfg.influx.backend == "v1" and cfg.influx.username == "spinewise-pipeline"
    assert cfg.influx.password == "s3cret-influx" and not cfg.influx.token
    assert cfg.mqtt.password == "mqtt-pass" and cfg.mqtt.username == "spinewise-pipeline"
    assert "s3cret" not in repr(cfg.redacted()) and "mqtt-pass" not in repr(cfg.redacted())
    assert cfg.devices and cfg.devices[0].profile == "polar_h10"
    # a sensor not in the config is refused and counted, and the device table is bounded
    assert cfg.pipeline.unknown_devices == "reject" and cfg.pipeline.max_devices == 10000


@pytest.mark.parametrize("unit", sorted(p.name for p in (DEPLOY / "systemd").glob("*.service")))
def test_systemd_units_verify_cleanly(unit, tmp_path):
    analyze = need("systemd-analyze")
    text = (DEPLOY / "systemd" / unit).read_text()
    exe = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)
    assert exe == "/opt/spinewise/venv/bin/spinewise"
    # verify checks that ExecStart exists: point it at this checkout's entry point
    here = shutil.which("spinewise") or str(Path(os.sys.executable).parent / "spinewise")
    (tmp_path / unit).write_text(text.replace(exe, here))
    res = subprocess.run([analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True,
                         timeout=60)
    # unknown keys and bad values are only warnings: any output is a failure
    assert res.returncode == 0 and not res.stderr.strip() and not res.stdout.strip(), res.stderr


@dataclass
class ShippedBroker:
    port: int                 # the plain listener (1883 in compose)
    tls_port: int             # the TLS listener (8883 in compose)
    certs: Path               # deploy/mosquitto/certs as setup-secrets.sh made it
    logins: dict[str, str]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """The shipped mosquitto.conf, with the acl and passwd setup-secrets.sh generates from the
    shipped spinewise.toml, on a test port. The script runs from a bare copy of the checkout with
    only the system Python on PATH: a home-lab user runs it before installing anything."""
    mosquitto = need("/usr/sbin/mosquitto")
    system_python = need("/usr/bin/python3")
    work = tmp_path_factory.mktemp("deploy")
    shutil.copytree(DEPLOY, work / "deploy", ignore=shutil.ignore_patterns("dashboards"))
    shutil.copytree(DEPLOY.parent / "spinewise", work / "spinewise",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for stale in ("mosquitto/passwd", "mosquitto/acl"):
        (work / "deploy" / stale).unlink(missing_ok=True)
    shutil.rmtree(work / "deploy/secrets/mqtt", ignore_errors=True)
    env = {"PATH": f"{Path(system_python).parent}:/bin", "HOME": str(work)}
    res = subprocess.run(["sh", str(work / "deploy/setup-secrets.sh")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    secrets = work / "deploy/secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    for name in ("influxdb-admin-password", "influxdb-token", "grafana-admin-password",
                 "mqtt-pipeline-password", "influxdb-pipeline-password", "influxdb-grafana-password"):
        assert len((secrets / name).read_text()) == 48
    # the committed ACL is what the generator makes from the shipped config (no drift)
    assert (work / "deploy/mosquitto/acl").read_text() == (DEPLOY / "mosquitto/acl").read_text()
    logins = {p.name: p.read_text().strip() for p in (secrets / "mqtt").iterdir()}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (secrets / "mqtt").iterdir())
    logins["spinewise-pipeline"] = (secrets / "mqtt-pipeline-password").read_text()
    assert set(logins) == {"h10-1", "alex", "spinewise-pipeline", "spinewise-monitor"}
    # re-running keeps existing secrets and passwords
    token, alex = (secrets / "influxdb-token").read_text(), logins["alex"]
    server_crt = (work / "deploy/mosquitto/certs/server.crt").read_bytes()
    subprocess.run(["sh", str(work / "deploy/setup-secrets.sh")], env=env, check=True,
                   capture_output=True)
    assert (secrets / "influxdb-token").read_text() == token
    assert (secrets / "mqtt/alex").read_text().strip() == alex
    # logins come from the config, never from arguments (a typo would make a dead login)
    res = subprocess.run(["sh", str(work / "deploy/setup-secrets.sh"), "h10-2"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "spinewise.toml" in res.stderr

    # the broker's TLS certificate: an own CA made by the script, kept on a re-run
    certs = work / "deploy/mosquitto/certs"
    assert (certs / "server.crt").read_bytes() == server_crt
    assert stat.S_IMODE((secrets / "tls-ca.key").stat().st_mode) == 0o600

    port, tls_port = free_port(), free_port()
    conf = (DEPLOY / "mosquitto/mosquitto.conf").read_text()
    assert "listener 8883" in conf and "listener 1883" in conf
    conf = (conf.replace("/mosquitto/config/", f"{work}/deploy/mosquitto/")
                .replace("/mosquitto/data/", f"{work}/data/")
                .replace("listener 1883", f"listener {port} 127.0.0.1")
                .replace("listener 8883", f"listener {tls_port} 127.0.0.1"))
    if os.geteuid() == 0:
        conf += "user root\n"      # else mosquitto drops to "mosquitto", who cannot read tmp_path
    (work / "data").mkdir()
    (work / "mosquitto.conf").write_text(conf)
    log = open(work / "mosquitto.log", "wb")
    proc = subprocess.Popen([mosquitto, "-c", str(work / "mosquitto.conf")], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 10
    while not (port_open(port) and port_open(tls_port)) and time.monotonic() < deadline:
        assert proc.poll() is None, (work / "mosquitto.log").read_text()
        time.sleep(0.05)
    try:
        yield ShippedBroker(port, tls_port, certs, logins)
    finally:
        proc.terminate()
        proc.wait(10)


def _client(port, username=None, password=None):
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{username}-{time.monotonic_ns()}")
    if username:
        c.username_pw_set(username, password)
    result = {}
    done = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        result["rc"] = reason_code
        done.set()
    c.on_connect = on_connect
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait(5)
    return c, result.get("rc")


def test_mosquitto_runs_the_shipped_config_and_enforces_the_acl(broker):
    port, logins = broker.port, broker.logins
    anon, rc = _client(port)
    assert rc is not None and rc.is_failure, "anonymous login must be refused"
    anon.loop_stop()
    bad, rc = _client(port, "h10-1", "wrong")
    assert rc.is_failure
    bad.loop_stop()

    received: list[str] = []
    pipeline, rc = _client(port, "spinewise-pipeline", logins["spinewise-pipeline"])
    assert not rc.is_failure
    pipeline.on_message = lambda c, u, m: received.append(m.topic)
    pipeline.subscribe("spinewise/#", qos=1)
    time.sleep(0.3)

    sensor, rc = _client(port, "h10-1", logins["h10-1"])
    assert not rc.is_failure
    for t in ["spinewise/dev/h10-1/imu", "spinewise/dev/h10-1/status", "spinewise/dev/other/imu",
              "spinewise/user/alex/nudge", "spinewise/user/alex/cmd"]:
        sensor.publish(t, b"x", qos=1).wait_for_publish(5)
    app, rc = _client(port, "alex", logins["alex"])
    app.publish("spinewise/user/alex/cmd", b"x", qos=1).wait_for_publish(5)
    app.publish("spinewise/user/bob/cmd", b"x", qos=1).wait_for_publish(5)
    app.publish("spinewise/dev/h10-1/imu", b"x", qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 5
    while len(received) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    for c in (pipeline, sensor, app):
        c.loop_stop()
        c.disconnect()
    # the sensor only its own stream; the person only their own commands (the full role
    # matrix, TLS included: tests/test_access_broker.py)
    assert sorted(received) == sorted(["spinewise/dev/h10-1/imu", "spinewise/dev/h10-1/status",
                                       "spinewise/user/alex/cmd"])


def _tls_client(broker, login, *, ca_file, host="localhost"):
    from spinewise.config import MqttConfig
    from spinewise.mqtt import MqttClient
    cfg = MqttConfig(host=host, port=broker.tls_port, username=login,
                     password=broker.logins[login], tls=True, ca_file=str(ca_file),
                     prefix="spinewise", reconnect_max_s=1)
    return MqttClient(cfg, f"t-tls-{login}-{time.monotonic_ns()}", clean_session=True)


def test_the_shipped_tls_listener_verifies_with_the_scripts_own_ca(broker):
    """The 8883 listener of the shipped mosquitto.conf, with the certificate setup-secrets.sh
    made: a client verifying against deploy/mosquitto/certs/ca.crt connects and its messages
    pass the same ACL; a throwaway CA that did not sign it is refused with one message."""
    received: list[str] = []
    pipeline = _tls_client(broker, "spinewise-pipeline", ca_file=broker.certs / "ca.crt")
    pipeline.subscribe("spinewise/user/+/cmd", lambda topic, payload: received.append(topic))
    sensor = _tls_client(broker, "h10-1", ca_file=broker.certs / "ca.crt")
    app = _tls_client(broker, "alex", ca_file=broker.certs / "ca.crt")
    try:
        assert pipeline.connect(10) and sensor.connect(10) and app.connect(10), \
            pipeline.failure() or sensor.failure() or app.failure()
        time.sleep(0.3)
        assert app.publish("spinewise/user/alex/cmd", b"x")
        assert app.publish("spinewise/user/bob/cmd", b"x")      # acked, dropped by the ACL
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert received == ["spinewise/user/alex/cmd"]
    finally:
        for c in (pipeline, sensor, app):
            c.close()

    from tests.servers import make_test_ca
    if shutil.which("openssl") is None:
        missing("openssl is not installed")
    stranger = make_test_ca(broker.certs.parent.parent.parent / "stranger-ca")
    c = _tls_client(broker, "alex", ca_file=stranger.ca_cert)
    try:
        assert not c.connect(5)
        assert "certificate failed verification" in (c.failure() or ""), c.failure()
    finally:
        c.close()


@pytest.mark.parametrize("exported_id", [True, False])
def test_influxdb_init_script_creates_the_dbrp_mapping(tmp_path, exported_id):
    """Run 10-dbrp.sh against a stand-in `influx` CLI that records its arguments."""
    fake = tmp_path / "bin" / "influx"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$*" >> "$CALLS"\n'
                    'if [ "$1" = bucket ]; then printf "0a1b2c3d\\tspinewise\\t0s\\n"; fi\n')
    fake.chmod(0o755)
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin", "CALLS": str(tmp_path / "calls"),
           "DOCKER_INFLUXDB_INIT_BUCKET": "spinewise", "DOCKER_INFLUXDB_INIT_ORG": "spinewise"}
    if exported_id:
        env["DOCKER_INFLUXDB_INIT_BUCKET_ID"] = "feedbeef"
    res = subprocess.run(["sh", str(DEPLOY / "influxdb/init/10-dbrp.sh")], env=env,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    bucket_id = "feedbeef" if exported_id else "0a1b2c3d"
    assert calls[-1] == (f"v1 dbrp create --bucket-id {bucket_id} --db spinewise --rp autogen "
                         "--default --org spinewise")
    assert len(calls) == (1 if exported_id else 2)


def test_setup_secrets_help_prints_usage_and_creates_nothing(tmp_path):
    shutil.copytree(DEPLOY, tmp_path / "deploy",
                    ignore=shutil.ignore_patterns("dashboards", "secrets"))
    res = subprocess.run(["sh", str(tmp_path / "deploy/setup-secrets.sh"), "--help"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and "Usage" in res.stdout, res.stderr
    assert not (tmp_path / "deploy/secrets").exists()
    assert not (tmp_path / "deploy/mosquitto/passwd").exists()


def _expand(value: str) -> str:
    """Compose's ${VAR:-default} with the variables unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_services_get_scoped_influxdb_logins_not_the_operator_token(compose):
    """Least privilege (issue 16/17): only InfluxDB itself holds the operator token; the
    pipeline writes as spinewise-pipeline, Grafana reads as spinewise-grafana."""
    services = compose["services"]
    holders = {name for name, svc in services.items() if "influxdb-token" in svc.get("secrets", [])}
    assert holders == {"influxdb"}
    pipeline = services["pipeline"]
    assert pipeline["secrets"] == ["mqtt-pipeline-password", "influxdb-pipeline-password"]
    assert pipeline["environment"]["SPINEWISE_INFLUX__PASSWORD_FILE"] == \
        "/run/secrets/influxdb-pipeline-password"
    assert not any("TOKEN" in key for key in pipeline["environment"])
    assert "influxdb-grafana-password" in services["grafana"]["secrets"]
    assert {"influxdb-pipeline-password", "influxdb-grafana-password"} <= \
        set(services["influxdb"]["secrets"])
    assert "./influxdb/init:/docker-entrypoint-initdb.d:ro" in services["influxdb"]["volumes"]


def test_influxdb_init_script_creates_a_write_only_and_a_read_only_login(tmp_path):
    """Run 20-scoped-logins.sh against a stand-in `influx` CLI: the pipeline's login may only
    write the bucket, Grafana's only read it, each with the password of its Docker secret."""
    fake = tmp_path / "bin" / "influx"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$*" >> "$CALLS"\n')
    fake.chmod(0o755)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "influxdb-pipeline-password").write_text("pw-pipeline")
    (secrets / "influxdb-grafana-password").write_text("pw-grafana")
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin", "CALLS": str(tmp_path / "calls"),
           "SPINEWISE_SECRETS_DIR": str(secrets), "DOCKER_INFLUXDB_INIT_BUCKET": "spinewise",
           "DOCKER_INFLUXDB_INIT_ORG": "spinewise", "DOCKER_INFLUXDB_INIT_BUCKET_ID": "feedbeef"}
    script = DEPLOY / "influxdb/init/20-scoped-logins.sh"
    assert sorted(p.name for p in script.parent.iterdir()) == ["10-dbrp.sh", script.name]  # order
    res = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    pipeline, grafana = (tmp_path / "calls").read_text().splitlines()
    assert pipeline.startswith("v1 auth create --org spinewise --username spinewise-pipeline "
                               "--password pw-pipeline --write-bucket feedbeef ")
    assert "--read-bucket" not in pipeline
    assert grafana.startswith("v1 auth create --org spinewise --username spinewise-grafana "
                              "--password pw-grafana --read-bucket feedbeef ")
    assert "--write-bucket" not in grafana


def test_images_are_versioned_and_ours_carry_the_package_version(compose):
    import tomllib
    version = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]["version"]
    from spinewise import __version__
    assert version == __version__
    for name, svc in compose["services"].items():
        image = _expand(svc["image"])
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: {svc['image']} is not versioned"
        if repo == "spinewise":
            assert tag == version, f"{name}: {image} is not the package version {version}"
            assert svc["build"]["dockerfile"] == "deploy/pipeline.Dockerfile", name  # own build


def test_ports_bind_to_localhost_unless_asked(compose):
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            host, _, rest = _expand(str(port)).partition(":")
            assert host == "127.0.0.1" and rest.count(":") == 1, f"{name}: {port}"
            assert "${SPINEWISE_" in str(port), f"{name}: {port} cannot be opened when asked"


def test_readme_has_upgrade_and_restore_with_the_pipeline_state():
    readme = (DEPLOY.parent / "README.md").read_text()
    for heading in ("### Upgrade", "### Backup and restore"):
        assert heading in readme
    restore = readme.split("### Backup and restore", 1)[1].split("\n## ", 1)[0]
    assert "pipeline-state" in restore and "restore" in restore


def test_demo_writes_outside_the_checkout():
    from spinewise.demo import DEMO_DIR
    assert DEMO_DIR.startswith("~/.local/state/")
    assert "/spinewise-demo/" in (DEPLOY.parent / ".gitignore").read_text().splitlines()


def test_gateway_example_names_the_devices_and_users_of_the_pipeline_config():
    import tomllib
    gateway = tomllib.loads((DEPLOY / "gateway.example.toml").read_text())
    pipeline = tomllib.loads((DEPLOY / "spinewise.toml").read_text())
    users = {d["id"]: d["user"] for d in pipeline["devices"]}
    assert gateway["devices"]
    for d in gateway["devices"]:
        assert users.get(d["id"]) == d["user"], d["id"]


def test_engine_profile_runs_serverconf_nodes_and_workers_of_the_engine(compose):
    """The clustered engine's compose profile: three NATS nodes whose configurations are what
    spinewise.engine.serverconf makes (routes to each other), workers pointed at all three."""
    from spinewise.engine.serverconf import server_conf
    services = compose["services"]
    names = [f"nats{i}" for i in (1, 2, 3)]
    for i, name in enumerate(names, 1):
        svc = services[name]
        assert svc["profiles"] == ["engine"]
        routes = tuple(f"nats-route://{n}:6222" for n in names if n != name)
        want = server_conf(name=name, port=4222, mqtt_port=1883, store_dir="/data",
                           host="0.0.0.0", partitions=16, cluster_port=6222, routes=routes)
        assert (DEPLOY / "nats" / f"{name}.conf").read_text() == want, name
        assert f"./nats/{name}.conf:/etc/nats/nats.conf:ro" in svc["volumes"]
    for name in ("worker1", "worker2"):
        svc = services[name]
        env = svc["environment"]
        assert svc["profiles"] == ["engine"] and "--transport" in svc["command"]
        assert env["SPINEWISE_PIPELINE__NATS_SERVERS"].count("nats://") == 3
        assert env["SPINEWISE_PIPELINE__PARTITIONS"] == "16"
        assert svc["secrets"] == ["influxdb-pipeline-password"]
    assert services["worker1"]["volumes"] != services["worker2"]["volumes"]   # own spool each
