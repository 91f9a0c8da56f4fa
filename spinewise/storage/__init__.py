"""Storage: the schema (Events -> Points) and the backends behind one small interface.

    storage = open_storage(config.influx)          # backend chosen by InfluxConfig.backend
    storage.write(points_from_event(event, user, device))
    storage.stats()   # points_written, spool_depth, write_errors, points_rejected, ...
    storage.close()   # flushes; what cannot be written stays in the disk spool

Backends: "v2" InfluxDB 2.x/3.x/1.8+ (influxdb-client), "v1" InfluxDB 1.x ``/write``,
"none"/"local" a SQLite file (the demo). docs/storage.md documents the schema.
"""
from __future__ import annotations

from typing import Iterable, Protocol

from spinewise.storage.point import Point, make_point
from spinewise.storage.schema import (MEASUREMENTS, SchemaError, points_from_chunk,
                                      points_from_event, time_ns)

BACKENDS = ("none", "local", "v2", "v1")


class Storage(Protocol):
    def write(self, points: Iterable[Point]) -> None: ...
    def flush(self, force: bool = False) -> bool: ...
    def close(self) -> None: ...
    def stats(self) -> dict: ...


def open_storage(cfg, *, background: bool = True, carers=()) -> Storage:
    """The Storage that ``cfg`` (an InfluxConfig) asks for; with ``cfg.carer_copies`` also a copy
    per carer of ``carers`` (the config's CarerConfig list, spinewise.storage.carers)."""
    from spinewise.config import ConfigError

    backend = (cfg.backend or "none").lower()
    for name, low in (("batch_size", 1), ("flush_interval_s", 0.01), ("spool_max_mb", 1),
                      ("angle_rate_hz", 0.001), ("timeout_s", 0.1)):
        if getattr(cfg, name) < low:
            raise ConfigError(f"influx.{name}: must be at least {low}, got {getattr(cfg, name)!r}")
    if backend in ("none", "local"):
        from spinewise.storage.local import LocalStore
        return LocalStore(cfg.local_path)
    if backend not in BACKENDS:
        raise ConfigError(f"influx.backend: {cfg.backend!r} is not one of {', '.join(BACKENDS)}")
    if cfg.carer_copies and not carers:
        raise ConfigError("influx.carer_copies: no [[carers]] configured")
    main = _buffered(cfg, cfg.spool_dir, cfg.bucket, cfg.database, background)
    if not cfg.carer_copies:
        return main
    from spinewise.storage.carers import CarerCopies, carer_store_name

    spool_root = cfg.spool_dir.rstrip("/")
    return CarerCopies(main, [
        (c.id, c.users, _buffered(cfg, f"{spool_root}/carer-{c.id}", carer_store_name(cfg.bucket, c.id),
                                  carer_store_name(cfg.database, c.id), background))
        for c in carers])


def _buffered(cfg, spool_dir: str, bucket: str, database: str, background: bool) -> Storage:
    """One InfluxDB target behind its own buffer and disk spool."""
    from spinewise.config import ConfigError
    from spinewise.storage.backends import InfluxV1Backend, InfluxV2Backend
    from spinewise.storage.buffered import BufferedStorage
    from spinewise.storage.spool import Spool, SpoolBusyError

    try:
        spool = Spool(spool_dir, max_bytes=int(cfg.spool_max_mb) * 1024 * 1024)
    except SpoolBusyError as exc:
        raise ConfigError(f"influx.spool_dir: {exc}") from None
    except OSError as exc:           # not a folder, not writable: say which key to fix
        raise ConfigError(f"influx.spool_dir: cannot use {spool_dir}: "
                          f"{exc.strerror or exc}") from None
    if cfg.backend.lower() == "v2":
        sink = InfluxV2Backend(cfg.url, cfg.token, cfg.org, bucket, timeout_s=cfg.timeout_s)
    else:
        sink = InfluxV1Backend(cfg.url, database, cfg.retention_policy, cfg.username,
                               cfg.password, timeout_s=cfg.timeout_s)
    return BufferedStorage(sink, spool, batch_size=cfg.batch_size,
                           flush_interval_s=cfg.flush_interval_s, background=background)


__all__ = ["BACKENDS", "MEASUREMENTS", "Point", "SchemaError", "Storage", "make_point",
           "open_storage", "points_from_chunk", "points_from_event", "time_ns"]
