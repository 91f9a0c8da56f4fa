"""Answers people give on the sensor itself, as coach commands (pure: no I/O).

The DIY sensor's button (docs/sensors.md) reaches the pipeline as a gateway event on
``<prefix>/dev/<device>/link``: ``{"kind": "button", "t_s", "data": {"taps": n}}``. A double
tap snoozes nudges (the buzz's answer, issue 14); other tap counts mean nothing yet.
"""
from __future__ import annotations

import json
import math

SNOOZE_TAPS = 2


def button_command(device_id: str, doc: dict) -> bytes | None:
    """The command a button event stands for, or None (ignored)."""
    data = doc.get("data")
    taps = data.get("taps") if isinstance(data, dict) else None
    t_s = doc.get("t_s")
    if isinstance(taps, bool) or taps != SNOOZE_TAPS:
        return None
    if isinstance(t_s, bool) or not isinstance(t_s, (int, float)) or not math.isfinite(t_s):
        return None
    # the id names the press, so the reply can be matched and a redelivery recognised
    return json.dumps({"v": 1, "cmd": "snooze", "id": f"button:{device_id}:{t_s:.3f}"}).encode()
