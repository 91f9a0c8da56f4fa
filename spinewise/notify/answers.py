"""Answers people give on the sensor itself, as coach commands (pure: no I/O).

The DIY sensor's button (docs/sensors.md) reaches the pipeline as a gateway event on
``<prefix>/dev/<device>/link``: ``{"kind": "button", "t_s", "data": {"taps": n}}``. After a
buzz, one tap answers "done" (the latest open nudge is answered) and a double tap snoozes
nudges (issue 14); other tap counts mean nothing.
"""
from __future__ import annotations

import json
import math

DONE_TAPS = 1
SNOOZE_TAPS = 2
_COMMAND_BY_TAPS = {DONE_TAPS: "done", SNOOZE_TAPS: "snooze"}


def button_command(device_id: str, doc: dict) -> bytes | None:
    """The command a button event stands for, or None (ignored)."""
    data = doc.get("data")
    taps = data.get("taps") if isinstance(data, dict) else None
    t_s = doc.get("t_s")
    if isinstance(taps, bool) or not isinstance(taps, int) or taps not in _COMMAND_BY_TAPS:
        return None
    if isinstance(t_s, bool) or not isinstance(t_s, (int, float)) or not math.isfinite(t_s):
        return None
    # the id names the press, so the reply can be matched and a redelivery recognised
    cmd = _COMMAND_BY_TAPS[taps]
    return json.dumps({"v": 1, "cmd": cmd, "id": f"button:{cmd}:{device_id}:{t_s:.3f}"}).encode()
