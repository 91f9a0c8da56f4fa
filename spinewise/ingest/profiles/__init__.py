"""Sensor profiles by name, and recognition of a scanned device."""
from __future__ import annotations

from spinewise.ingest.profiles.base import (BATTERY_LEVEL_UUID, BATTERY_SERVICE_UUID, DecodeError,
                                            Frame, GattWrite, HapticPattern, NUDGE_BUZZ,
                                            SensorProfile)
from spinewise.ingest.profiles.polar import PolarH10
from spinewise.ingest.profiles.spinewise import SpinewiseProfile
from spinewise.ingest.profiles.thingy import Thingy52
from spinewise.ingest.profiles.witmotion import WitMotion

PROFILES: dict[str, type[SensorProfile]] = {
    p.name: p for p in (SpinewiseProfile, WitMotion, PolarH10, Thingy52)}


def get_profile(name: str) -> type[SensorProfile]:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown sensor profile {name!r} (known: {', '.join(PROFILES)})") from None


def recognise(name: str | None, service_uuids=()) -> type[SensorProfile] | None:
    """The profile a scanned device speaks: by advertised service UUID first, then by name."""
    uuids = {u.lower() for u in service_uuids}
    for p in PROFILES.values():
        if p.service_uuid.lower() in uuids:
            return p
    for p in PROFILES.values():
        if p.matches(name, ()):
            return p
    return None


__all__ = ["PROFILES", "get_profile", "recognise", "SensorProfile", "Frame", "GattWrite", "DecodeError",
           "HapticPattern", "NUDGE_BUZZ",
           "BATTERY_SERVICE_UUID", "BATTERY_LEVEL_UUID", "PolarH10", "SpinewiseProfile", "Thingy52",
           "WitMotion"]
