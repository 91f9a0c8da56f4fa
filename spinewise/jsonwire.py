"""Compact JSON for what spinewise sends on MQTT: one encoder for every message type.

Events carry numpy numbers and NaN for figures that are unavailable; on the wire those become
plain numbers and ``null`` (JSON has no NaN, and ``allow_nan=False`` guarantees we never emit
the invalid ``NaN`` token). Sample payloads have their own hot-path codec
(spinewise/ingest/payload.py), where a NaN is an error, not a ``null``.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON; anything JSON does not know is sent as its ``str``."""
    return json.dumps(jsonable(obj), separators=(",", ":"), allow_nan=False, default=str).encode()
