"""Shared pieces for the pipeline tests: a simulated recording with its offline analysis, a
config factory that isolates each test on the shared broker, and an MQTT message collector."""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from spinewise.config import from_dict
from spinewise.mqtt import MqttClient

# A seed not used while developing the pipeline: the acceptance recording is fresh data.
ACCEPTANCE_SEED = 20261125
START_ISO = "2026-03-02T10:00:00Z"
START_EPOCH_S = 1772445600.0            # START_ISO


@dataclass
class Recording:
    path: Path
    reference: dict            # Analyzer.summary() of the file, as `spinewise analyze` computes it
    minutes_sedentary_s: float
    n_samples: int


@pytest.fixture(scope="session")
def recording(tmp_path_factory) -> Recording:
    """The acceptance recording and its reference: ``spinewise analyze --json`` on the file."""
    from spinewise.config import SignalConfig
    from spinewise.recording import read_chunks, write_csv
    from spinewise.signal.analyzer import Analyzer
    from spinewise.sim import simulate

    sim = simulate("mixed", seed=ACCEPTANCE_SEED, duration_s=540,
                   exercises=["plank", "bridge", "dead_bug"], dose_scale=0.4)
    path = tmp_path_factory.mktemp("rec") / "mixed.csv"
    write_csv(path, sim.chunks(4096))
    reference = analyze_json(path)
    # the per-minute sedentary figures the pipeline stores must add up to the same total
    an = Analyzer(SignalConfig(), "ref", None)
    events, n = [], 0
    for chunk in read_chunks(path, 4096):
        events += an.update(chunk)
        n += len(chunk)
    events += an.finish()
    sed = sum(e.data["sedentary_s"] for e in events if e.kind == "minute")
    return Recording(path, reference, sed, n)


def analyze_json(path, *extra: str) -> dict:
    """``spinewise analyze --json PATH`` as the user runs it."""
    import contextlib
    import io

    from spinewise import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["analyze", "--json", str(path), *extra]) == 0
    return json.loads(out.getvalue())


def explain_mismatch(recording: "Recording", got_sets: list) -> str:
    """When live != analyze, say whether the Analyzer itself depends on chunking (the live
    pipeline feeds it the gateway's 0.5 s messages, analyze reads 4096-sample chunks)."""
    small = analyze_json(recording.path, "--chunk", "25")
    small_sets = [(s["exercise"], s["reps"]) for s in small["sets"]]
    ref_sets = [(s["exercise"], s["reps"]) for s in recording.reference["sets"]]
    if small_sets != ref_sets:
        return (f"the Analyzer is not chunk-invariant (signal contract): analyze gives {ref_sets} "
                f"with 4096-sample chunks but {small_sets} with 25-sample chunks; live gave {got_sets}")
    return f"live {got_sets} != analyze {ref_sets} although the Analyzer is chunk-invariant here"


def make_config(tmp_path: Path, mqtt_port: int, *, prefix: str | None = None, influx: dict | None = None,
                devices=(("back1", "ann"),), **pipeline):
    prefix = prefix or f"t{uuid.uuid4().hex[:8]}"
    return from_dict({
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "prefix": prefix, "keepalive_s": 10},
        "influx": influx or {"backend": "local", "local_path": str(tmp_path / "local.sqlite")},
        "gateway": {"spool_dir": str(tmp_path / "gw-spool"), "batch_s": 0.5},
        "coaching": {"state_db": str(tmp_path / "coach.sqlite")},
        "pipeline": {"state_dir": str(tmp_path / "state"), "client_id": f"pl-{prefix}",
                     "stats_interval_s": 0.5, "state_interval_s": 0.2, "reorder_wait_s": 1.0,
                     **pipeline},
        "devices": [{"id": d, "user": u} for d, u in devices],
    })


class Collector:
    """Subscribes to a topic filter and keeps (topic, parsed JSON) in arrival order."""

    def __init__(self, cfg, topic_filter: str) -> None:
        self.messages: list[tuple[str, object]] = []
        self._cond = threading.Condition()
        self.client = MqttClient(cfg.mqtt, f"col-{uuid.uuid4().hex[:8]}", clean_session=True)
        self.client.subscribe(topic_filter, self._on, qos=1)
        assert self.client.connect(10.0)
        time.sleep(0.2)             # SUBACK before anything is published

    def _on(self, topic: str, payload: bytes) -> None:
        try:
            doc = json.loads(payload)
        except ValueError:
            doc = payload
        with self._cond:
            self.messages.append((topic, doc))
            self._cond.notify_all()

    def wait_for(self, pred, timeout_s: float = 10.0):
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for topic, doc in self.messages:
                    if pred(topic, doc):
                        return topic, doc
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def close(self) -> None:
        self.client.close()


def wait_until(pred, timeout_s: float = 30.0, interval_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval_s)
    return bool(pred())
