"""The access model on a real Mosquitto over TLS: for each role, what it may and may not publish
and read, with the ACL and password file that ``spinewise acl`` generates (spinewise.access).

The broker runs as shipped (anonymous refused, password file, ACL) with a TLS listener whose
certificate comes from a throwaway CA made at start. Every login connects through
spinewise.mqtt.MqttClient with certificate and hostname verification. The expectations below
are written out by hand from the issue's access model, not derived from spinewise.access, so
a wrong rule there fails here. A test-only ``test-auditor`` login (appended to the generated
files, never shipped) publishes the probes and observes what others publish.
"""
from __future__ import annotations

import secrets
import shutil
import threading
import time
from dataclasses import dataclass

import pytest

from spinewise.access import password_line, write_broker_files
from spinewise.config import MqttConfig, from_dict
from spinewise.mqtt import MqttClient
from tests.servers import Mosquitto, SecureMosquitto, ThrowawayCA, make_test_ca, missing

pytestmark = pytest.mark.servers

P = "spinewise"
CONFIG = {
    "mqtt": {"prefix": P},
    "devices": [
        {"id": "h10-a", "user": "alex", "profile": "polar_h10"},
        {"id": "clip-b", "user": "bea"},
        {"id": "clip-c", "user": "cat", "login": "gw-home"},      # one gateway, two sensors
        {"id": "clip-c2", "user": "cat", "login": "gw-home"},
    ],
    "carers": [{"id": "physio-pat", "users": ["alex", "cat"]}],
}
DEVICES = {"h10-a": "alex", "clip-b": "bea", "clip-c": "cat", "clip-c2": "cat"}
USERS = ("alex", "bea", "cat")
AUDITOR = "test-auditor"


def dev(d, kind):
    return f"{P}/dev/{d}/{kind}"


def usr(u, kind):
    return f"{P}/user/{u}/{kind}"


def ha(u):
    return f"homeassistant/sensor/spinewise_{u}/sitting/config"


STATS = f"{P}/$sys/pipeline/stats"
# every topic probed: all of each device's and person's, the pipeline's, HA discovery, and
# topics outside the model (a wildcard-looking id level is impossible in a topic name)
UNIVERSE = sorted(
    [dev(d, k) for d in DEVICES for k in ("imu", "status", "link", "events", "state", "haptic")]
    + [usr(u, k) for u in USERS for k in ("cmd", "cmd/reply", "nudge", "coach", "plan", "notify")]
    + [ha(u) for u in USERS]
    + [STATS, f"{P}/$sys/pipeline/status", "homeassistant/status", f"{P}/alex/imu",
       f"{P}/other", "elsewhere/x"])


def person_reads(u):
    own = {usr(u, k) for k in ("cmd/reply", "nudge", "coach", "plan", "notify")} | {ha(u)}
    for d, owner in DEVICES.items():
        if owner == u:
            own |= {dev(d, k) for k in ("events", "state", "status")}
    return own


def sensor_writes(*devices):
    return {dev(d, k) for d in devices for k in ("imu", "status", "link")}


EXPECTED_WRITE = {
    "h10-a": sensor_writes("h10-a"),
    "clip-b": sensor_writes("clip-b"),
    "gw-home": sensor_writes("clip-c", "clip-c2"),
    "alex": {usr("alex", "cmd")},
    "bea": {usr("bea", "cmd")},
    "cat": {usr("cat", "cmd")},
    "physio-pat": set(),
    "spinewise-pipeline": ({dev(d, k) for d in DEVICES for k in ("events", "state", "haptic")}
                           | {usr(u, k) for u in USERS for k in ("cmd/reply", "nudge", "coach", "plan", "notify")}
                           | {STATS, f"{P}/$sys/pipeline/status"} | {ha(u) for u in USERS}),
    "spinewise-monitor": set(),
}
EXPECTED_READ = {
    "h10-a": {dev("h10-a", "haptic")}, "clip-b": {dev("clip-b", "haptic")},
    "gw-home": {dev("clip-c", "haptic"), dev("clip-c2", "haptic")},
    "alex": person_reads("alex"),
    "bea": person_reads("bea"),
    "cat": person_reads("cat"),
    "physio-pat": person_reads("alex") | person_reads("cat"),
    "spinewise-pipeline": ({dev(d, k) for d in DEVICES for k in ("imu", "status", "link")}
                           | {usr(u, "cmd") for u in USERS}),
    "spinewise-monitor": ({STATS, f"{P}/$sys/pipeline/status"} | {dev(d, "status") for d in DEVICES}),
}
LOGINS = sorted(EXPECTED_WRITE)


@dataclass
class Broker:
    server: SecureMosquitto
    ca: ThrowawayCA
    passwords: dict[str, str]

    def config(self, login: str | None, *, password: str | None = None, host: str = "localhost",
               tls: bool = True, ca_file: str | None = None) -> MqttConfig:
        return MqttConfig(host=host, port=self.server.port if tls else self.server.plain_port,
                          username=login or "",
                          password=password if password is not None else self.passwords.get(login, ""),
                          tls=tls, ca_file=str(ca_file or self.ca.ca_cert), prefix=P,
                          reconnect_max_s=1)

    def client(self, login: str | None, **kw) -> MqttClient:
        return MqttClient(self.config(login, **kw), f"t-{login}-{secrets.token_hex(3)}",
                          clean_session=True)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    if not Mosquitto.available():
        missing("mosquitto is not installed; run `make test`")
    if shutil.which("openssl") is None:
        missing("openssl is not installed")
    d = tmp_path_factory.mktemp("secure-broker")
    ca = make_test_ca(d / "tls", hosts=("localhost",), ips=())   # not 127.0.0.1
    files = write_broker_files(from_dict(CONFIG), d / "mosquitto", d / "secrets")
    passwords = {name: path.read_text().strip() for name, path in files.secrets.items()}
    passwords[AUDITOR] = secrets.token_hex(16)
    with open(files.acl, "a") as fh:
        fh.write(f"# test only\nuser {AUDITOR}\ntopic readwrite #\n")
    with open(files.passwd, "a") as fh:
        fh.write(password_line(AUDITOR, passwords[AUDITOR]) + "\n")
    server = SecureMosquitto(files.acl, files.passwd, ca, d / "run")
    try:
        server.start()
    except RuntimeError as exc:
        missing(f"mosquitto could not be started: {exc}")
    yield Broker(server, ca, passwords)
    server.cleanup()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()

    def __call__(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.messages.append((topic, payload))

    def topics(self, payload: bytes | None = None) -> set[str]:
        with self.lock:
            return {t for t, p in self.messages if payload is None or p == payload}


def connected(client: MqttClient) -> MqttClient:
    assert client.connect(10), client.failure()
    return client


def settle(auditor: MqttClient, inbox: Inbox) -> None:
    """Wait until the broker has routed everything published so far: a sentinel sent after
    it comes back to the auditor only once the broker processed the earlier messages."""
    mark = f"sentinel-{secrets.token_hex(4)}".encode()
    auditor.publish("audit/sentinel", mark)
    end = time.monotonic() + 10
    while mark not in {p for _, p in inbox.messages} and time.monotonic() < end:
        time.sleep(0.01)
    time.sleep(0.2)      # the other clients' network threads read what is already on their socket


@pytest.fixture(scope="module")
def auditor(broker):
    inbox = Inbox()
    client = broker.client(AUDITOR)
    client.subscribe("#", inbox)
    connected(client)
    time.sleep(0.2)
    yield client, inbox
    client.close()


def test_each_role_publishes_exactly_what_the_model_allows(broker, auditor):
    client, inbox = auditor
    written = {}
    for login in LOGINS:
        c = connected(broker.client(login))
        try:
            payload = f"from-{login}".encode()
            for topic in UNIVERSE:
                c.publish(topic, payload)          # denied ones are acked and dropped (MQTT 3.1.1)
            settle(client, inbox)
            written[login] = inbox.topics(payload)
        finally:
            c.close()
    assert written == EXPECTED_WRITE


def test_each_role_reads_exactly_what_the_model_allows(broker, auditor):
    client, inbox = auditor
    inboxes, clients = {}, []
    try:
        for login in LOGINS:
            inboxes[login] = Inbox()
            c = broker.client(login)
            # a greedy subscriber: everything, the prefix, and each probed topic by name
            for filt in ["#", f"{P}/#", f"{P}/dev/+/state", *UNIVERSE]:
                c.subscribe(filt, inboxes[login])
            clients.append(connected(c))
        time.sleep(0.3)
        for topic in UNIVERSE:
            client.publish(topic, b"probe")
        settle(client, inbox)
        received = {login: box.topics(b"probe") for login, box in inboxes.items()}
    finally:
        for c in clients:
            c.close()
    assert received == EXPECTED_READ


def test_retained_state_reaches_only_its_person_and_carer(broker):
    """Home Assistant subscribes after the pipeline published retained state and discovery:
    each person's login gets their own, the carer their patients', nobody else anything."""
    pipe = connected(broker.client("spinewise-pipeline"))
    retained = [dev("h10-a", "state"), dev("clip-b", "state"), ha("alex"), ha("bea")]
    try:
        for topic in retained:
            assert pipe.publish(topic, b"retained", retain=True)
        got = {}
        for login in ("alex", "bea", "cat", "physio-pat", "h10-a"):
            box = Inbox()
            c = broker.client(login)
            c.subscribe("#", box)
            c.subscribe("homeassistant/#", box)
            connected(c)
            time.sleep(0.5)
            c.close()
            got[login] = box.topics(b"retained")
    finally:
        for topic in retained:
            pipe.publish(topic, b"", retain=True)
        pipe.close()
    assert got == {"alex": {dev("h10-a", "state"), ha("alex")},
                   "bea": {dev("clip-b", "state"), ha("bea")},
                   "cat": set(), "physio-pat": {dev("h10-a", "state"), ha("alex")},
                   "h10-a": set()}


@pytest.mark.parametrize("login, password", [
    (None, ""),                              # anonymous
    ("alex", "wrong"),                       # wrong password
    ("alex", "BEA"),                         # another login's password
    ("nobody", "whatever"),                  # unknown login
    ("spinewise-pipeline", ""),              # no password
])
def test_bad_logins_are_refused_with_one_clear_reason(broker, login, password):
    if password == "BEA":
        password = broker.passwords["bea"]
    for tls in (True, False):
        c = broker.client(login, password=password, tls=tls)
        try:
            assert not c.connect(5)
            assert "refused the login" in (c.failure() or ""), c.failure()
        finally:
            c.close()


def test_the_plain_listener_applies_the_same_rules(broker, auditor):
    client, inbox = auditor
    c = connected(broker.client("alex", tls=False))
    try:
        c.publish(dev("h10-a", "imu"), b"plain-alex")
        c.publish(usr("alex", "cmd"), b"plain-alex")
        settle(client, inbox)
    finally:
        c.close()
    assert inbox.topics(b"plain-alex") == {usr("alex", "cmd")}


def _refusal(c) -> str:
    """The one message a client that must not connect gives."""
    try:
        assert not c.connect(5)
        return c.failure() or ""
    finally:
        c.close()


def test_a_wrong_ca_fails_with_one_clear_message(broker):
    why = _refusal(broker.client("alex", ca_file=broker.ca.other_ca_cert))
    assert "certificate failed verification" in why and "mqtt.ca_file" in why, why


def test_a_wrong_hostname_fails_with_one_clear_message(broker):
    why = _refusal(broker.client("alex", host="127.0.0.1"))  # the certificate names "localhost"
    assert "certificate failed verification" in why and "mqtt.host" in why, why
    assert "127.0.0.1" in why
