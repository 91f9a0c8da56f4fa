"""A carer's own copy: the points of their people, in a database (bucket) nobody else's share.

InfluxDB grants reading per database (1.x) or per bucket (2.x), never per tag, so "a carer
sees only their patients" cannot be a query filter: Grafana's User variable is a convenience,
not a boundary. With ``influx.carer_copies = true`` every point whose ``user`` tag belongs to a
``[[carers]]`` entry is also written to ``<database>_carer_<carer id>`` (v1) or
``<bucket>_carer_<carer id>`` (v2), each through its own buffer and disk spool, so a carer's
InfluxDB login (READ on that one database) and a Grafana data source with it show exactly
their people. ``spinewise acl --influxql`` prints the statements that make the databases and
logins (docs/deploy.md).
"""
from __future__ import annotations

from collections.abc import Iterable

from spinewise.access import carer_store_name
from spinewise.storage.point import Point

__all__ = ["CarerCopies", "carer_store_name"]

_SUMMED = ("points_written", "points_spooled", "points_rejected", "spool_depth",
           "points_dropped", "write_errors")


class CarerCopies:
    """A Storage that writes everything to ``main`` and each carer's people to their copy."""

    def __init__(self, main, copies: Iterable[tuple[str, Iterable[str], object]]) -> None:
        self.main = main
        self.copies = [(cid, frozenset(users), storage) for cid, users, storage in copies]

    def write(self, points: Iterable[Point]) -> None:
        points = list(points)
        self.main.write(points)
        for _, users, storage in self.copies:
            mine = [p for p in points if p.tags.get("user") in users]
            if mine:
                storage.write(mine)

    def flush(self, force: bool = False) -> bool:
        ok = self.main.flush(force)
        return all([storage.flush(force) for _, _, storage in self.copies]) and ok

    def close(self) -> None:
        try:
            self.main.close()
        finally:
            for _, _, storage in self.copies:
                storage.close()

    def stats(self) -> dict:
        """The main store's figures; the copies' sums as ``carer_<figure>``."""
        out = dict(self.main.stats())
        copies = [storage.stats() for _, _, storage in self.copies]
        for k in _SUMMED:
            out[f"carer_{k}"] = sum(int(st.get(k, 0) or 0) for st in copies)
        out["carer_backends_up"] = sum(bool(st.get("backend_up")) for st in copies)
        return out
