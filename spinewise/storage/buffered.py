"""Batching + spooling in front of a network backend: the Storage for InfluxDB v1/v2.

``write()`` never touches the network when a background flusher runs: it only appends to an
in-memory batch (deduplicated by point key, so posture points that share a 1/rate slot
collapse to the last one) and wakes the flusher when the batch is full. The flusher writes
every ``flush_interval_s`` or ``batch_size`` points. Order is kept strictly: while the spool
holds anything, new batches go *behind* it on disk, and the spool is drained oldest first.
Lines leave the spool (spinewise.storage.spool over spinewise.spool) only after the backend
acknowledged them (see storage/spool.py for why a re-send after a crash duplicates nothing).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Iterable

from spinewise.storage.backends import RejectedWriteError, TransientWriteError
from spinewise.storage.point import Point
from spinewise.storage.spool import Spool

log = logging.getLogger(__name__)

RETRY_MIN_S = 1.0
RETRY_MAX_S = 30.0
CLOSE_DRAIN_S = 20.0


class BufferedStorage:
    def __init__(self, backend, spool: Spool, batch_size: int = 500, flush_interval_s: float = 1.0,
                 background: bool = True) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.backend = backend
        self.spool = spool
        self.batch_size = int(batch_size)
        self.flush_interval_s = float(flush_interval_s)
        self._buf: dict[tuple, str] = {}
        self._buf_lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._counters = {"points_written": 0, "points_spooled": 0, "points_rejected": 0,
                          "write_errors": 0, "batches_written": 0}
        self._last_error = ""
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._retry_s = RETRY_MIN_S
        self._closed = False
        self._wake = threading.Event()
        self._thread = None
        if background:
            self._thread = threading.Thread(target=self._run, name="spinewise-storage", daemon=True)
            self._thread.start()

    # -- the Storage interface ---------------------------------------------------------------
    def write(self, points: Iterable[Point]) -> None:
        if self._closed:
            raise RuntimeError("storage is closed")
        lines = []
        for p in points:
            try:
                lines.append((p.key, p.to_line()))
            except (TypeError, ValueError) as exc:   # one unserialisable point, not the batch
                self._counters["points_rejected"] += 1
                log.error("point not storable, dropped: %s: %s", getattr(p, "measurement", p), exc)
        with self._buf_lock:
            self._buf.update(lines)
            full = len(self._buf) >= self.batch_size
        if full:
            if self._thread is not None:
                self._wake.set()
            else:
                self.flush()

    def flush(self, force: bool = False, max_drain_s: float | None = None) -> bool:
        """Write what is buffered (and drain the spool). True when nothing is left pending.

        While the backend is down, batches go to the spool and the backend is retried with
        exponential back-off (1 s .. 30 s); ``force`` retries at once (used by close()).
        ``max_drain_s`` bounds the time spent draining a large spool (the rest waits on disk).
        """
        deadline = None if max_drain_s is None else time.monotonic() + max_drain_s
        with self._io_lock:
            with self._buf_lock:
                lines = list(self._buf.values())
                self._buf.clear()
            return self._flush_locked(lines, force, deadline)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._wake.set()
            self._thread.join(timeout=30)
        # bounded, so that a service stop never hangs on a long backlog: the spool is on disk
        self.flush(force=True, max_drain_s=CLOSE_DRAIN_S)
        self.backend.close()
        if len(self.spool):
            log.warning("closing with %d points in the spool %s; they are sent on the next start",
                        len(self.spool), self.spool.dir)
        self.spool.close()

    def stats(self) -> dict:
        with self._buf_lock:
            buffered = len(self._buf)
        spool = self.spool.stats()
        return {**self._counters, "spool_depth": spool["depth_records"],
                "spool_bytes": spool["depth_bytes"], "spool_corrupt": spool["corrupt"],
                "points_dropped": spool["dropped"], "buffered": buffered,
                "backend_up": self._down_since is None, "last_error": self._last_error}

    # -- internals ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            if self._closed:
                break
            try:
                self.flush()
            except Exception:               # the flusher must survive anything: log, go on
                log.exception("storage flush failed unexpectedly")

    def _send(self, lines: list[str]) -> bool:
        """True when written (or rejected for good); False when it must be retried later."""
        try:
            self.backend.write_lines(lines)
        except TransientWriteError as exc:
            self._counters["write_errors"] += 1
            self._mark_down(str(exc))
            return False
        except RejectedWriteError as exc:
            self._counters["write_errors"] += 1
            self._last_error = str(exc)
            if len(lines) > 1:
                # Find the bad line(s) by bisection so that only they are dropped: some
                # servers write nothing of a batch with one unparseable line, and re-sending
                # the good ones is harmless (same key = overwrite).
                mid = len(lines) // 2
                return self._send(lines[:mid]) and self._send(lines[mid:])
            self._counters["points_rejected"] += 1
            log.error("point rejected by the server, dropped: %s (%s)", lines[0][:200], exc)
            return True
        self._counters["points_written"] += len(lines)
        self._counters["batches_written"] += 1
        if self._down_since is not None:
            log.info("storage back after %.0f s; spool depth %d",
                     time.monotonic() - self._down_since, len(self.spool))
        self._down_since = None
        self._retry_s = RETRY_MIN_S
        return True

    def _mark_down(self, message: str) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            log.warning("storage unavailable, spooling to %s: %s", self.spool.dir, message)
        else:
            self._retry_s = min(RETRY_MAX_S, self._retry_s * 2)
        self._last_error = message
        self._retry_at = now + self._retry_s

    def _flush_locked(self, lines: list[str], force: bool, deadline: float | None = None) -> bool:
        may_try = force or self._down_since is None or time.monotonic() >= self._retry_at
        if may_try:
            while len(self.spool):
                if deadline is not None and time.monotonic() > deadline:
                    break
                chunk, receipt = self.spool.peek(self.batch_size)
                if not chunk:
                    break
                if not self._send(chunk):
                    break
                self.spool.ack(receipt, len(chunk))
        if len(self.spool) or not may_try:
            # keep order: anything new waits behind what is already spooled
            self._to_spool(lines)
            return not lines and not len(self.spool)
        for i in range(0, len(lines), self.batch_size):
            chunk = lines[i:i + self.batch_size]
            if not self._send(chunk):
                self._to_spool(lines[i:])
                return False
        return True

    def _to_spool(self, lines: list[str]) -> None:
        if lines:
            self.spool.append(lines)
            self._counters["points_spooled"] += len(lines)
