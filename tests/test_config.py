"""Configuration: TOML + environment overrides, clear errors, secrets never printed."""
import pytest

from spinewise import config
from spinewise.config import ConfigError


def test_defaults_need_no_file():
    cfg = config.load(env={})
    assert cfg.mqtt.port == 1883 and cfg.signal.slouch_threshold_deg == 15.0


def test_toml_and_env_override(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[mqtt]\nhost = "broker"\nport = 1884\n[[devices]]\nid = "clip1"\nuser = "ann"\n')
    cfg = config.load(path, env={"SPINEWISE_MQTT__PORT": "1885", "SPINEWISE_LOG_LEVEL": "debug"})
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.log_level) == ("broker", 1885, "DEBUG")
    assert cfg.user_of("clip1") == "ann" and cfg.user_of("other") == "other"


def test_secret_from_file_is_redacted(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("hunter2\n")
    cfg = config.from_dict({"mqtt": {"username": "u", "password_file": str(secret)}})
    assert cfg.mqtt.password == "hunter2"
    assert "hunter2" not in str(cfg.redacted())


@pytest.mark.parametrize("data, message", [
    ({"mqtt": {"port": "x"}}, "mqtt.port"),
    ({"mqtt": {"prot": 1}}, "unknown key 'prot'"),
    ({"nope": {}}, "unknown section"),
    ({"devices": [{"user": "a"}]}, "devices[0]: missing required key(s) id"),
    ({"devices": [{"id": "a"}, {"id": "a"}]}, "duplicate id"),
    ({"signal": {"slouch_threshold_deg": float("nan")}}, "signal.slouch_threshold_deg"),
    ({"log_level": "loud"}, "log_level: expected one of"),
])
def test_broken_config_names_the_key(data, message):
    with pytest.raises(ConfigError, match=None) as err:
        config.from_dict(data)
    assert message in str(err.value)


def test_broken_toml_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[mqtt\nport = 1")
    with pytest.raises(ConfigError, match="bad.toml"):
        config.load(path, env={})
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "missing.toml", env={})
