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


@pytest.mark.parametrize("data,key", [
    ({"mqtt": {"port": 99999}}, "mqtt.port"),                       # retried for ever once
    ({"mqtt": {"port": 0}}, "mqtt.port"),
    ({"coaching": {"timezone": "Mars/Olympus"}}, "coaching.timezone"),
    ({"pipeline": {"stats_interval_s": 0}}, "pipeline.stats_interval_s"),   # flooded the log
    ({"pipeline": {"max_devices": 0}}, "pipeline.max_devices"),
    ({"pipeline": {"max_imu_bytes": -1}}, "pipeline.max_imu_bytes"),
    ({"mqtt": {"reconnect_max_s": 0}}, "mqtt.reconnect_max_s"),
    ({"pipeline": {"ack": "sometimes"}}, "pipeline.ack"),
    ({"pipeline": {"checkpoint_interval_s": 0}}, "pipeline.checkpoint_interval_s"),
])
def test_values_that_cannot_work_are_refused_naming_the_key(data, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.from_dict(data)


def test_a_bad_spool_dir_is_an_error_naming_the_key(tmp_path):
    from spinewise.storage import open_storage

    (tmp_path / "file").write_text("")
    cfg = config.from_dict({"influx": {"backend": "v1", "url": "http://127.0.0.1:9",
                                       "spool_dir": str(tmp_path / "file" / "spool")}})
    with pytest.raises(ConfigError, match=r"influx\.spool_dir"):
        open_storage(cfg.influx, background=False)


def test_the_reconnect_backoff_is_capped_so_a_short_outage_heals_fast():
    """A 15 s broker outage took 31 s to heal with a 30 s cap; paho now waits at most 5 s."""
    assert config.MqttConfig().reconnect_max_s <= 5.0
