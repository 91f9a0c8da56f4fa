"""Believe a jump in a device's sample times or sequence numbers only once later data confirms it.

A payload can decode cleanly and still be absurd: samples a day ahead, a sequence number 10^9
further on, a "reset" to seq 0, a rate ten times the stream's. Believed, one such chunk moves
the stream: the reorder buffer releases everything before it, the real samples that follow
look late and are dropped, and the gap claims 10^9 lost samples. Real streams jump too (a BLE
dropout, a sensor off overnight, a reboot), but then every later chunk continues from the new
place. So:

- a chunk that continues the stream plausibly goes on to the reorder buffer at once;
- one that does not starts (or extends) a *candidate run*: chunks that continue each other.
  A run is confirmed once it spans the reorder window (``window_s`` of its own sample time)
  and holds three quarters of that window's samples (four to five 0.5 s messages), then it
  goes on and the reorder buffer declares the gap or the reset; the next chunk that continues
  the stream itself refutes every run (dropped, counted in ``samples_unconfirmed``). Two or
  three consistent forged messages (copies of the stream with their sequence numbers moved
  on, say) are not enough: the real stream continues in between and refutes them;
- a jump back in time is never a candidate (the reorder buffer would drop those samples as
  time going backwards): it is dropped at once;
- the first chunk of a stream is a candidate too: nothing says yet where the stream is.

Plausible continuation of a reference sample (seq ``k0``, time ``t0``, the stream's rate) by a
sample (``k1``, ``t1``): ``t1 - t0 <= window_s`` (the reorder wait: what the reorder buffer can
put back in order) and, with sequence numbers, ``|(t1 - t0) - (k1 - k0) / rate| <=
0.25 s + 10 %`` (a nominal rate may be a few percent off). Earlier samples that agree with
their numbers pass (the reorder buffer drops them as duplicates or late). A chunk whose own
samples jump is split there first, and a rate more than 10 % off the stream's is a jump.

Costs: the start of a stream and the first samples after a real jump wait until they span
the reorder window (2 s by default) before they go on. A stream that ends right after a jump, or an
attacker who can publish on the device's own topic a self-consistent fake stream, are beyond
what data can tell; the broker ACL (spinewise.access) is what keeps others off that topic.

Pure: ImuChunk in, ImuChunks out, no clock; ``get_state``/``set_state`` round-trip.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from spinewise.stream import ImuChunk

log = logging.getLogger(__name__)

SEQ_TOL_S = 0.25          # seq vs time disagreement tolerated near the reference ...
SEQ_TOL_FRACTION = 0.10   # ... plus this share of the span (nominal rates are a few % off)
RATE_TOL_FRACTION = 0.10
COVERAGE = 0.75           # a confirming run holds at least this share of the window's samples
MAX_CANDIDATES = 64       # runs held at once (a real stream must survive the noise between its messages)


@dataclass
class JumpCounts:
    jumps_confirmed: int = 0
    candidates_refuted: int = 0
    samples_unconfirmed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class JumpGuard:
    def __init__(self, device_id: str, window_s: float = 2.0, max_samples: int = 30000) -> None:
        self.device_id = device_id
        self.window_s = max(float(window_s), 0.5)
        self.max_samples = int(max_samples)       # candidates held, in samples, at most
        self.counts = JumpCounts()
        self._ref: tuple[int | None, float, float] | None = None   # (seq, t_s, rate_hz)
        self._candidates: list[list[ImuChunk]] = []   # runs of chunks that continue each other

    @property
    def pending_samples(self) -> int:
        return sum(len(c) for run in self._candidates for c in run)

    def push(self, chunk: ImuChunk) -> list[ImuChunk]:
        """The parts of ``chunk`` (and of confirmed candidates) that may go on, in order."""
        out: list[ImuChunk] = []
        for piece in self._pieces(chunk):
            out += self._one(piece)
        return out

    def confirm_end(self, end_t_s: float) -> list[ImuChunk]:
        """The stream's end was announced at ``end_t_s``: a candidate run ending exactly there
        is the stream's tail after a jump (the announcement confirms it)."""
        for i, run in enumerate(self._candidates):
            if abs(float(run[-1].t_s[-1]) - end_t_s) < 1e-6:
                del self._candidates[i]
                self._drop_candidates("the end of stream was elsewhere")
                self._accept(run[-1], new_stream=True)
                return run
        return []

    def flush(self) -> list[ImuChunk]:
        """The device went silent: a first run that nothing contradicts goes on, any other
        unconfirmed candidate is dropped."""
        keep: list[ImuChunk] = []
        if self._ref is None and len(self._candidates) == 1:
            keep = self._candidates.pop()
            self._accept(keep[-1], new_stream=True)
        self._drop_candidates("the device went silent")
        return keep

    # -- internals ---------------------------------------------------------------------------
    def _one(self, piece: ImuChunk) -> list[ImuChunk]:
        if self._ref is not None:
            verdict = self._relation(self._ref, piece)
            if verdict == "continues":
                self._drop_candidates("the stream continued")
                self._accept(piece, new_stream=False)
                return [piece]
            if verdict == "earlier":
                return [piece]               # duplicates / late samples: the reorder buffer's job
            if float(piece.t_s[-1]) <= self._ref[1]:
                # A jump back in time: the reorder buffer would drop every such sample as time
                # going backwards, so it can never be this stream's new place; held as a
                # candidate, a few consistent copies of old messages could move the stream.
                self.counts.samples_unconfirmed += len(piece)
                self.counts.candidates_refuted += 1
                return []
        run = None
        for cand in self._candidates:
            # a piece that follows the run, or that leads into it (messages swapped on the way)
            if self._relation(_end(cand[-1]), piece) == "continues":
                cand.append(piece)
            elif self._relation(_end(piece), cand[0]) == "continues":
                cand.insert(0, piece)
            elif self._relation(_end(cand[-1]), piece) == "earlier" and _inside(cand, piece):
                cand.append(piece)           # a repeat inside the run: the reorder buffer drops it
            else:
                continue
            cand.sort(key=lambda c: float(c.t_s[0]))
            run = cand
            break
        if run is None:
            self._candidates.append([piece])
            self._bound()
            return []
        if _span_s(run) < self.window_s or _samples(run) < COVERAGE * self.window_s * float(run[-1].rate_hz):
            self._bound()
            return []
        self._candidates = [c for c in self._candidates if c is not run]
        self._drop_candidates("another jump was confirmed")
        if self._ref is not None:
            self.counts.jumps_confirmed += 1
            log.info("device=%s jump to t_s=%.3f seq=%s confirmed by %d messages over %.1f s",
                     self.device_id, float(run[0].t_s[0]),
                     None if run[0].seq is None else int(run[0].seq[0]), len(run), _span_s(run))
        last = max(run, key=lambda c: float(c.t_s[-1]))
        self._accept(last, new_stream=True)
        return run

    def _bound(self) -> None:
        while len(self._candidates) > MAX_CANDIDATES or (
                len(self._candidates) > 1 and self.pending_samples > self.max_samples):
            # the shortest run goes (the oldest of equals): a lone absurd message is a run of
            # one, a real stream waiting for its confirmation grows with every message
            shortest = min(range(len(self._candidates)), key=lambda i: _span_s(self._candidates[i]))
            old = self._candidates.pop(shortest)
            self.counts.samples_unconfirmed += sum(len(c) for c in old)
            self.counts.candidates_refuted += 1
        if self._candidates and self.pending_samples > self.max_samples:
            run = self._candidates[0]        # one run longer than the cap: its oldest go
            while len(run) > 1 and self.pending_samples > self.max_samples:
                self.counts.samples_unconfirmed += len(run.pop(0))

    def _relation(self, ref: tuple[int | None, float, float], p: ImuChunk) -> str:
        """'continues' (plausibly follows ``ref``), 'earlier' (plausibly before it) or 'jump'."""
        k0, t0, rate = ref
        if (k0 is None) != (p.seq is None):
            return "jump"                 # numbering appeared or stopped: a new stream
        if abs(float(p.rate_hz) - rate) > RATE_TOL_FRACTION * rate:
            return "jump"
        dt = float(p.t_s[0]) - t0
        if p.seq is not None:
            dk = int(p.seq[0]) - k0
            if abs(dt - dk / rate) > SEQ_TOL_S + SEQ_TOL_FRACTION * abs(dk) / rate:
                return "jump"
            if dk <= 0:
                return "earlier"
        elif dt <= 0:
            return "earlier"
        return "continues" if dt <= self.window_s else "jump"

    def _pieces(self, chunk: ImuChunk) -> list[ImuChunk]:
        """Split a chunk where its own samples jump (time beyond the window, seq vs time)."""
        if len(chunk) < 2:
            return [chunk] if len(chunk) else []
        dt = np.diff(chunk.t_s)
        bad = dt > self.window_s
        if chunk.seq is not None:
            dk = np.diff(chunk.seq).astype(np.float64)
            rate = float(chunk.rate_hz)
            bad |= np.abs(dt - dk / rate) > SEQ_TOL_S + SEQ_TOL_FRACTION * np.abs(dk) / rate
        cuts = np.flatnonzero(bad) + 1
        if cuts.size == 0:
            return [chunk]
        edges = [0, *cuts.tolist(), len(chunk)]
        return [chunk.slice(a, b) for a, b in zip(edges[:-1], edges[1:])]

    def _accept(self, piece: ImuChunk, new_stream: bool) -> None:
        rate = float(piece.rate_hz) if new_stream or self._ref is None else self._ref[2]
        self._ref = (None if piece.seq is None else int(piece.seq[-1]), float(piece.t_s[-1]), rate)

    def _drop_candidates(self, why: str) -> None:
        if not self._candidates:
            return
        n = self.pending_samples
        self.counts.samples_unconfirmed += n
        self.counts.candidates_refuted += len(self._candidates)
        log.debug("device=%s dropped %d unconfirmed samples (%s)", self.device_id, n, why)
        self._candidates = []

    # -- persistence ---------------------------------------------------------------------------
    def get_state(self) -> dict:
        return {"ref": None if self._ref is None else list(self._ref),
                "runs": [[{"t_s": c.t_s, "acc_g": c.acc_g, "gyro_dps": c.gyro_dps,
                           "seq": c.seq, "rate_hz": c.rate_hz} for c in run]
                         for run in self._candidates],
                "counts": self.counts.as_dict()}

    def set_state(self, state: dict) -> None:
        ref = state.get("ref")
        self._ref = None if ref is None else (None if ref[0] is None else int(ref[0]),
                                              float(ref[1]), float(ref[2]))
        runs = state.get("runs")
        if runs is None:                  # snapshots from before runs: one chunk per candidate
            runs = [[c] for c in state.get("candidates", [])]
        self._candidates = [[ImuChunk(c["t_s"], c["acc_g"], c["gyro_dps"], self.device_id,
                                      float(c["rate_hz"]), seq=c["seq"]) for c in run]
                            for run in runs]
        self.counts = JumpCounts(**state.get("counts", {}))


def _end(c: ImuChunk) -> tuple[int | None, float, float]:
    """The reference point a chunk's last sample makes."""
    return (None if c.seq is None else int(c.seq[-1]), float(c.t_s[-1]), float(c.rate_hz))


def _span_s(run: list[ImuChunk]) -> float:
    """Sample time a candidate run covers, from its earliest to its latest sample."""
    return max(float(c.t_s[-1]) for c in run) - min(float(c.t_s[0]) for c in run)


def _samples(run: list[ImuChunk]) -> int:
    return sum(len(c) for c in run)


def _inside(run: list[ImuChunk], piece: ImuChunk) -> bool:
    """Whether ``piece`` lies within the time the run covers (a repeat of part of it)."""
    return (float(piece.t_s[0]) >= min(float(c.t_s[0]) for c in run)
            and float(piece.t_s[-1]) <= max(float(c.t_s[-1]) for c in run))
