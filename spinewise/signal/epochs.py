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
    """Cuts pushed samples into complete epochs. The samples of the epoch being filled are
    kept as a list of pieces and joined only once the epoch is complete: a live stream
    pushes ~25 samples at a time, so most pushes complete nothing and cost one floor and
    one comparison instead of re-concatenating the whole carry."""

    def __init__(self, epoch_s: float) -> None:
        if not epoch_s > 0:
            raise ValueError("epoch_s must be > 0")
        self.epoch_s = float(epoch_s)
        self._last: dict[str, np.ndarray] = {}    # last pushed arrays: names/dtypes for get_state
        self._clear()

    def _clear(self) -> None:
        self._pend_t: list[np.ndarray] = []
        self._pend: list[dict[str, np.ndarray]] = []
        self._pend_idx: int | None = None         # epoch index of the pending samples

    def _index(self, t_s: float) -> int:
        # the same division and floor as the vectorised grid in _cut, one sample at a time
        return int(np.floor(t_s / self.epoch_s))

    def _hold(self, t: np.ndarray, arrays: dict[str, np.ndarray]) -> None:
        if self._pend_idx is None:
            self._pend_idx = self._index(t[0])
        self._pend_t.append(t)
        self._pend.append(arrays)

    @staticmethod
    def _empty(t: np.ndarray, arrays: dict[str, np.ndarray]) -> Epochs:
        return Epochs(_NO_INDEX, _NO_INDEX, _NO_INDEX, t[:0], {k: v[:0] for k, v in arrays.items()})

    def _cut(self, t: np.ndarray, arrays: dict[str, np.ndarray], final: bool) -> Epochs:
        if not final and t.size and self._index(t[-1]) == (
                self._index(t[0]) if self._pend_idx is None else self._pend_idx):
            # time only increases: every new sample is in the pending epoch, none completes
            self._hold(t.copy(), {k: np.array(v) for k, v in arrays.items()})
            return self._empty(t, arrays)
        if self._pend_t:
            t = np.concatenate(self._pend_t + [t])
            arrays = {k: np.concatenate([p[k] for p in self._pend] + [v])
                      for k, v in arrays.items()}
            self._clear()
        if t.size == 0:
            return self._empty(t, arrays)
        idx = np.floor(t / self.epoch_s).astype(np.int64)
        n_done = idx.size if final else int(np.searchsorted(idx, idx[-1], side="left"))
        if n_done < idx.size:
            self._hold(t[n_done:].copy(), {k: v[n_done:].copy() for k, v in arrays.items()})
        if n_done == 0:
            return self._empty(t, arrays)
        t_done = t[:n_done]
        done = {k: v[:n_done] for k, v in arrays.items()}
        idx_done = idx[:n_done]
        change = np.flatnonzero(idx_done[1:] != idx_done[:-1]) + 1
        starts = np.concatenate([_ZERO_INDEX, change])
        counts = np.diff(starts, append=n_done)
        return Epochs(idx_done[starts], starts, counts, t_done, done)

    def push(self, t_s: np.ndarray, **arrays: np.ndarray) -> Epochs:
        self._last = arrays
        return self._cut(np.asarray(t_s, dtype=np.float64), arrays, final=False)

    def flush(self) -> Epochs:
        """Hand out the last, incomplete epoch (end of a recording)."""
        if not self._pend:
            return self._cut(np.zeros(0), {}, final=True)
        arrays = {k: v[:0] for k, v in self._pend[0].items()}
        return self._cut(np.zeros(0), arrays, final=True)

    def get_state(self) -> dict:
        if not self._pend:
            return {"epoch_s": self.epoch_s, "carry_t": np.zeros(0),
                    "carry": {k: v[:0].copy() for k, v in self._last.items()}}
        return {"epoch_s": self.epoch_s, "carry_t": np.concatenate(self._pend_t),
                "carry": {k: np.concatenate([p[k] for p in self._pend]) for k in self._pend[0]}}

    def set_state(self, state: dict) -> None:
        self.epoch_s = float(state["epoch_s"])
        self._clear()
        self._last = {k: np.asarray(v)[:0] for k, v in state["carry"].items()}
        t = np.asarray(state["carry_t"], dtype=np.float64)
        if t.size:
            self._hold(t.copy(), {k: np.array(v) for k, v in state["carry"].items()})


_NO_INDEX = np.zeros(0, np.int64)
_ZERO_INDEX = np.zeros(1, np.int64)
