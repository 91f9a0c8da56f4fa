"""The [notify] config section: TOML, environment overrides, secrets, errors that name the key."""
from __future__ import annotations

import pytest

from spinewise import config
from spinewise.config import ConfigError, from_dict

TOML = """
[notify]
attempts = 5

[[devices]]
id = "clip"
user = "alex"

[[notify.channels]]
user = "alex"
kind = "ntfy"
url = "https://ntfy.example.org/alex-back"
token_file = "{secret}"
tags = ["person_standing", "back"]

[[notify.channels]]
user = "alex"
kind = "haptic"
"""


def test_toml_with_secret_file_and_environment_override(tmp_path):
    secret = tmp_path / "ntfy-token"
    secret.write_text("tk_secret\n")
    path = tmp_path / "spinewise.toml"
    path.write_text(TOML.format(secret=secret))
    cfg = config.load(path, env={"SPINEWISE_NOTIFY__BACKOFF_S": "0.5"})
    n = cfg.notify
    assert (n.attempts, n.backoff_s) == (5, 0.5)
    ntfy, haptic = n.channels
    assert ntfy.token == "tk_secret" and ntfy.tags == ["person_standing", "back"]
    assert haptic.kind == "haptic" and haptic.device == ""
    assert cfg.redacted()["notify"]["channels"][0]["token"] == "***"


def test_defaults_have_no_channels():
    assert config.load(None, env={}).notify.channels == []


@pytest.mark.parametrize("notify, devices, message", [
    ({"attempts": 0}, [], "notify.attempts: expected 1-20"),
    ({"backoff_s": 5, "backoff_max_s": 1}, [], "notify.backoff_max_s"),
    ({"queue_max": 0}, [], "notify.queue_max"),
    ({"channels": {"user": "a"}}, [], "notify.channels: expected an array of tables"),
    ({"channels": [{"kind": "ntfy", "url": "http://x/t"}]}, [], "notify.channels[0]: missing required key(s) user"),
    ({"channels": [{"user": "a/b", "kind": "desktop"}]}, [], "notify.channels[0].user"),
    ({"channels": [{"user": "a", "kind": "sms"}]}, [], "notify.channels[0].kind: expected one of"),
    ({"channels": [{"user": "a", "kind": "ntfy"}]}, [], "notify.channels[0].url: ntfy needs an http"),
    ({"channels": [{"user": "a", "kind": "ntfy", "url": "ftp://x/t"}]}, [], "notify.channels[0].url"),
    ({"channels": [{"user": "a", "kind": "gotify", "url": "http://g/?token=x", "token": "x"}]}, [],
     "put the token in token"),
    ({"channels": [{"user": "a", "kind": "gotify", "url": "http://g"}]}, [], "notify.channels[0].token"),
    ({"channels": [{"user": "a", "kind": "desktop", "priority": 9}]}, [], "notify.channels[0].priority"),
    ({"channels": [{"user": "a", "kind": "desktop", "url": "http://x"}]}, [], "notify.channels[0].url: not used"),
    ({"channels": [{"user": "a", "kind": "ntfy", "url": "http://x/t", "bus_address": "unix:path=/x"}]}, [],
     "notify.channels[0].bus_address: not used"),
    ({"channels": [{"user": "a", "kind": "desktop", "timeout_s": 0}]}, [], "notify.channels[0].timeout_s"),
    ({"channels": [{"user": "a", "kind": "desktop", "colour": "red"}]}, [], "unknown key 'colour'"),
    ({"channels": [{"user": "a", "kind": "desktop"}, {"user": "a", "kind": "desktop"}]}, [],
     "notify.channels[1]: the same channel twice"),
    ({"channels": [{"user": "a", "kind": "haptic"}]}, [{"id": "h", "user": "a", "profile": "polar_h10"}],
     "notify.channels[0].kind: haptic needs a sensor of 'a'"),
    ({"channels": [{"user": "a", "kind": "haptic", "device": "other"}]}, [{"id": "h", "user": "a"}],
     "notify.channels[0].device"),
    ({"channels": [{"user": "a", "kind": "haptic"}]}, [{"id": "h", "user": "a", "profile": "polar"}],
     "devices[0].profile: unknown sensor profile"),
])
def test_errors_name_the_key(notify, devices, message):
    with pytest.raises(ConfigError) as exc:
        from_dict({"notify": notify, "devices": devices})
    assert message in str(exc.value)


def test_homeassistant_channel_needs_discovery():
    with pytest.raises(ConfigError, match="coaching.ha_discovery_prefix"):
        from_dict({"coaching": {"ha_discovery_prefix": ""},
                   "notify": {"channels": [{"user": "a", "kind": "homeassistant"}]}})


def test_channels_cannot_come_from_the_environment():
    with pytest.raises(ConfigError, match="notify.channels"):
        config.load(None, env={"SPINEWISE_NOTIFY__CHANNELS": "ntfy"})
