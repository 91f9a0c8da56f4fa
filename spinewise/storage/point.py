"""A storage point: one row of InfluxDB line protocol, independent of any client library.

Backends share this type: the v2 and v1 backends send ``to_line()``, the spool stores the
same lines, and the local SQLite store keeps the parts. ``key`` (measurement, tags, time) is
the identity InfluxDB uses: a second point with the same key overwrites the first, which is
what makes re-sending a spooled batch harmless.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from influxdb_client import Point as _ClientPoint
from influxdb_client.client.write.point import WritePrecision

FieldValue = float | int | bool | str


@dataclass(frozen=True)
class Point:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    time_ns: int
    _line: list = field(default_factory=list, compare=False, repr=False)  # lazy cache

    @property
    def key(self) -> tuple:
        return (self.measurement, tuple(sorted(self.tags.items())), self.time_ns)

    def to_line(self) -> str:
        """Line protocol (nanosecond precision); escaping is influxdb-client's."""
        if not self._line:
            p = _ClientPoint(self.measurement)
            for k, v in sorted(self.tags.items()):
                if v != "":                     # line protocol has no empty tag values
                    p.tag(k, v)
            for k, v in self.fields.items():
                p.field(k, v)
            p.time(self.time_ns, WritePrecision.NS)
            self._line.append(p.to_line_protocol())
        return self._line[0]


def make_point(measurement: str, tags: dict[str, str], fields: dict[str, object],
               time_ns: int) -> Point | None:
    """A Point with non-finite and ``None`` fields dropped; None when no field is left.

    Dropping rather than writing NaN matters: InfluxDB rejects NaN/inf outright, and a
    missing field is how "unavailable" (no gyro) reads in InfluxQL and Grafana. Line breaks
    in text become spaces: a line-protocol point must stay on one line (and the spool is
    line-based).
    """
    clean: dict[str, FieldValue] = {}
    for k, v in fields.items():
        if isinstance(v, np.generic):
            v = v.item()                 # numpy scalars: the types line protocol knows
        if v is None:
            continue
        if not isinstance(v, (bool, int, float, str)):
            raise ValueError(f"{measurement}.{k}: a field must be a number, bool or text, "
                             f"not {type(v).__name__}")
        if isinstance(v, float) and not math.isfinite(v):
            continue
        if isinstance(v, str) and ("\n" in v or "\r" in v):
            v = " ".join(v.splitlines())
        clean[k] = v
    if not clean:
        return None
    return Point(measurement, {k: str(v) for k, v in tags.items()}, clean, int(time_ns))
