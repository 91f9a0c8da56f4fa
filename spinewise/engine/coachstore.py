"""Coaching state in the engine, so a user's coaching follows the user from worker to worker.

In engine mode a user is coached by the worker that owns the partition of the user's primary
device (spinewise.engine.commands). :class:`KvCoachStore` is the coaching store that worker
uses: the same store as on one machine (spinewise.coaching.store, an in-memory SQLite here),
with every row it writes also kept in the engine's key-value bucket ``subjects.COACH``, one
key per row (``<user>.<table>.<row>``), so a year of one user's logs is many small values,
never one that grows.

- :meth:`load` reads a user's rows from the bucket when the user arrives on this worker;
- rows written since are *dirty*; :meth:`flush` stores them, and the pipeline calls it at
  each checkpoint before it acknowledges the messages that wrote them, as it stores device
  snapshots: after a crash the next owner loads the rows of the last checkpoint and is
  redelivered the messages after it;
- :meth:`unload` forgets a user whose partition left this worker (unflushed rows included:
  the next owner makes them again from the redelivered messages).
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import threading
from typing import Callable

from spinewise.coaching.log import LogEntry, PainReport
from spinewise.coaching.store import CoachStore
from spinewise.engine.link import EngineLink
from spinewise.engine.subjects import COACH

log = logging.getLogger(__name__)

# table -> (short name in keys, its columns as stored)
TABLES = {
    "user_kv": ("kv", ("user", "key", "value")),
    "exercise_log": ("ex", ("user", "t_s", "exercise", "kind", "data")),
    "pain_log": ("pain", ("user", "t_s", "score", "leg", "numbness", "weakness", "note")),
    "nudge_log": ("nudge", ("id", "user", "t_s", "kind", "outcome", "response_s", "data")),
}
LOAD_WAIT_S = 10.0


def key_token(text: str) -> str:
    """One key token for any text: itself when it is plain, else '=' + base64url."""
    if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
        return text
    return "=" + base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


class KvCoachStore(CoachStore):
    def __init__(self, link: EngineLink, bucket: str = COACH) -> None:
        super().__init__(":memory:")
        self.link = link
        self.bucket = bucket
        self.kv = None                        # set by EngineIntake once connected
        self._dirty: dict[str, dict[str, bytes]] = {}       # user -> key -> row
        self._dirty_lock = threading.Lock()

    # -- writes: the local row, and the row marked for the next flush ------------------------
    def put(self, user: str, key: str, value) -> None:
        super().put(user, key, value)
        self._mark(user, "user_kv", (key,), {"user": user, "key": key, "value": json.dumps(value)})

    def add_entry(self, user: str, entry: LogEntry) -> bool:
        added = super().add_entry(user, entry)
        if added:
            self._mark(user, "exercise_log", (entry.t_s, entry.exercise, entry.kind),
                       {"user": user, "t_s": entry.t_s, "exercise": entry.exercise,
                        "kind": entry.kind, "data": json.dumps(entry.to_dict())})
        return added

    def add_pain(self, user: str, report: PainReport) -> None:
        super().add_pain(user, report)
        row = {"user": user, "t_s": report.t_s, "score": report.score, "leg": int(report.leg),
               "numbness": int(report.numbness), "weakness": int(report.weakness),
               "note": report.note}
        self._mark(user, "pain_log", tuple(row.values())[1:], row)

    def add_nudge(self, user: str, nudge_id: str, t_s: float, kind: str, data: dict) -> None:
        super().add_nudge(user, nudge_id, t_s, kind, data)
        self._mark_nudge(user, nudge_id)

    def set_nudge_outcome(self, user: str, nudge_id: str, outcome: str,
                          response_s: float | None = None) -> None:
        super().set_nudge_outcome(user, nudge_id, outcome, response_s)
        self._mark_nudge(user, nudge_id)

    def _mark_nudge(self, user: str, nudge_id: str) -> None:
        cols = TABLES["nudge_log"][1]
        rows = self._exec(f"SELECT {', '.join(cols)} FROM nudge_log WHERE user=? AND id=?",
                          (user, nudge_id))
        if rows:
            self._mark(user, "nudge_log", (nudge_id,), dict(zip(cols, rows[0])))

    def _mark(self, user: str, table: str, ident: tuple, row: dict) -> None:
        short = TABLES[table][0]
        key = f"{key_token(user)}.{short}.{key_token('|'.join(map(repr, ident)))}"
        with self._dirty_lock:
            self._dirty.setdefault(user, {})[key] = json.dumps({"table": table, "row": row}).encode()

    # -- engine side ------------------------------------------------------------------------
    def dirty_users(self) -> list[str]:
        with self._dirty_lock:
            return sorted(self._dirty)

    def flush(self, keep: Callable[[str], bool] = lambda user: True) -> int:
        """Store the dirty rows of the users ``keep`` accepts (those still coached here);
        returns how many. On failure they stay dirty for the next flush."""
        with self._dirty_lock:
            taken = {u: rows for u, rows in self._dirty.items() if keep(u)}
            for u in taken:
                del self._dirty[u]
        if not taken:
            return 0
        rows = {k: v for user_rows in taken.values() for k, v in user_rows.items()}

        async def put_all():
            await asyncio.gather(*(self.kv.put(k, v) for k, v in rows.items()))
        try:
            self.link.call(put_all(), 30.0)
        except BaseException:
            with self._dirty_lock:        # newer rows written meanwhile win
                for u, user_rows in taken.items():
                    self._dirty[u] = {**user_rows, **self._dirty.get(u, {})}
            raise
        return len(rows)

    def load(self, user: str) -> int:
        """A user arriving on this worker: their rows from the engine replace any local ones.
        Raises when the engine cannot be read (the caller must not coach from nothing)."""
        rows = self.link.call(self._read(f"{key_token(user)}.>"), LOAD_WAIT_S + 5.0)
        self.unload(user)
        self._insert(rows)
        return len(rows)

    def _insert(self, rows: list[dict]) -> None:
        for doc in rows:
            table, row = doc["table"], doc["row"]
            cols = [c for c in TABLES[table][1] if c in row]
            self._exec(f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) VALUES "
                       f"({', '.join('?' * len(cols))})", tuple(row[c] for c in cols))

    def unload(self, user: str) -> None:
        for table in TABLES:
            self._exec(f"DELETE FROM {table} WHERE user=?", (user,))
        with self._dirty_lock:
            self._dirty.pop(user, None)

    async def _read(self, keys: str) -> list[dict]:
        """Every current row whose key matches ``keys``: one ordered consumer, last value per key."""
        from nats.js.api import DeliverPolicy
        import nats.errors
        info = await self.link.js.stream_info(f"KV_{self.bucket}",
                                             subjects_filter=f"$KV.{self.bucket}.{keys}")
        expected = len(info.state.subjects or {})
        out: list[dict] = []
        if not expected:
            return out
        sub = await self.link.js.subscribe(f"$KV.{self.bucket}.{keys}", ordered_consumer=True,
                                          deliver_policy=DeliverPolicy.LAST_PER_SUBJECT)
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=LOAD_WAIT_S)
                except nats.errors.TimeoutError:
                    raise TimeoutError(f"coaching rows {keys}: {len(out)} of {expected} read") from None
                deleted = msg.headers and msg.headers.get("KV-Operation") in ("DEL", "PURGE")
                if not deleted:
                    out.append(json.loads(msg.data))
                if msg.metadata.num_pending == 0:
                    return out
        finally:
            await sub.unsubscribe()


def read_everyone(servers: list[str], timeout_s: float = 10.0) -> CoachStore:
    """Every user's coaching rows from the engine, in a local in-memory store: what the CLI
    (``spinewise coach``, ``spinewise report``) reads in engine mode. ValueError when the
    engine cannot be read."""
    link = EngineLink(servers, "spinewise-cli")
    try:
        link.call(link.open(timeout_s), timeout_s + 5.0)
        store = KvCoachStore(link)
        store.kv = link.call(link.js.key_value(COACH))
        store._insert(link.call(store._read(">"), LOAD_WAIT_S + 5.0))
    except Exception as exc:
        raise ValueError(f"coaching rows not readable from the engine {','.join(servers)}: "
                         f"{type(exc).__name__}: {exc}") from None
    finally:
        link.close()
    return store
