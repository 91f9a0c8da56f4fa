"""Split a sample stream into complete fixed-length epochs, chunk-invariantly.

Epochs sit on an absolute grid, ``index = floor(t_s / epoch_s)``, so offline recordings
(t from 0) and live streams (Unix time) both get whole-second / whole-minute epochs. The
samples of the epoch still being filled are carried over to the next ``push``; an epoch is
handed out only when a sample of a later epoch arrives (or at ``flush``). Features are then
computed on exactly the same samples in the same order whatever the chunking, so results
are bit-identical for one big chunk or many small ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Epochs:
    """A batch of complete epochs: concatenated samples + ``starts`` offsets for reduceat."""
    index: np.ndarray            # (K,) absolute epoch index
    starts: np.ndarray           # (K,) first-sample offset of each epoch in the arrays
    counts: np.ndarray           # (K,) samples per epoch
    t_s: np.ndarray              # (M,) sample times
    arrays: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def mean(self, name: str) -> np.ndarray:
        a = self.arrays[name]
        s = np.add.reduceat(a, self.starts, axis=0)
        c = self.counts.reshape((-1,) + (1,) * (a.ndim - 1))
        return s / c

    def sum(self, name: str) -> np.ndarray:
        return np.add.reduceat(self.arrays[name], self.starts, axis=0)

    def max(self, name: str) -> np.ndarray:
        return np.maximum.reduceat(self.arrays[name], self.starts, axis=0)

    def min(self, name: str) -> np.ndarray:
        return np.minimum.reduceat(self.arrays[name], self.starts, axis=0)


class EpochSplitter:
    def __init__(self, epoch_s: float) -> None:
        if not epoch_s > 0:
            raise ValueError("epoch_s must be > 0")
        self.epoch_s = float(epoch_s)
        self._carry_t = np.zeros(0)
        self._carry: dict[str, np.ndarray] = {}

    def _cut(self, t: np.ndarray, arrays: dict[str, np.ndarray], final: bool) -> Epochs:
        if self._carry_t.size:
            t = np.concatenate([self._carry_t, t])
            arrays = {k: np.concatenate([self._carry[k], v]) for k, v in arrays.items()} \
                if self._carry else arrays
        idx = np.floor(t / self.epoch_s).astype(np.int64)
        if idx.size == 0:
            return Epochs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                          t, arrays)
        if final:
            n_done = idx.size
        else:
            n_done = int(np.searchsorted(idx, idx[-1], side="left"))
        self._carry_t = t[n_done:].copy()
        self._carry = {k: v[n_done:].copy() for k, v in arrays.items()}
        t_done = t[:n_done]
        done = {k: v[:n_done] for k, v in arrays.items()}
        idx_done = idx[:n_done]
        if n_done == 0:
            return Epochs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                          t_done, done)
        change = np.flatnonzero(np.diff(idx_done)) + 1
        starts = np.concatenate([[0], change]).astype(np.int64)
        counts = np.diff(np.concatenate([starts, [n_done]])).astype(np.int64)
        return Epochs(idx_done[starts], starts, counts, t_done, done)

    def push(self, t_s: np.ndarray, **arrays: np.ndarray) -> Epochs:
        return self._cut(np.asarray(t_s, dtype=np.float64), arrays, final=False)

    def flush(self) -> Epochs:
        """Hand out the last, incomplete epoch (end of a recording)."""
        arrays = {k: v[:0] for k, v in self._carry.items()}
        return self._cut(np.zeros(0), arrays, final=True)

    def get_state(self) -> dict:
        return {"epoch_s": self.epoch_s, "carry_t": self._carry_t.copy(),
                "carry": {k: v.copy() for k, v in self._carry.items()}}

    def set_state(self, state: dict) -> None:
        self.epoch_s = float(state["epoch_s"])
        self._carry_t = np.asarray(state["carry_t"], dtype=np.float64)
        self._carry = {k: np.asarray(v) for k, v in state["carry"].items()}
