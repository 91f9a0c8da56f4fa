"""One configuration object: a TOML file, then environment overrides.

Every section is a dataclass owned by this module; each field's default is what a user
gets without a file. Overrides come from ``SPINEWISE_<SECTION>__<FIELD>`` variables (e.g.
``SPINEWISE_MQTT__HOST=broker``). Secrets may be given as ``<field>_file`` pointing at a
file whose content is the value (compose/systemd credentials), and are never logged:
``Config.redacted()`` is what gets printed.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET_FIELDS = {"password", "token"}


class ConfigError(ValueError):
    """A configuration problem, with a message that names the key."""


@dataclass
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""
    prefix: str = "spinewise"
    client_id: str = ""
    keepalive_s: int = 30
    reconnect_max_s: float = 5.0     # cap of the reconnect backoff: a short outage heals fast


@dataclass
class InfluxConfig:
    # "none" (local store only), "v2" (influxdb-client: InfluxDB 2.x/3.x/1.8+), "v1" (/write)
    backend: str = "none"
    url: str = "http://127.0.0.1:8086"
    token: str = ""
    org: str = "spinewise"
    bucket: str = "spinewise"
    database: str = "spinewise"
    retention_policy: str = ""
    username: str = ""
    password: str = ""
    batch_size: int = 500
    flush_interval_s: float = 1.0
    spool_dir: str = "~/.local/state/spinewise/spool"
    spool_max_mb: int = 512
    angle_rate_hz: float = 5.0
    raw_imu: bool = False
    local_path: str = "~/.local/state/spinewise/local.sqlite"   # backend "none"/"local"
    timeout_s: float = 10.0                                     # per HTTP write
    carer_copies: bool = False     # also each carer's people to <database|bucket>_carer_<id>


@dataclass
class SignalConfig:
    slouch_threshold_deg: float = 15.0
    slouch_min_s: float = 30.0
    sedentary_tolerance_s: float = 60.0
    break_min_s: float = 60.0
    epoch_s: float = 1.0
    hip_rotation_deg: float = 5.0
    sag_deg: float = 5.0
    too_fast_s: float = 2.0
    dead_bug_hold_s: float = 2.0
    bird_dog_hold_s: float = 5.0
    breath_hold_s: float = 10.0
    # exercise recognition (spinewise/signal/exercise); see docs/exercise-accuracy.md
    exercise_rep_min_deg: float = 2.0        # smallest excursion from rest that can be a rep
    exercise_roll_rep_min_deg: float = 0.6   # same, counting on the roll alone (bird dog, dead bug)
    exercise_upright_rep_min_deg: float = 12.0  # same, standing (squats; walking rocks ~5 deg)
    exercise_set_min_reps: int = 3           # reps before an unannounced set is declared
    exercise_set_gap_s: float = 15.0         # no rep for this long ends a set
    exercise_hold_min_s: float = 8.0         # stillness in plank position before a hold starts
    exercise_hold_still_dps: float = 6.0     # tilt speed (deg/s, smoothed) still enough to hold
    shaking_rise_ratio: float = 1.8          # tremor end/start ratio that flags `shaking`
    shaking_min_mg: float = 4.0              # and the end tremor must be at least this
    tremor_min_rate_hz: float = 30.0         # below, 8-12 Hz tremor is unavailable (aliasing)


@dataclass
class CoachingConfig:
    timezone: str = "UTC"
    quiet_start: str = "22:00"
    quiet_end: str = "07:00"
    window_min: float = 60.0
    sedentary_trigger_min: float = 50.0
    min_interval_min: float = 60.0
    snooze_min: float = 30.0
    daily_cap: int = 8
    answered_within_min: float = 10.0
    state_db: str = "~/.local/state/spinewise/coaching.sqlite"
    # coaching engineer: further per-user thresholds (docs/coaching.md explains each)
    current_sedentary_s: float = 30.0      # the minute before a nudge must be mostly sedentary
    lying_night_start: str = "20:00"       # lying in this window is never nudged (bed, sofa)
    lying_night_end: str = "09:00"
    morning_end: str = "12:00"             # first nudge of the day before this = morning mobility
    press_up_interval_min: float = 120.0   # guide: disc-related, "every 2 hours" when acute
    weekly_increase_max: float = 0.10      # guide: Safety Precautions, the 10% rule
    deload_every_weeks: int = 4            # guide: Advanced Progressions, deload every 4th week
    deload_factor: float = 0.6             # volume of a deload week vs the reference week
    phase_min_weeks: int = 4               # guide: phases last 4-6 weeks
    phase_max_weeks: int = 6
    pain_reduction_factor: float = 0.8     # volume after a failed 24-hour rule
    ha_discovery_prefix: str = "homeassistant"   # "" disables Home Assistant discovery


@dataclass
class DeviceConfig:
    id: str
    user: str = "default"
    profile: str = "spinewise"
    address: str = ""
    name: str = ""
    rate_hz: float = 50.0
    login: str = ""          # the broker login that publishes this sensor (default: its id)


@dataclass
class CarerConfig:
    """A physiotherapist or carer: a broker login that may read the listed people's data."""
    id: str
    users: list[str] = field(default_factory=list)


@dataclass
class GatewayConfig:
    adapter: str = ""
    scan_timeout_s: float = 10.0
    batch_s: float = 0.5
    encoding: str = "json"          # "json" or "binary"
    spool_dir: str = "~/.local/state/spinewise/gateway-spool"
    spool_max_mb: int = 256
    silence_timeout_s: float = 5.0
    reconnect_max_s: float = 60.0


@dataclass
class PipelineConfig:
    state_dir: str = "~/.local/state/spinewise/pipeline"
    stats_interval_s: float = 10.0
    state_interval_s: float = 1.0
    client_id: str = "spinewise-pipeline"   # stable: the broker keeps our QoS 1 session by it
    unknown_devices: str = "accept"         # "accept" (user = device id, counted) or "reject"
    reorder_wait_s: float = 2.0             # bounded wait for out-of-order samples (event and wall s)
    queue_max: int = 20000                  # MQTT messages waiting for the worker
    snapshot_interval_s: float = 60.0       # per-device Analyzer state to state_dir
    shard: str = ""                         # "i/N": this process serves users with crc32(user) % N == i
    outbox_max: int = 10000                 # outgoing events held while the broker is away (oldest dropped)
    max_devices: int = 10000                # sessions at most; unknown devices beyond it are refused
    max_imu_bytes: int = 1048576            # larger imu payloads are refused (counted)
    max_message_bytes: int = 65536          # the same for status, link and cmd messages
    queue_max_bytes: int = 134217728        # payload bytes waiting for the worker (backpressure)
    max_pending_samples: int = 30000        # per device: held back for reordering / confirmation
    # input: "mqtt" = Mosquitto with a persistent session (default), "nats" = the clustered
    # engine (NATS JetStream, spinewise.engine; README "Scaling out on the engine")
    transport: str = "mqtt"
    nats_servers: str = "nats://127.0.0.1:4222"   # nats: comma-separated server URLs
    partitions: int = 16                    # nats: as in the servers' subject mapping (serverconf)
    engine_replicas: int = 1                # nats: copies of the stream and buckets (3 on a cluster)
    engine_retention_s: float = 6 * 3600.0  # nats: how long the stream keeps sensor messages
                                            # (longer than all workers could be down; disk!)
    lease_ttl_s: float = 4.0                # nats: a dead worker's partitions move after about this
    checkpoint_interval_s: float = 1.0      # nats: snapshot touched devices, then ack, this often
    # mqtt: when a message is acknowledged to the broker. "checkpoint" (default): only once the
    # storage write and the device snapshot that cover it are done, so a killed pipeline is sent
    # again what its restored state has not seen; "arrival": as soon as it is queued (faster,
    # but a kill -9 loses what was processed since the last snapshot)
    ack: str = "checkpoint"
    # mqtt, ack = "checkpoint": the regular checkpoint is the snapshot (snapshot_interval_s); one
    # comes sooner once this many acks are owed (what a crash makes the broker send again).
    # ack_window + queue_max stay within 65535, the MQTT 5 Receive Maximum we announce.
    ack_window: int = 2000
    worker_id: str = ""                     # nats: this worker's name ("" = <hostname>-<pid>)


@dataclass
class NotifyChannelConfig:
    """One way a person's nudges reach them (spinewise.notify; docs/notify.md)."""
    user: str
    kind: str                  # ntfy, gotify, webhook, desktop, homeassistant, haptic
    url: str = ""              # ntfy: the topic URL; gotify: the server; webhook: the endpoint
    token: str = ""            # ntfy/webhook: bearer token; gotify: the application token
    priority: int = 3          # 1 (min) .. 5 (urgent), ntfy's scale, mapped for the others
    tags: list[str] = field(default_factory=lambda: ["person_standing"])   # ntfy tags / emoji
    bus_address: str = ""      # desktop: D-Bus address ("" = the session bus)
    device: str = ""           # haptic: the sensor to buzz ("" = every sensor of the user)
    timeout_s: float = 5.0     # per delivery attempt


@dataclass
class NotifyConfig:
    attempts: int = 4                  # per nudge and channel, then it is counted as failed
    backoff_s: float = 2.0             # before the 2nd attempt; doubles after each failure
    backoff_max_s: float = 60.0
    queue_max: int = 100               # nudges waiting per channel; beyond, new ones are dropped
    log_interval_s: float = 60.0       # a failing channel logs at most once per interval
    channels: list[NotifyChannelConfig] = field(default_factory=list)


@dataclass
class Config:
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    influx: InfluxConfig = field(default_factory=InfluxConfig)
    signal: SignalConfig = field(default_factory=SignalConfig)
    coaching: CoachingConfig = field(default_factory=CoachingConfig)
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    devices: list[DeviceConfig] = field(default_factory=list)
    carers: list[CarerConfig] = field(default_factory=list)
    log_level: str = "INFO"
    notify: NotifyConfig = field(default_factory=NotifyConfig)

    def user_of(self, device_id: str) -> str:
        for d in self.devices:
            if d.id == device_id:
                return d.user
        return device_id

    def redacted(self) -> dict[str, Any]:
        def walk(obj):
            if dataclasses.is_dataclass(obj):
                return {f.name: ("***" if f.name in SECRET_FIELDS and getattr(obj, f.name)
                                 else walk(getattr(obj, f.name)))
                        for f in dataclasses.fields(obj)}
            if isinstance(obj, list):
                return [walk(o) for o in obj]
            return obj
        return walk(self)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_SECTIONS = {f.name: f for f in dataclasses.fields(Config)}


def _coerce(value: Any, typ: Any, where: str) -> Any:
    typ = {"str": str, "int": int, "float": float, "bool": bool}.get(typ, typ) if isinstance(typ, str) else typ
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on"}:
                return True
            if isinstance(value, str) and value.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        if typ is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if typ is float:
            if isinstance(value, bool):
                raise ValueError(value)
            out = float(value)
            if out != out:
                raise ValueError(value)
            return out
        if typ is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError(value)
            return str(value)
        if typing.get_origin(typ) is list:
            if isinstance(value, str):         # from the environment: comma-separated
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(value)
            return list(value)
    except (TypeError, ValueError):
        name = getattr(typ, "__name__", str(typ))
        raise ConfigError(f"{where}: expected {name}, got {value!r}") from None
    return value


def _build(cls, data: dict[str, Any], where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key.endswith("_file") and key[:-5] in SECRET_FIELDS and key[:-5] in names:
            path = Path(str(value)).expanduser()
            try:
                value = path.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{where}.{key}: cannot read secret file {path}: {exc.strerror}") from None
            key = key[:-5]
        if key not in names:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(names))})")
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}")
    missing = [f.name for f in dataclasses.fields(cls)
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               and f.name not in kwargs]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {', '.join(missing)}")
    return cls(**kwargs)


def from_dict(data: dict[str, Any]) -> Config:
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _SECTIONS:
            raise ConfigError(f"unknown section or key {key!r} (known: {', '.join(sorted(_SECTIONS))})")
        if key in ("devices", "carers"):
            if not isinstance(value, list):
                raise ConfigError(f"{key}: expected an array of tables ([[{key}]])")
            cls = DeviceConfig if key == "devices" else CarerConfig
            kwargs[key] = [_build(cls, d, f"{key}[{i}]") for i, d in enumerate(value)]
            ids = [d.id for d in kwargs[key]]
            if len(ids) != len(set(ids)):
                raise ConfigError(f"{key}: duplicate id in {ids}")
        elif key == "notify":
            kwargs[key] = _build_notify(value)
        elif key == "log_level":
            kwargs[key] = _coerce(value, str, "log_level").upper()
            if kwargs[key] not in LOG_LEVELS:
                raise ConfigError(f"log_level: expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
        else:
            kwargs[key] = _build(typing.get_type_hints(Config)[key], value, key)
    cfg = Config(**kwargs)
    _check(cfg)
    return cfg


def _build_notify(data: Any) -> NotifyConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"notify: expected a table, got {type(data).__name__}")
    data = dict(data)
    channels = data.pop("channels", [])
    if not isinstance(channels, list):
        raise ConfigError("notify.channels: expected an array of tables ([[notify.channels]])")
    out = _build(NotifyConfig, data, "notify")
    out.channels = [_build(NotifyChannelConfig, c, f"notify.channels[{i}]") for i, c in enumerate(channels)]
    return out


def _check(cfg: Config) -> None:
    """Values that parse but cannot work: one message naming the key (before anything starts)."""
    from spinewise.topics import check_id, check_prefix

    def need(ok: bool, key: str, why: str, value: Any) -> None:
        if not ok:
            raise ConfigError(f"{key}: {why}, got {value!r}")

    try:
        check_prefix(cfg.mqtt.prefix)
        for i, d in enumerate(cfg.devices):
            check_id(d.id, f"devices[{i}].id")
            check_id(d.user, f"devices[{i}].user")
            if d.login:
                check_id(d.login, f"devices[{i}].login")
        for i, c in enumerate(cfg.carers):
            check_id(c.id, f"carers[{i}].id")
            for u in c.users:
                check_id(u, f"carers[{i}].users")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    need(0 < cfg.mqtt.port < 65536, "mqtt.port", "expected 1-65535", cfg.mqtt.port)
    need(cfg.mqtt.keepalive_s >= 5, "mqtt.keepalive_s", "expected >= 5", cfg.mqtt.keepalive_s)
    need(cfg.mqtt.reconnect_max_s >= 1, "mqtt.reconnect_max_s", "expected >= 1", cfg.mqtt.reconnect_max_s)
    pc = cfg.pipeline
    for key in ("stats_interval_s", "state_interval_s", "snapshot_interval_s"):
        need(getattr(pc, key) >= 0.05, f"pipeline.{key}", "expected >= 0.05 s", getattr(pc, key))
    for key in ("max_devices", "max_imu_bytes", "max_message_bytes", "queue_max_bytes",
                "max_pending_samples", "queue_max", "outbox_max", "ack_window"):
        need(getattr(pc, key) >= 1, f"pipeline.{key}", "expected >= 1", getattr(pc, key))
    need(pc.transport in ("mqtt", "nats"), "pipeline.transport", 'expected "mqtt" or "nats"', pc.transport)
    need(pc.ack in ("checkpoint", "arrival"), "pipeline.ack", 'expected "checkpoint" or "arrival"', pc.ack)
    need(pc.ack != "checkpoint" or pc.transport != "mqtt" or pc.ack_window + pc.queue_max <= 65535,
         "pipeline.ack_window", "ack_window + queue_max must be <= 65535 (MQTT 5 Receive Maximum)",
         pc.ack_window)
    need(pc.checkpoint_interval_s >= 0.05, "pipeline.checkpoint_interval_s", "expected >= 0.05 s",
         pc.checkpoint_interval_s)
    if pc.transport == "nats":
        need(not pc.shard, "pipeline.shard", "not used with transport = \"nats\" (the engine "
             "assigns partitions to workers)", pc.shard)
        need(pc.partitions >= 1, "pipeline.partitions", "expected >= 1", pc.partitions)
        need(pc.engine_replicas in (1, 3, 5), "pipeline.engine_replicas", "expected 1, 3 or 5",
             pc.engine_replicas)
        need(pc.lease_ttl_s >= 1.0, "pipeline.lease_ttl_s", "expected >= 1 s", pc.lease_ttl_s)
        need("." not in cfg.mqtt.prefix, "mqtt.prefix", "no '.' with the engine (NATS subjects)",
             cfg.mqtt.prefix)
        need(pc.worker_id == "" or _valid_worker(pc.worker_id), "pipeline.worker_id",
             "expected 1-64 of A-Z a-z 0-9 _ -", pc.worker_id)
    need(len(cfg.devices) <= pc.max_devices, "pipeline.max_devices",
         f"smaller than the {len(cfg.devices)} configured devices", pc.max_devices)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(cfg.coaching.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"coaching.timezone: unknown IANA time zone {cfg.coaching.timezone!r} "
                          "(e.g. Europe/London)") from None
    from spinewise.notify.settings import check_notify
    check_notify(cfg)


def _valid_worker(text: str) -> bool:
    from spinewise.topics import valid_id
    return valid_id(text)


def _env_overrides(env: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith("SPINEWISE_") or "__" not in name:
            continue
        section, _, key = name[len("SPINEWISE_"):].lower().partition("__")
        if section not in _SECTIONS or section in {"devices", "carers", "log_level"}:
            raise ConfigError(f"environment {name}: unknown section {section!r}")
        out.setdefault(section, {})[key] = value
    if "SPINEWISE_LOG_LEVEL" in env:
        out["log_level"] = env["SPINEWISE_LOG_LEVEL"]
    return out


def load(path: str | os.PathLike | None = None, env: dict[str, str] | None = None) -> Config:
    """Load the TOML file (if any) and apply environment overrides."""
    env = dict(os.environ) if env is None else env
    data: dict[str, Any] = {}
    path = path or env.get("SPINEWISE_CONFIG")
    if path:
        p = Path(path).expanduser()
        try:
            data = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {p} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p}: {exc}") from None
    for section, values in _env_overrides(env).items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return from_dict(data)
