"""Events the streaming objects emit, in event time.

An event is a small, JSON-friendly record. ``kind`` names what happened; ``t_s`` is the
event time (sample time of the moment it refers to); ``data`` carries the figures.

Kinds used across the system (producers in brackets):
  set_started, rep, set_finished              [signal.exercise]
  hold_started, hold_running, hold_finished   [signal.exercise]
  activity (1 s epoch class changes), posture, slouch_started, slouch_ended,
  sedentary_bout, break, calibrated, minute   [signal.day]
  gap                                         [ingest / pipeline]
  nudge, plan                                 [coaching]
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    kind: str
    t_s: float
    data: dict[str, Any] = field(default_factory=dict)
    device_id: str = "local"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Event":
        return Event(kind=str(d["kind"]), t_s=float(d["t_s"]), data=dict(d.get("data", {})),
                     device_id=str(d.get("device_id", "local")))
