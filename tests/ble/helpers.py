"""What the BLE end-to-end tests share: waiting on a condition, a persistent MQTT collector,
and a gateway running against emulated sensors."""
from __future__ import annotations

import asyncio
import threading
import time
from contextlib import asynccontextmanager

from spinewise.config import Config, MqttConfig
from spinewise.ingest.gateway import Gateway
from spinewise.mqtt import MqttClient


async def until(pred, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Collector:
    """A persistent-session subscriber: QoS 1 messages queued by the broker while it is away
    (and across the broker's restart, which keeps sessions on disk) still arrive."""

    def __init__(self, port: int, prefix: str, client_id: str) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[str, bytes]] = []
        self.client = MqttClient(MqttConfig(host="127.0.0.1", port=port), client_id,
                                 clean_session=False)
        self.client.subscribe(f"{prefix}/#", self._on, qos=1)
        assert self.client.connect(15)

    def _on(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.messages.append((topic, bytes(payload)))

    def of(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p in self.messages if t == topic]

    def close(self) -> None:
        self.client.close()


@asynccontextmanager
async def gateway_running(cfg: Config, *sensors):
    """Start the emulated sensors and the gateway; on exit stop the gateway (it flushes) and
    the sensors."""
    for s in sensors:
        await s.start()
    gw = Gateway(cfg)
    stop = asyncio.Event()
    task = asyncio.create_task(gw.run(stop))
    try:
        yield gw
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        for s in sensors:
            await s.stop()
