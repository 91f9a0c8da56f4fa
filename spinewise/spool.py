"""A bounded, append-only, on-disk FIFO of byte records with acknowledge-after-success.

What a sender cannot deliver right now waits here, in order, and leaves only when the receiver
acknowledged it: the gateway's MQTT messages (spinewise.ingest.spool) and the storage writer's
line-protocol lines (spinewise.storage.spool) are thin layers over this one mechanism.

    sp = Spool(directory, max_bytes=256 * 2**20)
    sp.append(b"record")                 # or append_many([...]): one write, one fsync decision
    batch = sp.peek(16)                  # the oldest unacknowledged records, stable until ack
    ...deliver batch[:k]...
    sp.ack(k)                            # they are done; sp.rewind() to read them again instead
    sp.stats()                           # depth_records, depth_bytes, dropped, corrupt, ...

Layout: ``<dir>/seg-<12 digits>.log`` segment files of records
``[u32 length][u32 crc32(body)][body]`` (little endian); ``<dir>/head`` = ``"<segment> <offset>"``,
the first unacknowledged record; ``<dir>/lock``, held with ``flock`` while the spool is open.

Guarantees and policies:
- order: records come out in append order, across restarts.
- acknowledgement: a record leaves only through ``ack``; the head file is replaced atomically
  (write + rename) at most every ``head_interval_s`` (0 = on every ack) and on close. After a
  crash, at most the acknowledgements of that interval are forgotten and those records are
  read again: delivery is at-least-once, never at-most-once.
- fsync: every append reaches the OS at once (a crash of the process loses nothing). The
  segment is fsync'ed when ``fsync_interval_s`` has passed since the last fsync (0 = on every
  append), on ``sync()``/``sync_if_due()``, on segment roll and on close; a new segment's
  directory entry is fsync'ed too. So a power loss costs at most ``fsync_interval_s`` of appends
  (when appends pause, the owner calls ``sync_if_due()`` while idle, as the Publisher does).
  The head file is not fsync'ed: a power loss can only make it older (records sent again).
- write errors (disk full): the failed append raises OSError; the segment is closed where its
  good records end and the next append starts a new one, so no record follows a torn write.
- bound: when the segment files exceed ``max_bytes`` the OLDEST whole segment is deleted, even
  if unsent; its unsent records are counted in ``dropped`` and logged. Recent data is worth more
  to a live monitor than old data, and an unbounded spool would fill a Raspberry Pi's SD card.
  Records already handed out by ``peek`` stay deliverable from memory (the sender has them in
  flight); they count as dropped only if ``rewind`` or ``close`` discards them unacknowledged
  (a crash before their acknowledgement loses them uncounted: they were over the bound).
- corruption: a torn record (crash mid-append) or a bad crc ends its segment; the rest of that
  segment is skipped, counted in ``corrupt`` (regions) and ``corrupt_bytes`` and logged, and the
  spool carries on. A reopened spool appends to a fresh segment, so new records are never
  glued to a torn tail.
- one writer: the directory is locked with ``flock`` (released by the kernel when a process
  dies, so a crash leaves no stale lock); a second opener gets ``SpoolBusyError``.

Thread-safe. The wall clock (monotonic) is read only to pace fsync and head writes; it never
enters a record.
"""
from __future__ import annotations

import fcntl
import itertools
import logging
import os
import struct
import threading
import time
import zlib
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")          # body length, crc32(body)
MAX_RECORD_BYTES = 64 * 2**20
_MIN_SEGMENT = 64 * 1024
_MAX_SEGMENT = 16 * 2**20
_READ_BLOCK = 256 * 1024


class SpoolBusyError(RuntimeError):
    """Another process (or another open Spool) is using the spool directory."""


class Spool:
    def __init__(self, directory: str | os.PathLike, max_bytes: int = 256 * 2**20, *,
                 segment_bytes: int | None = None, fsync_interval_s: float = 1.0,
                 head_interval_s: float = 0.5) -> None:
        if max_bytes < 1:
            raise ValueError(f"spool max_bytes must be positive, got {max_bytes!r}")
        self.dir = Path(directory).expanduser()
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _make_private(self.dir)
        self.max_bytes = int(max_bytes)
        # about 16 segments per bound: dropping one loses ~6 % of the spool, and a segment never
        # exceeds the bound, so the bound holds after every append (see _enforce_bound)
        default = min(_MAX_SEGMENT, max(_MIN_SEGMENT, self.max_bytes // 16))
        self.segment_bytes = max(1, min(int(segment_bytes or default), self.max_bytes))
        self.fsync_interval_s = float(fsync_interval_s)
        self.head_interval_s = float(head_interval_s)
        self.dropped = 0          # unsent records deleted by the bound
        self.corrupt = 0          # torn / bad-crc regions skipped (each ends its segment)
        self.corrupt_bytes = 0
        self.appended = 0         # records appended by this process
        self.acked = 0            # records acknowledged by this process
        self._mutex = threading.RLock()
        self._lock_file = self._acquire_lock()
        self._segments: list[int] = sorted(int(p.stem[4:]) for p in self.dir.glob("seg-*.log")
                                           if p.stem[4:].isdigit())
        self._sizes = {s: self._path(s).stat().st_size for s in self._segments}
        self._ends: dict[int, int] = {}     # end of the readable part of segments from before
        self._head = self._read_head()      # first unacknowledged record on disk
        self._count = self._recover()       # unacknowledged records (on disk + in the window)
        self._writer = None                 # file of the segment being appended to
        self._rbuf: tuple[int, int, bytes] = (0, 0, b"")   # read buffer: segment, offset, data
        # records handed out by peek and not yet acknowledged: (record, segment, end offset)
        self._window: deque[tuple[bytes, int, int]] = deque()
        self._cursor = self._head           # where reading continues after the window
        self._synced_at = time.monotonic()
        self._unsynced = False
        self._head_at = 0.0
        self._head_dirty = False
        self._closed = False
        self._enforce_bound()               # the bound may have shrunk since the last run
        if self._count:
            log.info("spool %s holds %d unacknowledged records from a previous run",
                     self.dir, self._count)

    # -- writing ---------------------------------------------------------------------------
    def append(self, record: bytes) -> None:
        self.append_many((record,))

    def append_many(self, records: Iterable[bytes]) -> None:
        """Append records in order: one write per segment touched, one fsync decision."""
        frames = [self._frame(r) for r in records]
        if not frames:
            return
        with self._mutex:
            self._check_open()
            i = 0
            while i < len(frames):
                if self._writer is None or (self._sizes[self._segments[-1]]
                                            + len(frames[i]) > self.segment_bytes
                                            and self._sizes[self._segments[-1]] > 0):
                    self._roll()
                seg = self._segments[-1]
                room = self.segment_bytes - self._sizes[seg]
                j, size = i, 0
                while j < len(frames) and (size + len(frames[j]) <= room or j == i):
                    size += len(frames[j])      # an oversized record gets a segment to itself
                    j += 1
                try:
                    self._writer.write(b"".join(frames[i:j]))
                    self._writer.flush()         # in the OS now: survives a process crash
                except OSError:
                    self._abandon_segment(seg)   # e.g. disk full: nothing may follow a torn write
                    raise
                self._sizes[seg] += size
                self._count += j - i
                self.appended += j - i
                self._unsynced = True
                i = j
            if time.monotonic() - self._synced_at >= self.fsync_interval_s:
                self._fsync()
            self._enforce_bound()

    def _abandon_segment(self, seg: int) -> None:
        """A write failed half-way: stop reading ``seg`` where its good records end and append
        to a new segment from now on."""
        log.error("spool %s: writing segment %d failed; continuing in a new segment", self.dir, seg)
        self._ends[seg] = self._sizes[seg]
        try:
            self._writer.close()
        except OSError:
            pass
        self._writer = None
        try:
            self._sizes[seg] = self._path(seg).stat().st_size
        except OSError:
            pass

    def _frame(self, record: bytes) -> bytes:
        body = bytes(record)
        if len(body) > min(MAX_RECORD_BYTES, self.max_bytes - _HEADER.size):
            raise ValueError(f"spool record of {len(body)} bytes does not fit the spool "
                             f"{self.dir} (max_bytes {self.max_bytes})")
        return _HEADER.pack(len(body), zlib.crc32(body)) + body

    # -- reading and acknowledging ---------------------------------------------------------
    def peek(self, n: int = 1) -> list[bytes]:
        """Up to ``n`` oldest unacknowledged records, in order. The same records come back until
        they are acknowledged (a window of records in flight may grow by peeking further)."""
        with self._mutex:
            self._check_open()
            while len(self._window) < n:
                items = self._read_more(n - len(self._window))
                if not items:
                    break
                self._window.extend(items)
            return [rec for rec, _, _ in itertools.islice(self._window, max(0, n))]

    def ack(self, n: int = 1) -> None:
        """Acknowledge the first ``n`` records returned by ``peek``: they never come back."""
        with self._mutex:
            self._check_open()
            if n > len(self._window):
                raise ValueError(f"ack({n}): only {len(self._window)} records were peeked")
            if n <= 0:
                return
            for _ in range(n):
                _, seg, end = self._window.popleft()
            self._head = (seg, end) if seg in self._sizes else self._first_position()
            if not self._window and self._head != self._cursor:
                self._head = self._cursor        # the reader moved over empty / corrupt ends
            self._count -= n
            self.acked += n
            self._drop_consumed()
            self._head_dirty = True
            now = time.monotonic()
            if now - self._head_at >= self.head_interval_s or self._count == 0:
                self._write_head()
                self._head_at = now

    def rewind(self) -> None:
        """Forget the window: the next peek starts again at the oldest unacknowledged record
        (what was in flight when a connection dropped is sent again)."""
        with self._mutex:
            self._discard_window()

    # -- state -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._count

    @property
    def depth_records(self) -> int:
        return self._count

    @property
    def size_bytes(self) -> int:
        """Bytes of segment files on disk (what the bound applies to)."""
        return sum(self._sizes.values())

    @property
    def depth_bytes(self) -> int:
        """Bytes on disk from the first unacknowledged record on (records + their headers)."""
        with self._mutex:
            acked = self._head[1] if self._head[0] in self._sizes else 0
            return max(0, self.size_bytes - acked)

    def stats(self) -> dict:
        with self._mutex:
            return {"depth_records": self._count, "depth_bytes": self.depth_bytes,
                    "size_bytes": self.size_bytes, "segments": len(self._segments),
                    "dropped": self.dropped, "corrupt": self.corrupt,
                    "corrupt_bytes": self.corrupt_bytes, "appended": self.appended,
                    "acked": self.acked}

    def sync(self) -> None:
        """fsync what was appended (and the head) now."""
        with self._mutex:
            if self._closed:
                return
            self._fsync()
            if self._head_dirty:
                self._write_head()

    def sync_if_due(self) -> None:
        """fsync appends older than ``fsync_interval_s`` (call when idle, so the last appends
        before a pause do not wait for the next append to reach the disk)."""
        with self._mutex:
            if (not self._closed and self._unsynced
                    and time.monotonic() - self._synced_at >= self.fsync_interval_s):
                self._fsync()

    def close(self) -> None:
        """Persist the head, fsync, release the lock. Unacknowledged records stay on disk."""
        with self._mutex:
            if self._closed:
                return
            self._discard_window()
            if self._head_dirty:
                self._write_head()
            self._rbuf = (0, 0, b"")
            if self._writer is not None:
                self._fsync()
                self._writer.close()
                self._writer = None
            self._closed = True
            self._lock_file.close()          # releases the flock

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals: opening ----------------------------------------------------------------
    def _acquire_lock(self):
        # Two writers interleaving one spool would break its order and acknowledgements.
        lock = open(self.dir / "lock", "a+", opener=private_opener)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise SpoolBusyError(f"spool directory {self.dir} is in use by another spinewise "
                                 "process; give each one its own spool_dir") from None
        return lock

    def _path(self, seg: int) -> Path:
        return self.dir / f"seg-{seg:012d}.log"

    def _read_head(self) -> tuple[int, int]:
        try:
            seg, off = (int(x) for x in (self.dir / "head").read_text().split())
        except (OSError, ValueError):
            return self._first_position()    # no / unreadable head: read everything again
        if seg not in self._sizes:           # its segment is gone (consumed or dropped)
            later = [s for s in self._segments if s > seg]
            return (later[0], 0) if later else self._first_position()
        return seg, min(max(0, off), self._sizes[seg])

    def _recover(self) -> int:
        """Count the unacknowledged records; find torn / corrupt tails once (counted, logged)."""
        total = 0
        for seg in self._segments:
            if seg < self._head[0]:
                continue                     # fully acknowledged: deleted below
            start = self._head[1] if seg == self._head[0] else 0
            n, end = _scan(self._path(seg), start)
            self._ends[seg] = end
            total += n
            if end < self._sizes[seg]:
                self._note_corrupt(seg, end, self._sizes[seg] - end)
        old = [s for s in self._segments if s < self._head[0]]
        for seg in old:                      # acknowledged before a crash, not yet deleted
            self._delete(seg)
        self._segments = [s for s in self._segments if s >= self._head[0]]
        return total

    def _note_corrupt(self, seg: int, offset: int, n_bytes: int) -> None:
        self.corrupt += 1
        self.corrupt_bytes += n_bytes
        log.warning("spool %s segment %d: torn or corrupt record at byte %d; skipping the "
                    "last %d bytes of the segment", self.dir, seg, offset, n_bytes)

    # -- internals: reading (mutex held) ---------------------------------------------------
    def _first_position(self) -> tuple[int, int]:
        return (self._segments[0], 0) if self._segments else (0, 0)

    def _readable_end(self, seg: int) -> int:
        return self._ends.get(seg, self._sizes[seg])

    def _read_more(self, want: int) -> list[tuple[bytes, int, int]]:
        """Up to ``want`` records from the cursor on (one segment per call, read in blocks, not
        record by record), moving over finished segments; [] when there is nothing to read."""
        while self._segments:
            seg, off = self._cursor
            if seg not in self._sizes:
                self._cursor = self._first_position()
                continue
            end = self._readable_end(seg)
            if off < end:
                items, pos = self._parse_at(seg, off, end, want, refill=False)
                if not items:                # buffer used up, or a record cut by its end
                    items, pos = self._parse_at(seg, off, end, want, refill=True)
                if items:
                    self._cursor = (seg, pos)
                    return [(body, seg, rec_end) for body, rec_end in items]
                self._corrupt_while_reading(seg, off, end)
                continue
            if seg == self._segments[-1]:
                return []                    # at the end of the newest segment
            self._cursor = (self._segments[self._segments.index(seg) + 1], 0)
            if not self._window:             # nothing in flight: the head follows the cursor
                self._head = self._cursor
                self._head_dirty = True
                self._drop_consumed()
        return []

    def _corrupt_while_reading(self, seg: int, off: int, end: int) -> None:
        """A bad record found after opening (the disk changed under us): skip the segment's rest,
        append to a fresh segment, and count again what is left."""
        self._note_corrupt(seg, off, end - off)
        self._ends[seg] = off
        if self._writer is not None and seg == self._segments[-1]:
            self._fsync()
            self._writer.close()
            self._writer = None              # the next append rolls to a new segment
        later = [s for s in self._segments if s > seg]
        self._count = len(self._window) + sum(_scan(self._path(s), 0)[0] for s in later)

    def _parse_at(self, seg: int, off: int, end: int, want: int, *, refill: bool):
        """Records at (seg, off) from the read buffer (refilled from the file on request: a
        block, or more for a record bigger than a block)."""
        bseg, bstart, data = self._rbuf
        if refill or bseg != seg or not bstart <= off < bstart + len(data):
            with open(self._path(seg), "rb") as f:
                f.seek(off)
                data = f.read(min(end - off, _READ_BLOCK))
                if len(data) >= _HEADER.size and len(data) < end - off:
                    need = _HEADER.size + _HEADER.unpack_from(data)[0]
                    if need > len(data):     # one record bigger than a block
                        data += f.read(min(end - off, need) - len(data))
            bstart = off
            self._rbuf = (seg, off, data)
        limit = min(len(data), end - bstart)
        items, pos = _parse(data, off - bstart, limit, want)
        return [(body, bstart + e) for body, e in items], bstart + pos

    def _discard_window(self) -> None:
        # records of deleted segments lived only in the window: discarding them loses them
        lost = sum(1 for _, seg, _ in self._window if seg not in self._sizes)
        if lost:
            self.dropped += lost
            self._count -= lost
            log.error("spool %s: %d records dropped by the size bound were in flight and are "
                      "now lost (total dropped %d)", self.dir, lost, self.dropped)
        self._window.clear()
        self._cursor = self._head

    # -- internals: writing (mutex held) ---------------------------------------------------
    def _roll(self) -> None:
        if self._writer is not None:
            self._fsync()
            self._writer.close()
        seg = (self._segments[-1] + 1) if self._segments else 1
        self._writer = open(self._path(seg), "ab", opener=private_opener)
        self._segments.append(seg)
        self._sizes[seg] = 0
        _fsync_dir(self.dir)                 # the new file's name must survive a power loss too
        if len(self._segments) == 1:
            self._head = self._cursor = (seg, 0)

    def _fsync(self) -> None:
        if self._writer is not None and self._unsynced:
            os.fsync(self._writer.fileno())
        self._unsynced = False
        self._synced_at = time.monotonic()

    def _write_head(self) -> None:
        self._head_dirty = False
        tmp = self.dir / "head.tmp"
        with open(tmp, "w", opener=private_opener) as f:
            f.write(f"{self._head[0]} {self._head[1]}")
        os.replace(tmp, self.dir / "head")

    def _drop_consumed(self) -> None:
        """Delete whole segments before the head: all their records were acknowledged."""
        while len(self._segments) > 1 and self._segments[0] < self._head[0]:
            self._delete(self._segments.pop(0))

    def _enforce_bound(self) -> None:
        while self.size_bytes > self.max_bytes and len(self._segments) > 1:
            seg = self._segments.pop(0)
            lost = self._unread_records(seg)
            self._delete(seg)
            if self._cursor[0] <= seg:
                self._cursor = (self._segments[0], 0)
            if self._head[0] <= seg:
                self._head = (self._segments[0], 0)
                self._head_dirty = True
            if lost:
                self.dropped += lost
                self._count -= lost
                log.error("spool %s over %d bytes: dropped %d oldest unsent records "
                          "(total dropped %d)", self.dir, self.max_bytes, lost, self.dropped)

    def _unread_records(self, seg: int) -> int:
        """Records of ``seg`` not yet handed out (those in the window stay deliverable)."""
        cseg, coff = self._cursor
        if cseg > seg:
            return 0
        start = coff if cseg == seg else 0
        return _scan(self._path(seg), start, self._readable_end(seg))[0]

    def _delete(self, seg: int) -> None:
        if self._rbuf[0] == seg:
            self._rbuf = (0, 0, b"")
        self._sizes.pop(seg, None)
        self._ends.pop(seg, None)
        try:
            self._path(seg).unlink()
        except FileNotFoundError:
            pass

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"spool {self.dir} is closed")


def _records(data: bytes, pos: int, limit: int) -> Iterator[tuple[int, int]]:
    """(body start, body end) of the whole, crc-valid records in ``data[pos:limit]``, in order,
    up to the first record cut by ``limit`` or bad."""
    view = memoryview(data)
    while pos + _HEADER.size <= limit:
        length, crc = _HEADER.unpack_from(data, pos)
        body_end = pos + _HEADER.size + length
        if body_end > limit or zlib.crc32(view[pos + _HEADER.size:body_end]) != crc:
            return
        yield pos + _HEADER.size, body_end
        pos = body_end


def _parse(data: bytes, pos: int, limit: int, want: int) -> tuple[list[tuple[bytes, int]], int]:
    """Up to ``want`` records in ``data[pos:limit]``: [(body, end offset)] and where parsing
    stopped (at a record cut by ``limit``, or at a bad one)."""
    out = [(data[a:b], b) for a, b in itertools.islice(_records(data, pos, limit), want)]
    return out, (out[-1][1] if out else pos)


def _scan(path: Path, start: int, end: int | None = None) -> tuple[int, int]:
    """(number of valid records from ``start``, offset where the valid part ends)."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read() if end is None else f.read(max(0, end - start))
    n, pos = 0, 0
    for n, (_, pos) in enumerate(_records(data, 0, len(data)), 1):
        pass
    return n, start + pos


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass                                 # some filesystems refuse directory fsync
    finally:
        os.close(fd)


def private_opener(path, flags: int) -> int:
    """``open(..., opener=private_opener)``: a new file is readable by its owner only (0600);
    spools and snapshots hold health data."""
    return os.open(path, flags, 0o600)


def _make_private(directory: Path) -> None:
    """The spool directory and what is already in it: owner only (older versions made 0644)."""
    try:
        os.chmod(directory, 0o700)
        for p in directory.iterdir():
            if p.is_file():
                os.chmod(p, 0o600)
    except OSError:            # not ours (a shared, pre-made directory): leave it as it is
        pass
