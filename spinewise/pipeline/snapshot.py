"""Per-device state snapshots on disk, so a restarted pipeline continues where it stopped.

One pickle file per device in ``PipelineConfig.state_dir`` (state holds numpy arrays, which
JSON cannot carry without loss). Written to a temporary file, fsynced, then renamed over the
old one, so a crash mid-write leaves the previous snapshot intact. The directory is the
service's own (0700); pickles are only ever read from there, and only through
spinewise.state_pickle, which refuses any pickle naming more than state types.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import quote, unquote

from spinewise import state_pickle
from spinewise.spool import private_opener

log = logging.getLogger(__name__)

_SUFFIX = ".state.pkl"


class SnapshotStore:
    def __init__(self, state_dir: str | os.PathLike) -> None:
        self.dir = Path(state_dir).expanduser()
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            from spinewise.config import ConfigError
            raise ConfigError(f"pipeline.state_dir: cannot create {self.dir}: {exc.strerror}") from None

    def _path(self, device_id: str) -> Path:
        return self.dir / (quote(device_id, safe="") + _SUFFIX)

    def save(self, device_id: str, state: dict) -> None:
        path = self._path(device_id)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb", opener=private_opener) as fh:
            fh.write(state_pickle.dumps(state))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def save_many(self, states: dict[str, dict]) -> None:
        for device_id, state in states.items():
            self.save(device_id, state)

    def load_all(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for path in sorted(self.dir.glob("*" + _SUFFIX)):
            device_id = unquote(path.name[:-len(_SUFFIX)])
            try:
                with open(path, "rb") as fh:
                    out[device_id] = state_pickle.load(fh)
            except Exception as exc:  # a corrupt snapshot costs that device's history, not the service
                log.error("snapshot %s unreadable (%s): device %s starts fresh", path, exc, device_id)
        return out

    def delete(self, device_id: str) -> None:
        self._path(device_id).unlink(missing_ok=True)
