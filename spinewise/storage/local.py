"""The local store: the same points in one SQLite file, for the demo and offline use.

One row per point, keyed like InfluxDB (measurement + tags + time), so writing the same
point twice overwrites it here too. Fields are a JSON object, queryable with SQLite's JSON
functions, e.g. ``SELECT exercise, sum(json_extract(fields, '$.reps')) FROM points
WHERE measurement = 'set' GROUP BY exercise``.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable

from spinewise.storage.point import Point

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    user        TEXT NOT NULL DEFAULT '',
    device      TEXT NOT NULL DEFAULT '',
    exercise    TEXT NOT NULL DEFAULT '',
    time_ns     INTEGER NOT NULL,
    fields      TEXT NOT NULL,
    PRIMARY KEY (measurement, user, device, exercise, time_ns)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_by_time ON points (measurement, time_ns);
"""
TAG_COLUMNS = ("user", "device", "exercise")
log = logging.getLogger(__name__)


class LocalStore:
    """Storage backed by SQLite (``path`` or ":memory:")."""

    def __init__(self, path: str = ":memory:") -> None:
        if path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            path = str(Path(path).expanduser())
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL") if path != ":memory:" else None
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._written = 0
        self._rejected = 0

    def write(self, points: Iterable[Point]) -> None:
        rows = []
        for p in points:
            extra = set(p.tags) - set(TAG_COLUMNS)
            if extra:
                self._rejected += 1
                log.error("point not storable, dropped: %s: tags %s are not in the schema (tags "
                          "are %s)", p.measurement, sorted(extra), ", ".join(TAG_COLUMNS))
                continue
            try:
                fields = json.dumps(p.fields, allow_nan=False)
            except (TypeError, ValueError) as exc:   # one unstorable point, not the batch
                self._rejected += 1
                log.error("point not storable, dropped: %s: %s", p.measurement, exc)
                continue
            rows.append((p.measurement, p.tags.get("user", ""), p.tags.get("device", ""),
                         p.tags.get("exercise", ""), p.time_ns, fields))
        if not rows:
            return
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?)", rows)
            self._written += len(rows)

    def flush(self, force: bool = False) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def stats(self) -> dict:
        return {"points_written": self._written, "points_spooled": 0, "points_rejected": self._rejected,
                "write_errors": 0, "batches_written": 0, "spool_depth": 0, "points_dropped": 0,
                "buffered": 0, "backend_up": True, "last_error": ""}

    # -- reading (for the demo's summary and tests) ------------------------------------------
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        with self._lock:
            cur = self._db.execute(sql, tuple(params))
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def rows(self, measurement: str, *, start_ns: int | None = None, end_ns: int | None = None,
             **tags: str) -> list[dict]:
        """Points of one measurement in time order as flat dicts: time_ns, tags, then fields."""
        where, params = ["measurement = ?"], [measurement]
        if start_ns is not None:
            where.append("time_ns >= ?")
            params.append(start_ns)
        if end_ns is not None:
            where.append("time_ns < ?")
            params.append(end_ns)
        for k, v in tags.items():
            if k not in TAG_COLUMNS:
                raise ValueError(f"unknown tag {k!r}")
            where.append(f"{k} = ?")
            params.append(v)
        out = []
        for r in self.query(f"SELECT * FROM points WHERE {' AND '.join(where)} ORDER BY time_ns",
                            params):
            fields = json.loads(r.pop("fields"))
            r.pop("measurement")
            out.append({**r, **fields})
        return out

    def count(self, measurement: str | None = None) -> int:
        if measurement is None:
            return self.query("SELECT count(*) AS n FROM points")[0]["n"]
        return self.query("SELECT count(*) AS n FROM points WHERE measurement = ?",
                          [measurement])[0]["n"]
