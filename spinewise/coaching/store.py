"""CoachStore: per-user settings, flags, exercise log, pain log and nudge history in SQLite.

One small local file (CoachingConfig.state_db; ``:memory:`` for tests). Time series for
dashboards go to InfluxDB through the storage engineer's code; this file is what coaching
needs to survive a restart. Safe to share between threads (one connection, one lock).
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from spinewise.coaching.log import LogEntry, PainReport

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS user_kv (
    user TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (user, key));
CREATE TABLE IF NOT EXISTS exercise_log (
    id INTEGER PRIMARY KEY, user TEXT NOT NULL, t_s REAL NOT NULL, exercise TEXT NOT NULL,
    kind TEXT NOT NULL, data TEXT NOT NULL, UNIQUE (user, t_s, exercise, kind));
CREATE INDEX IF NOT EXISTS exercise_log_user_t ON exercise_log (user, t_s);
CREATE TABLE IF NOT EXISTS pain_log (
    id INTEGER PRIMARY KEY, user TEXT NOT NULL, t_s REAL NOT NULL, score INTEGER NOT NULL,
    leg INTEGER NOT NULL, numbness INTEGER NOT NULL, weakness INTEGER NOT NULL, note TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pain_log_user_t ON pain_log (user, t_s);
CREATE TABLE IF NOT EXISTS nudge_log (
    id TEXT NOT NULL, user TEXT NOT NULL, t_s REAL NOT NULL, kind TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'sent', response_s REAL, data TEXT NOT NULL,
    PRIMARY KEY (user, id));
CREATE INDEX IF NOT EXISTS nudge_log_user_t ON nudge_log (user, t_s);
"""


class CoachStore:
    def __init__(self, path: str | Path = ":memory:"):
        self.path = str(path)
        if self.path != ":memory:":
            p = Path(self.path).expanduser()
            p.parent.mkdir(parents=True, exist_ok=True)
            self.path = str(p)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- key/value per user (settings overrides, flags, policy state, day totals) ----------
    def get(self, user: str, key: str, default: Any = None) -> Any:
        rows = self._exec("SELECT value FROM user_kv WHERE user=? AND key=?", (user, key))
        return json.loads(rows[0][0]) if rows else default

    def put(self, user: str, key: str, value: Any) -> None:
        self._exec("INSERT INTO user_kv VALUES (?, ?, ?) ON CONFLICT (user, key) DO UPDATE "
                   "SET value=excluded.value", (user, key, json.dumps(value)))

    def users(self) -> list[str]:
        rows = self._exec("SELECT DISTINCT user FROM user_kv UNION SELECT DISTINCT user FROM "
                          "exercise_log UNION SELECT DISTINCT user FROM pain_log ORDER BY 1")
        return [r[0] for r in rows]

    def settings(self, user: str) -> dict:
        return self.get(user, "settings", {})

    def update_settings(self, user: str, values: dict) -> dict:
        merged = {**self.settings(user), **values}
        self.put(user, "settings", merged)
        return merged

    def flags(self, user: str) -> dict:
        return {"acute": False, "extension_eases": False, "red_flag": False,
                **self.get(user, "flags", {})}

    def set_flags(self, user: str, **flags: bool) -> dict:
        merged = {**self.flags(user), **{k: bool(v) for k, v in flags.items()}}
        self.put(user, "flags", merged)
        return merged

    # -- day totals (the coach's running day, kept per local date for weekly reports) -------
    def put_day(self, user: str, day: dict) -> None:
        self.put(user, f"day:{day['date']}", day)

    def days(self, user: str, first: str, last: str) -> dict[str, dict]:
        """Day totals by local ISO date, ``first`` .. ``last`` inclusive."""
        rows = self._exec("SELECT key, value FROM user_kv WHERE user=? AND key>=? AND key<=? "
                          "ORDER BY key", (user, f"day:{first}", f"day:{last}"))
        return {k[4:]: json.loads(v) for k, v in rows}

    # -- exercise log -------------------------------------------------------------------------
    def add_entry(self, user: str, entry: LogEntry) -> bool:
        """Store a set/hold; a replayed duplicate (same time, exercise, kind) is ignored."""
        rows = self._exec("INSERT OR IGNORE INTO exercise_log (user, t_s, exercise, kind, data) "
                          "VALUES (?, ?, ?, ?, ?) RETURNING id",
                          (user, entry.t_s, entry.exercise, entry.kind, json.dumps(entry.to_dict())))
        return bool(rows)

    def entries(self, user: str, since_t_s: float | None = None,
                until_t_s: float | None = None) -> list[LogEntry]:
        rows = self._exec("SELECT data FROM exercise_log WHERE user=? AND t_s>=? AND t_s<=? "
                          "ORDER BY t_s", (user, -1e18 if since_t_s is None else since_t_s,
                                           1e18 if until_t_s is None else until_t_s))
        return [LogEntry.from_dict(json.loads(r[0])) for r in rows]

    # -- pain log -------------------------------------------------------------------------------
    def add_pain(self, user: str, report: PainReport) -> None:
        self._exec("INSERT INTO pain_log (user, t_s, score, leg, numbness, weakness, note) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (user, report.t_s, report.score, int(report.leg), int(report.numbness),
                    int(report.weakness), report.note))

    def pain(self, user: str, until_t_s: float | None = None) -> list[PainReport]:
        rows = self._exec("SELECT t_s, score, leg, numbness, weakness, note FROM pain_log "
                          "WHERE user=? AND t_s<=? ORDER BY t_s",
                          (user, 1e18 if until_t_s is None else until_t_s))
        return [PainReport(t, s, bool(lg), bool(n), bool(w), note) for t, s, lg, n, w, note in rows]

    # -- nudge history ----------------------------------------------------------------------
    def add_nudge(self, user: str, nudge_id: str, t_s: float, kind: str, data: dict) -> None:
        self._exec("INSERT OR IGNORE INTO nudge_log (id, user, t_s, kind, data) VALUES (?, ?, ?, ?, ?)",
                   (nudge_id, user, t_s, kind, json.dumps(data)))

    def set_nudge_outcome(self, user: str, nudge_id: str, outcome: str,
                          response_s: float | None = None) -> None:
        self._exec("UPDATE nudge_log SET outcome=?, response_s=? WHERE user=? AND id=?",
                   (outcome, response_s, user, nudge_id))

    def nudges(self, user: str, since_t_s: float = -1e18, until_t_s: float = 1e18) -> list[dict]:
        rows = self._exec("SELECT id, t_s, kind, outcome, response_s FROM nudge_log WHERE user=? "
                          "AND t_s>=? AND t_s<=? ORDER BY t_s", (user, since_t_s, until_t_s))
        return [{"id": i, "t_s": t, "kind": k, "outcome": o, "response_s": r}
                for i, t, k, o, r in rows]

    def nudge_counts(self, user: str, since_t_s: float = -1e18, until_t_s: float = 1e18) -> dict:
        rows = self._exec("SELECT outcome, COUNT(*) FROM nudge_log WHERE user=? AND t_s>=? AND "
                          "t_s<=? GROUP BY outcome", (user, since_t_s, until_t_s))
        counts = {"sent": 0, "answered": 0, "ignored": 0}
        for outcome, n in rows:
            counts[outcome] = n
        counts["sent"] = sum(n for _, n in rows)     # every row was sent; outcome refines it
        return counts
