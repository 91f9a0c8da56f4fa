"""Who may publish and read what on the broker: logins, roles and the Mosquitto ACL, from the config.

spinewise holds health data, so the broker gives every login exactly what its role needs
(topics: spinewise.topics)::

    role      login                      may publish                       may read
    sensor    the device id, or the      dev/<d>/imu, link, status          dev/<d>/haptic
              device's ``login`` (one
              gateway for several)
    person    the user id                user/<u>/cmd                      user/<u>/{cmd/reply,nudge,
                                                                           coach,plan,notify}; dev/<d>/{events,
                                                                           state,status} of their
                                                                           sensors; their Home Assistant
                                                                           discovery configs
    carer     [[carers]] id              -                                 what each listed person reads
    pipeline  spinewise-pipeline         dev/+/{events,state,haptic},      dev/+/{imu,status,link},
                                         user/+/{cmd/reply,nudge,coach,     user/+/cmd
                                         plan,notify}, $sys/#, discovery of the
                                         configured people
    monitor   spinewise-monitor          -                                 $sys/#, dev/+/status

Nothing else: no login reads another person's data, publishes as another sensor or as the
pipeline, and anonymous clients are refused (mosquitto.conf). A name may hold one role only
(a device id equal to a user id is refused here: the two namespaces never mix on the broker).
Mosquitto checks reads per delivered message, so a client subscribing to ``#`` simply receives
what it may read (Home Assistant subscribes to ``homeassistant/#`` and sees its own entities).

``acl_text(cfg)`` is the ``acl_file``; ``password_line(login, password)`` is one line of the
``password_file`` in Mosquitto 2's own format (``$7$``: PBKDF2-SHA512, 101 iterations, the
same as ``mosquitto_passwd``), so passwords never go on a command line.
``write_broker_files`` writes both and keeps one password file per login under a secrets
directory (mode 0600; existing passwords are kept). Stdlib only: ``deploy/setup-secrets.sh``
runs it with the system Python from a checkout.
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from spinewise.config import Config, ConfigError
from spinewise.topics import ANY, DEVICE_OUT_KINDS, SENSOR_IN_KINDS, SENSOR_KINDS, USER_OUT_KINDS, Topics

PIPELINE_LOGIN = "spinewise-pipeline"
MONITOR_LOGIN = "spinewise-monitor"
ROLES = ("sensor", "person", "carer", "pipeline", "monitor")
PBKDF2_ITERATIONS = 101          # mosquitto_passwd's default for $7$ hashes


@dataclass
class Login:
    name: str
    role: str
    write: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    covers: list[str] = field(default_factory=list)   # devices / users this login stands for


def logins(cfg: Config) -> dict[str, Login]:
    """Every broker login the config implies, with its topics; ConfigError on a name clash."""
    t = Topics(cfg.mqtt.prefix, cfg.coaching.ha_discovery_prefix)
    out: dict[str, Login] = {}

    def add(name: str, role: str) -> Login:
        login = out.get(name)
        if login is None:
            login = out[name] = Login(name, role)
        elif login.role != role:
            raise ConfigError(f"login {name!r} would be both a {login.role} and a {role}: device, "
                              "user and carer ids must differ (and not be spinewise-pipeline or "
                              "spinewise-monitor)")
        return login

    add(PIPELINE_LOGIN, "pipeline")
    add(MONITOR_LOGIN, "monitor")
    users: dict[str, list[str]] = {}
    for d in cfg.devices:
        users.setdefault(d.user, []).append(d.id)
        sensor = add(d.login or d.id, "sensor")
        sensor.covers.append(d.id)
        sensor.write += [t.device(d.id, k) for k in SENSOR_KINDS]
        sensor.read += [t.device(d.id, k) for k in SENSOR_IN_KINDS]

    def person_reads(user: str) -> list[str]:
        topics = [t.user(user, k) for k in USER_OUT_KINDS]
        for dev in users.get(user, []):
            topics += [t.device(dev, k) for k in (*DEVICE_OUT_KINDS, "status")]
        if cfg.coaching.ha_discovery_prefix:
            topics.append(t.discovery_of(user))
        return topics

    for user in users:
        person = add(user, "person")
        person.covers.append(user)
        person.write.append(t.user(user, "cmd"))
        person.read += person_reads(user)
    for c in cfg.carers:
        carer = add(c.id, "carer")
        for user in c.users:
            if user not in users:
                raise ConfigError(f"carers: {c.id!r} follows {user!r}, who has no [[devices]] entry")
            carer.covers.append(user)
            carer.read += person_reads(user)

    pipe = out[PIPELINE_LOGIN]
    pipe.read += [t.device(ANY, k) for k in SENSOR_KINDS] + [t.user(ANY, "cmd")]
    pipe.write += ([t.device(ANY, k) for k in (*DEVICE_OUT_KINDS, *SENSOR_IN_KINDS)]
                   + [t.user(ANY, k) for k in USER_OUT_KINDS] + [t.sys_all()])
    if cfg.coaching.ha_discovery_prefix:
        pipe.write += [t.discovery_of(u) for u in users]
    out[MONITOR_LOGIN].read += [t.sys_all(), t.device(ANY, "status")]
    return out


def acl_text(cfg: Config) -> str:
    """The Mosquitto ``acl_file`` for the config (deterministic: regenerate, diff, commit)."""
    lines = ["# spinewise Mosquitto ACL, generated by `spinewise acl` from the config: do not edit.",
             "# Roles and topics: spinewise/access.py; README 'Security'. No rule = no access.",
             ""]
    for login in sorted(logins(cfg).values(), key=lambda x: (ROLES.index(x.role), x.name)):
        covers = f" ({', '.join(login.covers)})" if login.covers and login.covers != [login.name] else ""
        lines += [f"# {login.role}{covers}", f"user {login.name}"]
        both = set(login.read) & set(login.write)
        for topic in _unique(login.write):
            lines.append(f"topic {'readwrite' if topic in both else 'write'} {topic}")
        lines += [f"topic read {topic}" for topic in _unique(login.read) if topic not in both]
        lines.append("")
    return "\n".join(lines)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def password_line(login: str, password: str, *, salt: bytes | None = None) -> str:
    """One ``password_file`` line, as ``mosquitto_passwd`` writes it for Mosquitto 2."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return (f"{login}:$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}"
            f"${base64.b64encode(digest).decode()}")


def new_password() -> str:
    return secrets.token_hex(24)


@dataclass
class BrokerFiles:
    acl: Path
    passwd: Path
    created: list[str]          # logins that got a new password
    secrets: dict[str, Path]    # login -> file holding its password


def write_broker_files(cfg: Config, out_dir: str | os.PathLike, secrets_dir: str | os.PathLike,
                       *, extra_passwords: dict[str, Path] | None = None) -> BrokerFiles:
    """``<out_dir>/acl`` and ``<out_dir>/passwd`` for every login of the config. Each login's
    password lives in ``<secrets_dir>/mqtt/<login>`` (0600, created when missing, else kept);
    ``extra_passwords`` names files to use instead (the pipeline's from compose secrets)."""
    out_dir, sdir = Path(out_dir), Path(secrets_dir) / "mqtt"
    out_dir.mkdir(parents=True, exist_ok=True)
    sdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(sdir, 0o700)
    all_logins = logins(cfg)
    created, files, lines = [], {}, []
    for name in sorted(all_logins):
        path = (extra_passwords or {}).get(name, sdir / name)
        if not path.exists() or not path.read_text().strip():
            _write_private(path, new_password())
            created.append(name)
        files[name] = path
        lines.append(password_line(name, path.read_text().strip()))
    acl = out_dir / "acl"
    _write_private(acl, acl_text(cfg), mode=0o644)
    passwd = out_dir / "passwd"
    _write_private(passwd, "\n".join(lines) + "\n")
    return BrokerFiles(acl, passwd, created, files)


def carer_store_name(base: str, carer_id: str) -> str:
    """The database (bucket) holding carer ``carer_id``'s copy of their people's points
    (``influx.carer_copies``, spinewise.storage.carers)."""
    return f"{base}_carer_{carer_id}"


def carer_influx_passwords(cfg: Config, secrets_dir: str | os.PathLike) -> dict[str, str]:
    """Each carer's InfluxDB password, kept in ``<secrets_dir>/influxdb/<carer id>`` (0600,
    created when missing, else kept, like the broker's)."""
    sdir = Path(secrets_dir) / "influxdb"
    sdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(sdir, 0o700)
    out = {}
    for c in cfg.carers:
        path = sdir / c.id
        if not path.exists() or not path.read_text().strip():
            _write_private(path, new_password())
        out[c.id] = path.read_text().strip()
    return out


def carer_influxql(cfg: Config, passwords: dict[str, str],
                   pipeline_user: str = PIPELINE_LOGIN) -> list[str]:
    """InfluxQL (1.x, run as the admin) for ``influx.carer_copies``: per carer a database with
    their people's copy, the pipeline's login may write it, the carer's login (named like its
    broker login) may read it and nothing else. Safe to run again: CREATE is idempotent there
    and SET PASSWORD keeps a re-created secret in step."""
    out = []
    for c in cfg.carers:
        db = carer_store_name(cfg.influx.database, c.id)
        pw = passwords[c.id].replace("\\", "\\\\").replace("'", "\\'")
        out += [f'CREATE DATABASE "{db}"', f'GRANT WRITE ON "{db}" TO "{pipeline_user}"',
                f"CREATE USER \"{c.id}\" WITH PASSWORD '{pw}'",
                f"SET PASSWORD FOR \"{c.id}\" = '{pw}'", f'GRANT READ ON "{db}" TO "{c.id}"']
    return out


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write atomically with ``mode`` from the start (never briefly world-readable)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
