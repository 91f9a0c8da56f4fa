"""Outgoing: one message the coach wants published (and/or an Event for storage)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spinewise.events import Event
from spinewise.jsonwire import dumps


@dataclass(frozen=True)
class Outgoing:
    topic: str                     # full MQTT topic; "" = nothing to publish (storage only)
    payload: dict[str, Any]
    retain: bool = False
    qos: int = 1
    suffix: str = ""               # the part after <prefix>/<user>/ ("nudge", "coach", ...)
    event: Event | None = None     # hand to storage (kinds nudge, nudge_outcome, pain, plan, summary)
    action: str | None = None      # something the pipeline must do, e.g. "calibrate"

    def payload_bytes(self) -> bytes:
        return dumps(self.payload)
