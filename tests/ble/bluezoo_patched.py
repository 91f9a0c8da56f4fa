"""bluezoo 1.0.2 with three faults fixed, so the emulator behaves like BlueZ where the gateway
relies on it. Run as ``python -m tests.ble.bluezoo_patched <bluezoo args>`` (scripts/ble-emulator).

Faults fixed (found with bleak 3.1 on Debian 12; see bluezoo/device.py, adapter.py, gatt/):

1. Reconnect fails with ``sd_bus_add_object_vtable ... error 17`` (EEXIST): ``Device.connect``
   exports GATT link objects under the device path on every connect, and ``disconnect`` never
   removes them. BlueZ drops a device's GATT objects when the link goes down; so do we.
2. A second scan does not re-announce a known device: ``Adapter.add_device`` only syncs changed
   properties of a known device, so BlueZ clients (bleak) that wait for a PropertiesChanged on a
   fresh advertisement never see it. BlueZ updates RSSI for every advertisement received; we
   emit a small RSSI change on every scan report.
3. On disconnect bluezoo keeps forwarding the GATT application's notifications and never tells
   the application that notifications stopped; BlueZ calls ``StopNotify`` on the application's
   characteristic when its last subscriber goes (the CCCD is reset). We do the same.

Left as is on purpose: a peripheral whose GATT application vanishes while connected gives the
central no disconnect (real BlueZ would report it after the supervision timeout). A link that
dies quietly is exactly what the gateway's silence watchdog must handle, so the tests use it.

4. Advertising ManufacturerData breaks bluezoo (declared ``a{sv}`` where BlueZ uses ``a{qv}``):
   the declarations are corrected before anything is exported.
"""
from __future__ import annotations

from importlib.metadata import version

from bluezoo import adapter as _adapter
from bluezoo import device as _device
from bluezoo import events
from bluezoo.log import logger

PINNED = "1.0.2"   # pyproject [test] pins it; the patches below are written against its source
if version("bluezoo") != PINNED:
    logger.warning(f"bluezoo {version('bluezoo')} is not the pinned {PINNED}: check tests/ble/bluezoo_patched.py")


def _fix_manufacturer_data_signature() -> None:
    """Fault 4: ManufacturerData is declared ``a{sv}`` on LEAdvertisement1 and Device1; BlueZ (and
    every advertiser and bleak) use ``a{qv}`` (16-bit company id -> bytes). sdbus reads the
    signature when an object is exported, so correcting the declarations before startup is enough."""
    from bluezoo.interfaces.Device import DeviceInterface
    from bluezoo.interfaces.LEAdvertisement import LEAdvertisementInterface
    for cls, names in ((_device.Device, ["ManufacturerData"]), (DeviceInterface, ["ManufacturerData"]),
                       (LEAdvertisementInterface, ["ManufacturerData", "ScanResponseManufacturerData"])):
        for name in names:
            prop = cls.__dict__.get(name)
            if prop is not None:
                prop.property_signature = "a{qv}"


_fix_manufacturer_data_signature()

_orig_connect = _device.Device.connect
_orig_disconnect = _device.Device.disconnect
_orig_add_device = _adapter.Adapter.add_device


async def _drop_gatt_links(self) -> None:
    mock = self.peer_adapter.mock
    for link in list(self.services.values()):
        sub = getattr(link, "client_props_changed_subscription", None)
        # an idle link holds an empty events.Subscription; a notifying one the EventSubscriber
        if sub is not None and not isinstance(sub, events.Subscription):
            # BlueZ stops notifications of the GATT server application when its last
            # subscriber goes away (the CCCD is reset on disconnect); bluezoo forgets to
            sub.unsubscribe()
            link.client_props_changed_subscription = events.Subscription()
            try:
                await link.client.StopNotify()
            except Exception as exc:   # the application may be gone already
                logger.debug(f"StopNotify on {link} failed: {exc}")
        try:
            mock.remove_object(link)
        except KeyError:
            pass
    self.services.clear()
    self.services_resolved = False


async def connect(self, uuid=None):
    if self.connected:
        return
    await _drop_gatt_links(self)    # fault 1: stale links from an earlier connection
    await _orig_connect(self, uuid)


async def disconnect(self, uuid=None):
    await _orig_disconnect(self, uuid)
    if self.services:
        logger.info(f"Dropping GATT objects of {self}")
        await _drop_gatt_links(self)  # fault 1
        try:
            await self.ServicesResolved.set_async(False)
        except Exception:           # the object may already be gone
            pass


async def add_device(self, device):
    path = "/".join((self.get_object_path(), f"dev_{device.address.replace(':', '_')}"))
    known = self.devices.get(path)
    await _orig_add_device(self, device)
    if known is not None and device.is_le:
        # fault 2: a fresh advertisement of a known device -> RSSI PropertiesChanged, as BlueZ does
        known.rssi = -60 if known.rssi != -60 else -61
        known.properties_changed.emit(("org.bluez.Device1", {"RSSI": ("n", known.rssi)}, []))


_device.Device.connect = connect
_device.Device.disconnect = disconnect
_adapter.Adapter.add_device = add_device


def main() -> None:
    from bluezoo.bluezoo import main as bluezoo_main
    bluezoo_main()


if __name__ == "__main__":
    main()
