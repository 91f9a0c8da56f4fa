"""Believe a jump in a device's sample times or sequence numbers only once later data confirms it.

A payload can decode cleanly and still be absurd: samples a day ahead, a sequence number 10^9
further on, a "reset" to seq 0, a rate ten times the stream's. Believed, one such chunk moves
the stream: the reorder buffer releases everything before it, the real samples that follow
look late and are dropped, and the gap claims 10^9 lost samples. Real streams jump too (a BLE
dropout, a sensor off overnight, a reboot), but then every later chunk continues from the new
place. So:

- a chunk that continues the stream plausibly goes on to the reorder buffer at once;
- one that does not is held as a *candidate*; the next chunk that continues a candidate
  confirms it (candidate and chunk go on: the reorder buffer declares the gap or the reset),
  and the next chunk that continues the stream itself refutes every candidate (dropped,
  counted in ``samples_unconfirmed``);
- the first chunk of a stream is a candidate too: nothing says yet where the stream is.

Plausible continuation of a reference sample (seq ``k0``, time ``t0``, the stream's rate) by a
sample (``k1``, ``t1``): ``t1 - t0 <= window_s`` (the reorder wait: what the reorder buffer can
put back in order) and, with sequence numbers, ``|(t1 - t0) - (k1 - k0) / rate| <=
0.25 s + 10 %`` (a nominal rate may be a few percent off). Earlier samples that agree with
their numbers pass (the reorder buffer drops them as duplicates or late). A chunk whose own
samples jump is split there first, and a rate more than 10 % off the stream's is a jump.

Costs: the first chunk of a stream and the first chunk after a real jump wait for one more
message (0.5 s at the gateway's batching). A stream that ends right after a jump, or an
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
MAX_CANDIDATES = 4


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
        self._candidates: list[ImuChunk] = []

    @property
    def pending_samples(self) -> int:
        return sum(len(c) for c in self._candidates)

    def push(self, chunk: ImuChunk) -> list[ImuChunk]:
        """The parts of ``chunk`` (and of confirmed candidates) that may go on, in order."""
        out: list[ImuChunk] = []
        for piece in self._pieces(chunk):
            out += self._one(piece)
        return out

    def confirm_end(self, end_t_s: float) -> list[ImuChunk]:
        """The stream's end was announced at ``end_t_s``: a candidate ending exactly there is
        the stream's tail after a jump (the announcement confirms it)."""
        for i, cand in enumerate(self._candidates):
            if abs(float(cand.t_s[-1]) - end_t_s) < 1e-6:
                del self._candidates[i]
                self._drop_candidates("the end of stream was elsewhere")
                self._accept(cand, new_stream=True)
                return [cand]
        return []

    def flush(self) -> list[ImuChunk]:
        """The device went silent: a first chunk that nothing contradicts goes on, any other
        unconfirmed candidate is dropped."""
        keep: list[ImuChunk] = []
        if self._ref is None and len(self._candidates) == 1:
            keep = [self._candidates.pop()]
            self._accept(keep[0], new_stream=True)
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
        for i, cand in enumerate(self._candidates):
            # confirmed by a piece that follows the candidate, or that leads into it (the two
            # messages swapped places on the way)
            if self._relation(_end(cand), piece) == "continues":
                run = [cand, piece]
            elif self._relation(_end(piece), cand) == "continues":
                run = [piece, cand]
            else:
                continue
            del self._candidates[i]
            # a candidate that leads into the confirmed run belongs to it too
            lead = [c for c in self._candidates if self._relation(_end(c), run[0]) == "continues"]
            self._candidates = [c for c in self._candidates if not any(c is x for x in lead)]
            run = lead[-1:] + run
            self._drop_candidates("another jump was confirmed")
            if self._ref is not None:
                self.counts.jumps_confirmed += 1
                log.info("device=%s jump to t_s=%.3f seq=%s confirmed by the next message",
                         self.device_id, float(run[0].t_s[0]),
                         None if run[0].seq is None else int(run[0].seq[0]))
            self._accept(run[-1], new_stream=True)
            return run
        self._candidates.append(piece)
        while len(self._candidates) > MAX_CANDIDATES or (
                len(self._candidates) > 1 and self.pending_samples > self.max_samples):
            old = self._candidates.pop(0)
            self.counts.samples_unconfirmed += len(old)
            self.counts.candidates_refuted += 1
        return []

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
        n = sum(len(c) for c in self._candidates)
        self.counts.samples_unconfirmed += n
        self.counts.candidates_refuted += len(self._candidates)
        log.debug("device=%s dropped %d unconfirmed samples (%s)", self.device_id, n, why)
        self._candidates = []

    # -- persistence ---------------------------------------------------------------------------
    def get_state(self) -> dict:
        return {"ref": None if self._ref is None else list(self._ref),
                "candidates": [{"t_s": c.t_s, "acc_g": c.acc_g, "gyro_dps": c.gyro_dps,
                                "seq": c.seq, "rate_hz": c.rate_hz} for c in self._candidates],
                "counts": self.counts.as_dict()}

    def set_state(self, state: dict) -> None:
        ref = state.get("ref")
        self._ref = None if ref is None else (None if ref[0] is None else int(ref[0]),
                                              float(ref[1]), float(ref[2]))
        self._candidates = [ImuChunk(c["t_s"], c["acc_g"], c["gyro_dps"], self.device_id,
                                     float(c["rate_hz"]), seq=c["seq"])
                            for c in state.get("candidates", [])]
        self.counts = JumpCounts(**state.get("counts", {}))


def _end(c: ImuChunk) -> tuple[int | None, float, float]:
    """The reference point a chunk's last sample makes."""
    return (None if c.seq is None else int(c.seq[-1]), float(c.t_s[-1]), float(c.rate_hz))
