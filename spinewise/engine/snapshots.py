"""Device state snapshots in the engine's key-value store (replicated with the cluster), so
whichever worker takes a partition over continues each device exactly where the last stored
snapshot stands. Same interface as spinewise.pipeline.snapshot.SnapshotStore, but ``lazy``:
a device's state is loaded when its first message reaches a worker, not all at start.

Values are pickles (Analyzer state holds numpy arrays) read only from this bucket, and only
through spinewise.state_pickle, which refuses any pickle naming more than state types; like
the pipeline's 0700 state_dir, the bucket should be writable by the pipeline's account only.
"""
from __future__ import annotations

import logging

from spinewise import state_pickle
from spinewise.engine.link import EngineLink
from spinewise.engine.subjects import SNAPSHOTS

log = logging.getLogger(__name__)


class KvSnapshotStore:
    lazy = True

    def __init__(self, link: EngineLink, bucket: str = SNAPSHOTS) -> None:
        self.link = link
        self.bucket = bucket
        self.kv = None          # set by EngineIntake once connected
        self.bytes_last = 0

    def save(self, device_id: str, state: dict) -> None:
        data = state_pickle.dumps(state)
        self.bytes_last = len(data)
        self.link.call(self.kv.put(device_id, data))

    def save_many(self, states: dict[str, dict]) -> None:
        """Several devices at once: the puts are in flight together (one round trip, not N)."""
        import asyncio
        blobs = {d: state_pickle.dumps(st) for d, st in states.items()}
        if not blobs:
            return

        async def put_all():
            await asyncio.gather(*(self.kv.put(d, b) for d, b in blobs.items()))
        self.link.call(put_all(), 30.0)

    def load(self, device_id: str) -> dict | None:
        from nats.js.errors import KeyNotFoundError
        try:
            entry = self.link.call(self.kv.get(device_id))
        except KeyNotFoundError:
            return None
        if entry is None or not entry.value:
            return None
        try:
            return state_pickle.loads(entry.value)
        except Exception as exc:   # a corrupt snapshot costs that device's history, not the service
            log.error("snapshot of %s unreadable (%s): starting fresh", device_id, exc)
            return None

    def load_all(self) -> dict[str, dict]:
        return {}               # lazy: see load()

    def delete(self, device_id: str) -> None:
        self.link.call(self.kv.delete(device_id))
