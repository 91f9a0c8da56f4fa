"""Replay a recording into MQTT exactly as a sensor gateway would (``spinewise replay``).

Samples go through the gateway's own :class:`~spinewise.ingest.publisher.Publisher` (batching,
disk spool, QoS 1 with PUBACK), numbered with per-sample sequence numbers from 0, with their
times mapped onto the calendar (``start_epoch_s`` = time of the first sample). Pacing follows
event time divided by ``speed`` (0 = as fast as the broker acknowledges).

End of stream: once every sample is acknowledged, the replay publishes the status
``{"state": "end", "end_t_s": <last sample time>, "samples": N}``; the pipeline finishes that
device's Analyzer when it has analysed the sample at ``end_t_s``, so the live results of a
replay equal ``spinewise analyze`` on the same file. (The status is retained; the pipeline
ignores a marker for a stream it already finished.)
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np

from spinewise.stream import ImuChunk

log = logging.getLogger(__name__)


@dataclass
class ReplayResult:
    samples: int = 0
    chunks: int = 0
    first_t_s: float | None = None
    end_t_s: float | None = None
    wall_s: float = 0.0
    acknowledged: bool = False


def map_times(chunks: Iterable[ImuChunk], device_id: str, start_epoch_s: float | None,
              first_seq: int = 0) -> Iterable[ImuChunk]:
    """Give chunks the device id, sequence numbers and (optionally) calendar times."""
    seq = first_seq
    offset = None
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        if offset is None:
            offset = 0.0 if start_epoch_s is None else start_epoch_s - float(chunk.t_s[0])
        n = len(chunk)
        yield replace(chunk, t_s=chunk.t_s + offset, seq=np.arange(seq, seq + n, dtype=np.int64),
                      device_id=device_id, meta={})
        seq += n


def replay(chunks: Iterable[ImuChunk], publisher, *, speed: float = 1.0,
           stop: threading.Event | None = None,
           on_chunk: Callable[[ImuChunk], None] | None = None,
           ack_timeout_s: float = 60.0) -> ReplayResult:
    """Publish ``chunks`` (already mapped) through ``publisher`` paced at ``speed`` x event time."""
    res = ReplayResult()
    wall0 = time.monotonic()
    t_first = None
    for chunk in chunks:
        if stop is not None and stop.is_set():
            break
        if t_first is None:
            t_first = res.first_t_s = float(chunk.t_s[0])
        if speed > 0:
            # a sensor sends a batch once its last sample has been measured
            due = wall0 + (float(chunk.t_s[-1]) - t_first) / speed
            delay = due - time.monotonic()
            if delay > 0:
                if stop is not None:
                    stop.wait(delay)
                else:
                    time.sleep(delay)
        publisher.publish_chunk(chunk)
        res.samples += len(chunk)
        res.chunks += 1
        res.end_t_s = float(chunk.t_s[-1])
        if on_chunk is not None:
            on_chunk(chunk)
    res.acknowledged = _flush(publisher, ack_timeout_s)
    if res.end_t_s is not None:
        publisher.publish_status("end", end_t_s=res.end_t_s, samples=res.samples)
        publisher.flush(10.0)
    res.wall_s = time.monotonic() - wall0
    return res


def _flush(publisher, timeout_s: float) -> bool:
    """Wait for the spool to drain, as long as it keeps draining (a big backlog at speed 0)."""
    last = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if publisher.flush(1.0):
            return True
        backlog = publisher.backlog
        if last is None or backlog < last:
            deadline = time.monotonic() + timeout_s     # progress: keep waiting
        last = backlog
    log.warning("replay: %d messages still unacknowledged after %.0f s (they stay in the spool)",
                publisher.backlog, timeout_s)
    return False


class TempSpool:
    """A private spool directory for one replay run (a replay is not a long-lived gateway)."""

    def __enter__(self) -> str:
        self.path = tempfile.mkdtemp(prefix="spinewise-replay-")
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
