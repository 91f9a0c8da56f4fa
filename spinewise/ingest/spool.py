"""A bounded, append-only, on-disk FIFO of MQTT messages: what the gateway sends when it can.

Every outgoing message is appended here first and removed only after the broker acknowledged it,
so a broker outage or a gateway restart loses nothing that fits the bound.

Layout: ``<dir>/seg-<12 digits>.log`` segment files of records
``[u32 length][u32 crc32(body)][body]`` where ``body = [u8 qos|retain<<2][u16 topic len][topic][payload]``,
and ``<dir>/head`` holding ``"<segment> <offset>"``: the first unacknowledged record.

Policies:
- fsync: every append is written to the OS at once (survives a crash of the process); the segment
  is fsync'ed at most every ``fsync_interval_s`` of appends and on roll/close (survives power loss
  up to that interval). The head file is replaced atomically (rename), without fsync, at most
  every ``head_interval_s`` of acknowledgements and on close: after a crash up to that much
  acknowledged data may be sent again (at-least-once; consumers drop duplicates by ``seq``).
- bound: when the segments exceed ``max_bytes`` the OLDEST whole segment is deleted, even if
  unsent, and its records are counted in ``dropped`` and logged (recent data is worth more than
  old data to a live monitor, and the newest samples are what nudges depend on).
- corruption: a torn or corrupt record (crc mismatch, short read) ends its segment: the rest of
  that segment is skipped, counted in ``corrupt`` and logged; the spool carries on.

The wall clock is read here only to pace fsync; it never enters a message.
"""
from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_REC = struct.Struct("<II")
_BODY = struct.Struct("<BH")
_MAX_RECORD = 64 * 1024 * 1024


@dataclass(frozen=True)
class SpoolRecord:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


class Spool:
    def __init__(self, directory: str | os.PathLike, max_bytes: int = 256 * 2**20, *,
                 segment_bytes: int | None = None, fsync_interval_s: float = 1.0,
                 head_interval_s: float = 0.5) -> None:
        self.dir = Path(directory).expanduser()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self.segment_bytes = int(segment_bytes or max(64 * 1024, self.max_bytes // 16))
        self.fsync_interval_s = fsync_interval_s
        self.head_interval_s = head_interval_s
        self.dropped = 0        # records deleted unsent by the size bound
        self.corrupt = 0        # records lost to torn writes / bad crc
        self._lock = threading.Lock()
        self._segments: list[int] = sorted(int(p.stem[4:]) for p in self.dir.glob("seg-*.log")
                                           if p.stem[4:].isdigit())
        self._sizes = {s: self._path(s).stat().st_size for s in self._segments}
        self._head = self._read_head()
        self._count = 0
        for s in self._segments:
            self._count += self._count_records(s, self._head[1] if s == self._head[0] else 0)
        self._writer = None
        self._reader = None                 # (segment, file) open at the head
        self._head_written = 0.0
        self._head_dirty = False
        self._last_sync = 0.0
        self._dirty = False
        # records read ahead of the head for the sender's window: (record, segment, end offset)
        self._ahead: list[tuple[SpoolRecord, int, int]] = []
        self._cursor: tuple[int, int] | None = None    # where reading ahead continues
        if self._count:
            log.info("spool %s holds %d unsent messages from a previous run", self.dir, self._count)

    # -- public ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._count

    @property
    def size_bytes(self) -> int:
        return sum(self._sizes.values())

    def append(self, rec: SpoolRecord) -> None:
        topic = rec.topic.encode()
        body = _BODY.pack((rec.qos & 3) | (4 if rec.retain else 0), len(topic)) + topic + bytes(rec.payload)
        blob = _REC.pack(len(body), zlib.crc32(body)) + body
        with self._lock:
            if self._writer is None or self._sizes[self._segments[-1]] + len(blob) > self.segment_bytes:
                self._roll()
            self._writer.write(blob)
            self._writer.flush()
            seg = self._segments[-1]
            self._sizes[seg] += len(blob)
            self._count += 1
            self._dirty = True
            now = time.monotonic()
            if now - self._last_sync >= self.fsync_interval_s:
                os.fsync(self._writer.fileno())
                self._last_sync, self._dirty = now, False
            self._enforce_bound()

    def peek(self) -> SpoolRecord | None:
        """The oldest unacknowledged record (the same one until ``pop``), or None."""
        recs = self.peek_many(1)
        return recs[0] if recs else None

    def peek_many(self, n: int) -> list[SpoolRecord]:
        """Up to ``n`` oldest unacknowledged records, in order (for a window of messages in flight)."""
        with self._lock:
            while len(self._ahead) < n:
                nxt = self._read_next()
                if nxt is None:
                    break
                self._ahead.append(nxt)
            return [r for r, _, _ in self._ahead[:n]]

    def pop(self, n: int = 1) -> None:
        """Acknowledge the first ``n`` records returned by ``peek``/``peek_many``."""
        with self._lock:
            n = min(n, len(self._ahead))
            if n <= 0:
                return
            _, seg, end = self._ahead[n - 1]
            del self._ahead[:n]
            self._head = (seg, end)
            self._count = max(0, self._count - n)
            self._drop_consumed()
            self._head_dirty = True
            now = time.monotonic()
            if now - self._head_written >= self.head_interval_s or self._count == 0:
                self._write_head()
                self._head_written = now

    def rewind(self) -> None:
        """Forget the read-ahead: the next peek starts again at the oldest unacknowledged record
        (after a connection loss, whatever was in flight is sent again)."""
        with self._lock:
            self._ahead.clear()
            self._cursor = None

    def sync(self) -> None:
        with self._lock:
            if self._writer is not None and self._dirty:
                os.fsync(self._writer.fileno())
                self._dirty = False

    def close(self) -> None:
        with self._lock:
            if self._head_dirty:
                self._write_head()
            self._close_reader()
            if self._writer is not None:
                self._writer.flush()
                os.fsync(self._writer.fileno())
                self._writer.close()
                self._writer = None

    # -- internals (lock held) -------------------------------------------------------------
    def _path(self, seg: int) -> Path:
        return self.dir / f"seg-{seg:012d}.log"

    def _roll(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            os.fsync(self._writer.fileno())
            self._writer.close()
        seg = (self._segments[-1] + 1) if self._segments else 1
        self._writer = open(self._path(seg), "ab")
        self._segments.append(seg)
        self._sizes[seg] = 0
        if len(self._segments) == 1:
            self._head = (seg, 0)

    def _read_head(self) -> tuple[int, int]:
        try:
            seg, off = (int(x) for x in (self.dir / "head").read_text().split())
        except (OSError, ValueError):
            return (self._segments[0], 0) if self._segments else (0, 0)
        if seg not in self._sizes:  # the head's segment is gone (bound or consumed)
            later = [s for s in self._segments if s > seg]
            return (later[0], 0) if later else (seg, 0)
        return seg, off

    def _write_head(self) -> None:
        self._head_dirty = False
        tmp = self.dir / "head.tmp"
        tmp.write_text(f"{self._head[0]} {self._head[1]}")
        os.replace(tmp, self.dir / "head")

    def _count_records(self, seg: int, offset: int) -> int:
        n = 0
        with open(self._path(seg), "rb") as f:
            f.seek(offset)
            while self._read_one(f, seg, quiet=True) is not None:
                n += 1
        return n

    def _read_one(self, f, seg: int, quiet: bool = False) -> SpoolRecord | None:
        """The record at the file position; None at the end or at a torn/corrupt record (which
        is counted and logged when met on the way out, not while merely counting)."""
        hdr = f.read(_REC.size)
        if len(hdr) < _REC.size:
            if hdr and not quiet:
                self._note_corrupt(seg, "torn record header")
            return None
        length, crc = _REC.unpack(hdr)
        body = f.read(length) if length <= _MAX_RECORD else b""
        if len(body) != length or zlib.crc32(body) != crc or length < _BODY.size:
            if not quiet:
                self._note_corrupt(seg, "torn or corrupt record")
            return None
        flags, tlen = _BODY.unpack_from(body)
        topic = body[_BODY.size:_BODY.size + tlen].decode(errors="replace")
        return SpoolRecord(topic, body[_BODY.size + tlen:], flags & 3, bool(flags & 4))

    def _note_corrupt(self, seg: int, what: str) -> None:
        self.corrupt += 1
        log.warning("spool %s segment %d: %s; skipping the rest of the segment", self.dir, seg, what)

    def _read_next(self) -> tuple[SpoolRecord, int, int] | None:
        """The record at the read-ahead cursor, moving over finished and corrupt segments."""
        pos = self._cursor or self._head
        while self._segments:
            seg, off = pos
            if seg not in self._sizes:
                pos = (self._segments[0], 0)
                continue
            if self._writer is not None and seg == self._segments[-1]:
                self._writer.flush()
            f = self._open_reader(seg)
            f.seek(off)
            rec = self._read_one(f, seg)
            end = f.tell()
            if rec is not None:
                self._cursor = (seg, end)
                return rec, seg, end
            if seg == self._segments[-1]:
                if off < self._sizes[seg]:   # corrupt tail of the live segment: skip past it
                    pos = (seg, self._sizes[seg])
                self._move_cursor(pos)
                return None
            pos = (self._segments[self._segments.index(seg) + 1], 0)
            self._move_cursor(pos)
        return None

    def _move_cursor(self, pos: tuple[int, int]) -> None:
        self._cursor = pos
        if not self._ahead:   # nothing in flight before it: the head moves along (skipped data)
            self._head = pos
            self._drop_consumed()

    def _open_reader(self, seg: int):
        if self._reader is None or self._reader[0] != seg:
            self._close_reader()
            self._reader = (seg, open(self._path(seg), "rb"))
        return self._reader[1]

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader[1].close()
            self._reader = None

    def _drop_consumed(self) -> None:
        """Delete whole segments before the head (all their records were acknowledged)."""
        while len(self._segments) > 1 and self._segments[0] < self._head[0]:
            self._delete(self._segments.pop(0))
        # the live segment fully consumed and idle: keep it (the writer appends to it)

    def _enforce_bound(self) -> None:
        while self.size_bytes > self.max_bytes and len(self._segments) > 1:
            seg = self._segments.pop(0)
            start = self._head[1] if seg == self._head[0] else (0 if seg > self._head[0] else None)
            lost = self._count_records(seg, start) if start is not None else 0
            self._delete(seg)
            if lost:
                self.dropped += lost
                self._count = max(0, self._count - lost)
                log.warning("spool %s over %d bytes: dropped %d oldest unsent messages (total %d)",
                            self.dir, self.max_bytes, lost, self.dropped)
            if self._head[0] <= seg:
                self._head = (self._segments[0], 0)
            if self._ahead and self._ahead[0][1] <= seg or self._cursor and self._cursor[0] <= seg:
                self._ahead.clear()          # records in flight were dropped: start again
                self._cursor = None

    def _delete(self, seg: int) -> None:
        if self._reader is not None and self._reader[0] == seg:
            self._close_reader()
        self._sizes.pop(seg, None)
        try:
            self._path(seg).unlink()
        except FileNotFoundError:
            pass
