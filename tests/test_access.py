"""spinewise.access: logins, roles, the generated ACL and password file (no broker here;
tests/test_access_broker.py proves the same files on a real Mosquitto)."""
from __future__ import annotations

import base64
import hashlib
import os
import stat

import pytest

from spinewise import cli
from spinewise.access import (MONITOR_LOGIN, PIPELINE_LOGIN, acl_text, logins, password_line,
                              write_broker_files)
from spinewise.config import ConfigError, from_dict

CLINIC = {
    "devices": [
        {"id": "h10-a", "user": "alex", "profile": "polar_h10"},
        {"id": "clip-b", "user": "bea"},
        {"id": "clip-c", "user": "cat", "login": "gw-home"},
        {"id": "clip-c2", "user": "cat", "login": "gw-home"},
    ],
    "carers": [{"id": "physio-pat", "users": ["alex", "cat"]}],
}


def clinic(**extra):
    return from_dict({**CLINIC, **extra})


def test_every_role_gets_one_login():
    roles = {name: login.role for name, login in logins(clinic()).items()}
    assert roles == {"h10-a": "sensor", "clip-b": "sensor", "gw-home": "sensor",
                     "alex": "person", "bea": "person", "cat": "person",
                     "physio-pat": "carer", PIPELINE_LOGIN: "pipeline", MONITOR_LOGIN: "monitor"}


def test_a_person_may_not_publish_a_sensor_stream_or_read_another_person():
    alex = logins(clinic())["alex"]
    assert alex.write == ["spinewise/user/alex/cmd"]
    assert not any("/imu" in t or "bea" in t or "clip-b" in t or "cat" in t for t in alex.read)
    assert "spinewise/dev/h10-a/state" in alex.read
    assert "homeassistant/+/spinewise_alex/#" in alex.read


def test_a_carer_reads_exactly_their_people():
    pat = logins(clinic())["physio-pat"]
    assert pat.write == []
    assert {"spinewise/user/alex/nudge", "spinewise/user/cat/nudge",
            "spinewise/dev/clip-c2/state"} <= set(pat.read)
    assert not any("bea" in t or "clip-b" in t for t in pat.read)


def test_one_gateway_login_may_publish_for_its_sensors_only():
    gw = logins(clinic())["gw-home"]
    assert gw.covers == ["clip-c", "clip-c2"]
    assert set(gw.write) == {f"spinewise/dev/{d}/{k}" for d in ("clip-c", "clip-c2")
                             for k in ("imu", "status", "link")}
    assert gw.read == ["spinewise/dev/clip-c/haptic", "spinewise/dev/clip-c2/haptic"]  # buzz only


def test_no_wildcard_for_anyone_but_the_pipeline_and_monitor():
    for login in logins(clinic()).values():
        if login.role in ("sensor", "person", "carer"):
            for topic in login.write + login.read:
                if topic.startswith("homeassistant/"):     # their own node's configs only
                    assert topic.split("/")[2] in {f"spinewise_{u}" for u in login.covers}
                else:
                    assert "+" not in topic and "#" not in topic, (login.name, topic)


@pytest.mark.parametrize("data, key", [
    ({"devices": [{"id": "alex", "user": "alex"}]}, "alex"),                 # device id = user id
    ({"devices": [{"id": "d1", "user": "u1"}], "carers": [{"id": "u1", "users": ["u1"]}]}, "u1"),
    ({"devices": [{"id": "spinewise-pipeline", "user": "u1"}]}, "spinewise-pipeline"),
    ({"devices": [{"id": "d1", "user": "u1", "login": "u1"}]}, "u1"),
])
def test_a_name_with_two_roles_is_refused(data, key):
    with pytest.raises(ConfigError, match=key):
        logins(from_dict(data))


def test_a_carer_of_an_unknown_person_is_refused():
    with pytest.raises(ConfigError, match="nobody"):
        logins(from_dict({"devices": [{"id": "d1", "user": "u1"}],
                          "carers": [{"id": "c1", "users": ["nobody"]}]}))


@pytest.mark.parametrize("bad", ["a/b", "a+", "#", "$x", "a b", 'a"b', "a,b", "a=b", ""])
def test_ids_that_would_break_topics_or_the_acl_are_refused(bad):
    with pytest.raises(ConfigError):
        from_dict({"devices": [{"id": "d1", "user": bad}]})
    with pytest.raises(ConfigError):
        from_dict({"devices": [{"id": "d1", "user": "u1"}], "carers": [{"id": bad, "users": ["u1"]}]})


def test_acl_is_deterministic_and_has_no_patterns():
    text = acl_text(clinic())
    assert text == acl_text(clinic())
    assert "pattern" not in text and "%u" not in text
    assert "user bea\ntopic write spinewise/user/bea/cmd\n" in text


def test_discovery_off_means_no_discovery_rules():
    text = acl_text(clinic(coaching={"ha_discovery_prefix": ""}))
    assert "homeassistant" not in text


def test_password_line_is_mosquittos_pbkdf2_format():
    salt = b"0123456789ab"
    line = password_line("alex", "s3cret", salt=salt)
    name, _, rest = line.partition(":")
    _, seven, iterations, salt64, hash64 = rest.split("$")
    assert (name, seven, iterations) == ("alex", "7", "101")
    assert base64.b64decode(salt64) == salt
    assert base64.b64decode(hash64) == hashlib.pbkdf2_hmac("sha512", b"s3cret", salt, 101)


def test_files_are_private_and_passwords_kept_on_rerun(tmp_path):
    out, sec = tmp_path / "mosquitto", tmp_path / "secrets"
    first = write_broker_files(clinic(), out, sec)
    assert sorted(first.created) == sorted(logins(clinic()))
    assert stat.S_IMODE(os.stat(first.passwd).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(sec / "mqtt").st_mode) == 0o700
    for path in first.secrets.values():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert len(path.read_text()) >= 32
    before = {n: p.read_text() for n, p in first.secrets.items()}
    grown = dict(CLINIC, devices=CLINIC["devices"] + [{"id": "clip-d", "user": "dan"}])
    second = write_broker_files(from_dict(grown), out, sec)
    assert sorted(second.created) == ["clip-d", "dan"]
    assert all(second.secrets[n].read_text() == pw for n, pw in before.items())


def test_pipeline_password_from_a_compose_secret(tmp_path):
    secret = tmp_path / "mqtt-pipeline-password"
    secret.write_text("from-compose\n")
    files = write_broker_files(clinic(), tmp_path / "m", tmp_path / "s",
                               extra_passwords={PIPELINE_LOGIN: secret})
    assert PIPELINE_LOGIN not in files.created
    assert secret.read_text() == "from-compose\n"


def test_acl_command_writes_both_files(tmp_path, capsys):
    cfg = tmp_path / "spinewise.toml"
    cfg.write_text('[[devices]]\nid = "h10-a"\nuser = "alex"\n')
    rc = cli.main(["--config", str(cfg), "acl", "--out", str(tmp_path / "m"),
                   "--secrets", str(tmp_path / "s")])
    assert rc == 0
    assert (tmp_path / "m" / "acl").read_text().count("\nuser ") == 4
    assert "4 logins" in capsys.readouterr().out
    assert cli.main(["--config", str(cfg), "acl", "--print"]) == 0
    assert "user alex" in capsys.readouterr().out
