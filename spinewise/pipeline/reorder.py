"""Per-device reorder buffer: put samples back in order, drop duplicates, declare gaps.

MQTT QoS 1 delivers at least once and a gateway's disk spool replays old batches after a
reconnect, so samples can arrive duplicated, late or out of order. The Analyzer needs strictly
increasing time, every sample once. This buffer orders by the per-sample sequence number when
the payload carries one (else by time, at microsecond resolution), releases a contiguous run at
once (no added latency in the normal case) and waits for a hole to fill for at most ``wait_s``
of event time; then it declares a ``gap`` and moves on. A sample arriving after its slot was
released is a duplicate (its slot was filled) or late (its slot was declared lost): both are
dropped and counted, never fed to the Analyzer twice or out of order.

Pure: numpy in, ImuChunk + events out, no clock. The service calls :meth:`flush` when a device
has gone silent for ``wait_s`` of wall time so the tail of a stream is not held forever.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from spinewise.events import Event
from spinewise.stream import ImuChunk

log = logging.getLogger(__name__)

_COLUMNS = ("acc_g", "gyro_dps", "quat_wxyz")
_GAP_HISTORY = 64   # declared gaps remembered to tell late samples from duplicates
SEQ_TOL_S, SEQ_TOL_FRACTION = 0.25, 0.10   # as spinewise.pipeline.jumps


@dataclass
class ReorderCounts:
    duplicates: int = 0
    late: int = 0
    time_backwards: int = 0
    gaps: int = 0
    samples_lost: int = 0
    seq_resets: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Pending:
    key: np.ndarray                       # int64 seq, or time in microseconds
    t_s: np.ndarray
    cols: dict[str, np.ndarray | None] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.key.shape[0])

    def take(self, idx) -> "_Pending":
        return _Pending(self.key[idx], self.t_s[idx],
                        {k: (None if v is None else v[idx]) for k, v in self.cols.items()})


class ReorderBuffer:
    def __init__(self, device_id: str, rate_hz: float = 50.0, wait_s: float = 2.0,
                 max_samples: int = 30000) -> None:
        self.device_id = device_id
        self.rate_hz = float(rate_hz)
        self.wait_s = float(wait_s)
        self.max_samples = int(max_samples)   # held back at most; beyond, the oldest go out
        self.counts = ReorderCounts()
        self._by_seq: bool | None = None    # decided by the first chunk
        self._last_key: int | None = None   # key of the last released sample
        self._last_t: float | None = None
        self._pending: _Pending | None = None
        self._lost: deque[tuple[int, int]] = deque(maxlen=_GAP_HISTORY)  # inclusive key ranges

    # -- public ----------------------------------------------------------------------------
    @property
    def pending_samples(self) -> int:
        return 0 if self._pending is None else len(self._pending)

    @property
    def last_t_s(self) -> float | None:
        return self._last_t

    @property
    def newest_t_s(self) -> float | None:
        """Time of the newest sample received: released or still held back."""
        held = None if self._pending is None else float(self._pending.t_s.max())
        if held is None or (self._last_t is not None and self._last_t > held):
            return self._last_t
        return held

    def push(self, chunk: ImuChunk) -> tuple[ImuChunk | None, list[Event]]:
        """Add a chunk; return the samples now in order (or None) and any gap events."""
        if len(chunk) == 0:
            return None, []
        self.rate_hz = float(chunk.rate_hz) or self.rate_hz
        out_chunks: list[ImuChunk] = []
        events: list[Event] = []
        if self._by_seq is None:
            self._by_seq = chunk.seq is not None
        elif self._by_seq and chunk.seq is None:
            # A sender that stopped numbering samples: order by time from here on.
            log.warning("device=%s sequence numbers stopped; ordering by time", self.device_id)
            self._release_all(out_chunks, events)
            self._by_seq = False
            self._last_key = None if self._last_t is None else self._time_key(self._last_t)
        incoming = self._to_pending(chunk)
        if self._follows_on(incoming):
            # the common case: nothing held back and this chunk continues the stream exactly
            self._emit(incoming, out_chunks, events)
            return self._concat(out_chunks, chunk), events
        if self._pending is not None and self._columns_differ(self._pending, incoming):
            # gyro appeared/disappeared (sensor swapped): never mix the two in one chunk
            self._release_all(out_chunks, events)
        if self._by_seq:
            incoming = self._handle_seq_reset(incoming, out_chunks, events)
        merged = incoming if self._pending is None else self._merge(self._pending, incoming)
        merged = self._drop_known(merged)
        self._pending = merged if len(merged) else None
        self._release(out_chunks, events, everything=False)
        return self._concat(out_chunks, chunk), events

    def flush(self) -> tuple[ImuChunk | None, list[Event]]:
        """Release everything pending (end of stream, or the device went silent)."""
        out_chunks: list[ImuChunk] = []
        events: list[Event] = []
        self._release_all(out_chunks, events)
        return self._concat(out_chunks, None), events

    def get_state(self) -> dict:
        p = self._pending
        return {"rate_hz": self.rate_hz, "wait_s": self.wait_s, "by_seq": self._by_seq,
                "last_key": self._last_key, "last_t": self._last_t,
                "pending": None if p is None else {"key": p.key, "t_s": p.t_s, "cols": p.cols},
                "lost": list(self._lost), "counts": self.counts.as_dict()}

    def set_state(self, state: dict) -> None:
        self.rate_hz = float(state["rate_hz"])
        self.wait_s = float(state["wait_s"])
        self._by_seq = state["by_seq"]
        self._last_key = state["last_key"]
        self._last_t = state["last_t"]
        p = state["pending"]
        self._pending = None if p is None else _Pending(p["key"], p["t_s"], dict(p["cols"]))
        self._lost = deque((tuple(r) for r in state["lost"]), maxlen=_GAP_HISTORY)
        self.counts = ReorderCounts(**state["counts"])

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _time_key(t_s):
        return np.round(np.asarray(t_s, dtype=np.float64) * 1e6).astype(np.int64)

    def _to_pending(self, chunk: ImuChunk) -> _Pending:
        key = (np.asarray(chunk.seq, dtype=np.int64) if self._by_seq
               else self._time_key(chunk.t_s))
        return _Pending(key, chunk.t_s, {c: getattr(chunk, c) for c in _COLUMNS})

    def _follows_on(self, p: _Pending) -> bool:
        if self._pending is not None or self._last_key is None or self._last_t is None:
            return False
        n = len(p)
        if not np.all(np.diff(p.t_s) > 0) or p.t_s[0] <= self._last_t:
            return False
        if self._by_seq:
            return (int(p.key[0]) == self._last_key + 1 and int(p.key[-1]) - int(p.key[0]) == n - 1
                    and bool(np.all(np.diff(p.key) > 0)))
        dt = np.diff(np.concatenate([[self._last_t], p.t_s]))
        return bool(np.all(dt <= 1.5 / self.rate_hz))

    @staticmethod
    def _columns_differ(a: _Pending, b: _Pending) -> bool:
        return any((a.cols[c] is None) != (b.cols[c] is None) for c in _COLUMNS)

    @staticmethod
    def _merge(a: _Pending, b: _Pending) -> _Pending:
        return _Pending(np.concatenate([a.key, b.key]), np.concatenate([a.t_s, b.t_s]),
                        {c: (None if a.cols[c] is None else np.concatenate([a.cols[c], b.cols[c]]))
                         for c in _COLUMNS})

    def _handle_seq_reset(self, incoming: _Pending, out_chunks, events) -> _Pending:
        """A sensor that rebooted numbers from zero again while its clock moves on: a sample with
        an old sequence number but a newer time than anything released is a reset, not a dup."""
        ref_key, ref_t = self._last_key, self._last_t
        if self._pending is not None:
            i = int(np.argmax(self._pending.key))
            ref_key, ref_t = int(self._pending.key[i]), float(self._pending.t_s[i])
        if ref_key is None or ref_t is None:
            return incoming
        # a reset also needs a time its number cannot explain (the jump guard's tolerance):
        # a repeated sample whose time is a little off is a duplicate, not a reboot (declared a
        # reset, it was released and the real samples after it dropped as time going back)
        dk = np.abs(incoming.key - ref_key).astype(np.float64) / self.rate_hz
        expected_t = ref_t + (incoming.key - ref_key) / self.rate_hz
        reset = ((incoming.key <= ref_key) & (incoming.t_s > ref_t + 1.0 / self.rate_hz)
                 & (incoming.t_s - expected_t > SEQ_TOL_S + SEQ_TOL_FRACTION * dk))
        if not reset.any():
            return incoming
        first = int(np.flatnonzero(reset)[0])
        before, after = incoming.take(slice(0, first)), incoming.take(slice(first, None))
        if len(before):
            self._pending = before if self._pending is None else self._merge(self._pending, before)
            self._pending = self._drop_known(self._pending)
        self._release_all(out_chunks, events)
        self.counts.seq_resets += 1
        log.warning("device=%s sequence reset at seq=%d t_s=%.3f", self.device_id,
                    int(after.key[0]), float(after.t_s[0]))
        self._last_key = int(after.key[0]) - 1
        self._lost.clear()
        return after

    def _drop_known(self, p: _Pending) -> _Pending:
        """Sort by key; drop repeats within the buffer and anything already released."""
        order = np.argsort(p.key, kind="stable")
        p = p.take(order)
        keep = np.ones(len(p), dtype=bool)
        keep[1:] = p.key[1:] != p.key[:-1]
        self.counts.duplicates += int((~keep).sum())
        if self._last_key is not None:
            old = keep & (p.key <= self._last_key)
            if old.any():
                late = np.zeros(len(p), dtype=bool)
                for lo, hi in self._lost:
                    late |= (p.key >= lo) & (p.key <= hi)
                late &= old
                self.counts.late += int(late.sum())
                self.counts.duplicates += int((old & ~late).sum())
                if late.any():
                    log.debug("device=%s dropped %d late samples (beyond the %.1f s reorder wait)",
                             self.device_id, int(late.sum()), self.wait_s)
                keep &= ~old
        return p.take(keep) if not keep.all() else p

    def _contiguous(self, p: _Pending, start: int, prev_key: int, prev_t: float) -> int:
        """Length of the run from ``start`` that follows on without a hole."""
        if start >= len(p):
            return 0
        if self._by_seq:
            step = p.key[start:] - np.arange(1, len(p) - start + 1) - prev_key
            bad = np.flatnonzero(step != 0)
        else:
            dt = np.diff(np.concatenate([[prev_t], p.t_s[start:]]))
            bad = np.flatnonzero(dt > 1.5 / self.rate_hz)
        return int(bad[0]) if bad.size else len(p) - start

    def _release(self, out_chunks, events, everything: bool) -> None:
        p = self._pending
        if p is None:
            return
        # At the start of a stream nothing says which sample is first: wait the full horizon.
        n = 0 if self._last_key is None else self._contiguous(p, 0, self._last_key, self._last_t)
        if everything:
            n = len(p)
        else:
            # Samples older than the wait horizon go out even across a hole: the hole is a gap.
            newest_t = float(p.t_s.max())
            cut = int(np.count_nonzero(p.t_s <= newest_t - self.wait_s))
            # bounded memory whatever the holes: the oldest samples beyond the cap go out
            cut = max(cut, len(p) - self.max_samples)
            if cut > n:
                n = cut + self._contiguous(p, cut, int(p.key[cut - 1]), float(p.t_s[cut - 1]))
        if n == 0:
            return
        out, rest = p.take(slice(0, n)), p.take(slice(n, None))
        self._pending = rest if len(rest) else None
        self._emit(out, out_chunks, events)

    def _release_all(self, out_chunks, events) -> None:
        self._release(out_chunks, events, everything=True)

    def _emit(self, out: _Pending, out_chunks, events) -> None:
        # Time must strictly increase for the Analyzer whatever the sequence numbers claim.
        prev_t = -np.inf if self._last_t is None else self._last_t
        running = np.maximum.accumulate(np.concatenate([[prev_t], out.t_s]))[:-1]
        ok = out.t_s > running
        if not ok.all():
            self.counts.time_backwards += int((~ok).sum())
            log.debug("device=%s dropped %d samples whose time went backwards",
                        self.device_id, int((~ok).sum()))
            out = out.take(ok)
        if len(out) == 0:
            return
        keys = out.key if self._last_key is None else np.concatenate([[self._last_key], out.key])
        times = out.t_s if self._last_t is None else np.concatenate([[self._last_t], out.t_s])
        if self._by_seq:
            lost = np.diff(keys) - 1
            # a counter that leapt further than the clock moved claims samples that could not
            # have been measured: the time gap is the better witness (spinewise.pipeline.jumps
            # already refused such leaps unless later messages confirmed them)
            by_time = np.maximum(np.round(np.diff(times) * self.rate_hz).astype(np.int64) - 1, 0)
            absurd = lost > 2 * by_time + 2
            lost[absurd] = by_time[absurd]
        else:
            lost = np.maximum(np.round(np.diff(times) * self.rate_hz).astype(np.int64) - 1, 0)
            lost[np.diff(times) <= 1.5 / self.rate_hz] = 0
        for i in np.flatnonzero(lost > 0):
            n_lost = int(lost[i])
            start_s, end_s = float(times[i]), float(times[i + 1])
            self.counts.gaps += 1
            self.counts.samples_lost += n_lost
            self._lost.append((int(keys[i]) + 1, int(keys[i + 1]) - 1))
            events.append(Event("gap", start_s, {"start_s": start_s, "end_s": end_s,
                                                 "samples_lost": n_lost}, self.device_id))
            log.debug("device=%s gap start_s=%.3f end_s=%.3f samples_lost=%d",
                      self.device_id, start_s, end_s, n_lost)
        self._last_key = int(out.key[-1])
        self._last_t = float(out.t_s[-1])
        out_chunks.append(out)

    def _concat(self, parts: list[_Pending], like: ImuChunk | None) -> ImuChunk | None:
        if not parts:
            return None
        p = parts[0] if len(parts) == 1 else _Pending(
            np.concatenate([x.key for x in parts]), np.concatenate([x.t_s for x in parts]),
            {c: (None if any(x.cols[c] is None for x in parts)
                 else np.concatenate([x.cols[c] for x in parts])) for c in _COLUMNS})
        base = like if like is not None else ImuChunk.empty(self.device_id, self.rate_hz)
        return replace(base, t_s=p.t_s, acc_g=p.cols["acc_g"], gyro_dps=p.cols["gyro_dps"],
                       quat_wxyz=p.cols["quat_wxyz"],
                       seq=p.key if self._by_seq else None, device_id=self.device_id,
                       rate_hz=self.rate_hz)
