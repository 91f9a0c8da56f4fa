"""One connection to the engine (nats-py, asyncio) driven from the pipeline's threads.

nats-py is asyncio; the pipeline is threads (like paho). The connection and everything that
talks to it run on an event loop in a thread of its own; other threads submit coroutines with
:meth:`EngineLink.call` and wait for the result, bounded by a timeout.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


def server_urls(text: str) -> list[str]:
    """``pipeline.nats_servers`` ("nats://a:4222, nats://b:4222") as a list of URLs."""
    return [s.strip() for s in text.split(",") if s.strip()]


class EngineLink:
    def __init__(self, servers: list[str], name: str) -> None:
        self.servers = servers
        self.name = name
        self.loop = asyncio.new_event_loop()
        self.nc = None
        self.js = None
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"engine-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine, timeout_s: float = 10.0) -> Any:
        """Run ``coro`` on the link's loop and return its result (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def spawn(self, coro: Coroutine) -> "asyncio.Future":
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def open(self, timeout_s: float) -> None:
        import nats

        async def disconnected():
            self.connected.clear()
            log.warning("engine %s: disconnected (reconnecting)", self.name)

        async def reconnected():
            self.connected.set()
            log.info("engine %s: reconnected to %s", self.name, self.nc.connected_url.netloc)

        async def error(exc):
            log.debug("engine %s: %s", self.name, exc)

        self.nc = await nats.connect(self.servers, name=self.name, connect_timeout=timeout_s,
                                     max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                     disconnected_cb=disconnected, reconnected_cb=reconnected,
                                     error_cb=error, allow_reconnect=True)
        self.js = self.nc.jetstream(timeout=5.0)
        self.connected.set()

    def close(self, timeout_s: float = 5.0) -> None:
        if self.nc is not None:
            try:
                self.call(self.nc.drain(), timeout_s)
            except Exception:
                log.debug("engine %s: drain at close failed", self.name, exc_info=True)
        self.connected.clear()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout_s)

    def kill(self) -> None:
        """Stop without draining or releasing anything (tests: a worker that crashed)."""
        self.connected.clear()
        self.loop.call_soon_threadsafe(self.loop.stop)
