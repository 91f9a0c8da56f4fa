"""Find nearby sensors and say which profile each speaks (by advertised service UUID, then name)."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from spinewise.ingest.profiles import recognise

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoundSensor:
    address: str
    name: str
    rssi_dbm: int | None
    profile: str | None                  # spinewise profile name, None when not recognised
    service_uuids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def classify(address: str, name: str | None, rssi_dbm: int | None, service_uuids) -> FoundSensor:
    prof = recognise(name, service_uuids)
    return FoundSensor(address, name or "", rssi_dbm, prof.name if prof else None,
                       sorted(u.lower() for u in service_uuids))


async def scan(timeout_s: float = 10.0, adapter: str = "") -> list[FoundSensor]:
    """Scan for ``timeout_s``; recognised sensors first, strongest signal first."""
    from bleak import BleakScanner

    kwargs = {"bluez": {"adapter": adapter}} if adapter else {}
    found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, **kwargs)
    out = [classify(dev.address, adv.local_name or dev.name, adv.rssi, adv.service_uuids)
           for dev, adv in found.values()]
    out.sort(key=lambda f: (f.profile is None, -(f.rssi_dbm if f.rssi_dbm is not None else -999)))
    return out
