"""A disk spool of line-protocol lines: what could not be written waits here, in order.

Layout: ``<dir>/<seq:012d>.lp`` segment files, appended to and fsync'ed, rotated at
``SEGMENT_BYTES``; ``<dir>/<seq>.done`` records how many bytes of a segment have already been
acknowledged. Nothing is removed before the backend has acknowledged it (``ack``), so a crash
can at worst re-send the last batch — harmless, because InfluxDB overwrites a point with the
same measurement + tags + timestamp.

When the spool exceeds its size cap, the *oldest* segment is dropped (counted and logged as
an error): the newest data is the most useful one after a long outage, and an unbounded spool
would eventually fill the Raspberry Pi's SD card and take the whole system down.
"""
from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

SEGMENT_BYTES = 4 * 1024 * 1024


class SpoolBusyError(RuntimeError):
    """Another process (or Storage) is using the spool directory."""


class Spool:
    def __init__(self, directory: str | os.PathLike, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.dir = Path(directory).expanduser()
        self.dir.mkdir(parents=True, exist_ok=True)
        # Two writers interleaving one spool would break its order and acknowledgements.
        # flock is released by the kernel when a process dies, so a crash leaves no stale lock.
        self._lock = open(self.dir / "lock", "a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise SpoolBusyError(f"spool directory {self.dir} is in use by another spinewise "
                                 "process; give each one its own [influx] spool_dir") from None
        self.max_bytes = int(max_bytes)
        # segments small enough that the cap is honoured closely even for a tiny spool
        self.segment_bytes = min(SEGMENT_BYTES, max(64 * 1024, self.max_bytes // 8))
        self.dropped_lines = 0
        self._depth = sum(self._pending_lines(seg) for seg in self._segments())
        self._bytes = sum(seg.stat().st_size for seg in self._segments())
        if self._depth:
            log.info("spool %s holds %d lines from before", self.dir, self._depth)

    # -- bookkeeping -------------------------------------------------------------------------
    def _segments(self) -> list[Path]:
        return sorted(self.dir.glob("*.lp"))

    def _done_file(self, seg: Path) -> Path:
        return seg.with_suffix(".done")

    def _done_bytes(self, seg: Path) -> int:
        try:
            return int(self._done_file(seg).read_text() or 0)
        except (OSError, ValueError):
            return 0

    def _pending_lines(self, seg: Path) -> int:
        with open(seg, "rb") as fh:
            fh.seek(self._done_bytes(seg))
            return sum(1 for line in fh if line.strip())

    def close(self) -> None:
        """Release the directory lock (the spool's content stays on disk)."""
        if not self._lock.closed:
            self._lock.close()

    @property
    def depth(self) -> int:
        """Lines waiting to be written."""
        return self._depth

    def __len__(self) -> int:
        return self._depth

    # -- writing -----------------------------------------------------------------------------
    def append(self, lines: list[str]) -> None:
        if not lines:
            return
        segs = self._segments()
        seg = segs[-1] if segs and segs[-1].stat().st_size < self.segment_bytes else None
        if seg is None:
            nxt = int(segs[-1].stem) + 1 if segs else 1
            seg = self.dir / f"{nxt:012d}.lp"
        data = ("\n".join(lines) + "\n").encode()
        if seg.exists() and seg.stat().st_size:
            with open(seg, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    data = b"\n" + data   # isolate a line torn by a crash mid-append
        with open(seg, "ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        self._depth += len(lines)
        self._bytes += len(data)
        self._enforce_cap()

    def _enforce_cap(self) -> None:
        while self._bytes > self.max_bytes:
            segs = self._segments()
            if len(segs) <= 1:
                break   # never drop the segment being written: one segment is always allowed
            oldest = segs[0]
            lost = self._pending_lines(oldest)
            self._bytes -= oldest.stat().st_size
            self._remove(oldest)
            self._depth -= lost
            self.dropped_lines += lost
            log.error("spool over %d MB: dropped %d oldest lines (%s)", self.max_bytes >> 20,
                      lost, oldest.name)

    def _remove(self, seg: Path) -> None:
        seg.unlink(missing_ok=True)
        self._done_file(seg).unlink(missing_ok=True)

    # -- draining ----------------------------------------------------------------------------
    def peek(self, max_lines: int) -> tuple[list[str], tuple[Path, int] | None]:
        """The oldest pending lines (up to max_lines, from one segment) and a receipt for ack."""
        for seg in self._segments():
            start = self._done_bytes(seg)
            lines: list[str] = []
            with open(seg, "rb") as fh:
                fh.seek(start)
                pos = start
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        break        # a torn last line from a crash mid-append: not acknowledged
                    pos += len(raw)
                    text = raw.decode("utf-8", "replace").strip()
                    if text:
                        lines.append(text)
                        if len(lines) >= max_lines:
                            break
            if lines:
                return lines, (seg, pos)
            if seg != self._segments()[-1]:
                self._bytes -= seg.stat().st_size
                self._remove(seg)   # fully acknowledged, older than the current segment
        return [], None

    def ack(self, receipt: tuple[Path, int] | None, n_lines: int) -> None:
        """The lines returned by peek() were written: advance past them."""
        if receipt is None:
            return
        seg, pos = receipt
        self._depth = max(0, self._depth - n_lines)
        if pos >= seg.stat().st_size and seg != self._segments()[-1]:
            self._bytes -= seg.stat().st_size
            self._remove(seg)
            return
        if pos >= seg.stat().st_size:
            # the current segment is fully drained: start afresh rather than grow forever
            self._bytes -= seg.stat().st_size
            self._remove(seg)
            return
        tmp = self._done_file(seg).with_suffix(".done.tmp")
        tmp.write_text(str(pos))
        os.replace(tmp, self._done_file(seg))
