"""Exercise-tracker test helpers: committed fixture recordings run through the tracker once.

``oracle`` runs use the simulator's mounting (isolates the exercise code from calibration);
``analyzer`` runs go through the real Analyzer (BodyTracker calibration included).
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from spinewise.config import SignalConfig
from spinewise.recording import read_all
from spinewise.signal.exercise import ExerciseTracker
from spinewise.signal.exercise.oracle import OracleBody

SIM = Path(__file__).resolve().parents[3] / "fixtures" / "sim"


@functools.lru_cache(maxsize=None)
def load(name: str):
    path = SIM / f"{name}.csv"
    if not path.exists():
        pytest.fail(f"missing committed fixture {path}")
    return read_all(path), json.loads(path.with_suffix(".truth.json").read_text())


def run_oracle(name: str, chunk_size: int = 250, announce: str | None = None,
               cfg: SignalConfig | None = None):
    """(tracker, events, truth) for a fixture through the oracle body path."""
    rec, truth = load(name)
    body = OracleBody(truth["mounting"]["R_sensor_from_body"], truth["rate_hz"], rec.has_gyro)
    tracker = ExerciseTracker(cfg or SignalConfig(), truth["rate_hz"])
    events = tracker.announce(announce) if announce else []
    for chunk in rec.split(chunk_size):
        events += tracker.update(body.update(chunk))
    events += tracker.finish()
    return tracker, events, truth


@functools.lru_cache(maxsize=None)
def run_oracle_cached(name: str):
    return run_oracle(name)


@functools.lru_cache(maxsize=None)
def run_analyzer(name: str):
    from spinewise.signal.analyzer import Analyzer
    rec, truth = load(name)
    an = Analyzer(SignalConfig(), rate_hz=truth["rate_hz"])
    events = []
    for chunk in rec.split(500):
        events += an.update(chunk)
    events += an.finish()
    return an.summary(), events, truth


def match(detected: list[dict], truth_item: dict) -> dict | None:
    """The detected set/hold overlapping ``truth_item`` most."""
    best, best_ov = None, 0.0
    for d in detected:
        ov = min(d["end_s"], truth_item["end_s"]) - max(d["start_s"], truth_item["start_s"])
        if ov > best_ov:
            best, best_ov = d, ov
    return best
