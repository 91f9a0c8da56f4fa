"""Line-protocol lines on disk while the backend cannot take them: a thin layer over spinewise.spool.

One record per line, so the depth is counted in lines (= points) and any batch size can be
acknowledged. Storage, order, bound, corruption and locking policies are those of
:class:`spinewise.spool.Spool`; here every append (a batch that failed, about once per flush
interval during an outage) is fsync'ed and every acknowledgement persisted at once, so a crash
re-sends at most the last batch. That is harmless: InfluxDB overwrites a point with the same
measurement + tags + timestamp. A line torn by a crash mid-append is dropped (crc), never sent
half: a truncated ``v=23i`` could otherwise be stored as a wrong ``v=2``.
"""
from __future__ import annotations

import logging
import os

from spinewise.spool import Spool as RecordSpool
from spinewise.spool import SpoolBusyError

log = logging.getLogger(__name__)


class LineSpool:
    def __init__(self, directory: str | os.PathLike, max_bytes: int = 512 * 1024 * 1024, *,
                 segment_bytes: int | None = None) -> None:
        self.records = RecordSpool(directory, max_bytes, segment_bytes=segment_bytes,
                                   fsync_interval_s=0.0, head_interval_s=0.0)
        self.dir = self.records.dir
        self._import_legacy_segments()

    def _import_legacy_segments(self) -> None:
        """Move lines left by the earlier ``<n>.lp`` + ``<n>.done`` format into the spool."""
        for seg in sorted(self.dir.glob("*.lp")):
            done = seg.with_suffix(".done")
            try:
                start = int(done.read_text() or 0) if done.exists() else 0
            except ValueError:
                start = 0
            with open(seg, "rb") as fh:
                fh.seek(start)
                raw = [line for line in fh if line.endswith(b"\n") and line.strip()]
            self.records.append_many(line.rstrip(b"\n") for line in raw)
            seg.unlink()
            done.unlink(missing_ok=True)
            log.info("spool %s: imported %d lines from %s (earlier format)", self.dir, len(raw),
                     seg.name)

    @property
    def depth(self) -> int:
        """Lines waiting to be written."""
        return len(self.records)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def dropped_lines(self) -> int:
        """Lines deleted unsent by the size bound."""
        return self.records.dropped

    def stats(self) -> dict:
        return self.records.stats()

    def append(self, lines: list[str]) -> None:
        self.records.append_many(line.encode() for line in lines)

    def peek(self, max_lines: int) -> tuple[list[str], int | None]:
        """The oldest pending lines (up to ``max_lines``) and a receipt for ``ack``; the same
        lines come back until they are acknowledged."""
        lines = [r.decode("utf-8", "replace") for r in self.records.peek(max_lines)]
        return lines, (len(lines) or None)

    def ack(self, receipt: int | None, n_lines: int) -> None:
        """The first ``n_lines`` lines returned by ``peek`` were written: they never come back."""
        if receipt is None:
            return
        if n_lines > receipt:
            raise ValueError(f"ack of {n_lines} lines, but only {receipt} were peeked")
        self.records.ack(n_lines)

    def close(self) -> None:
        """Release the directory lock (the spool's content stays on disk)."""
        self.records.close()


Spool = LineSpool           # the name BufferedStorage, open_storage and benchmarks use

__all__ = ["LineSpool", "Spool", "SpoolBusyError"]
