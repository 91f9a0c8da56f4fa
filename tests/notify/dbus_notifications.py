"""A private D-Bus session bus (dbus-daemon) and a tiny org.freedesktop.Notifications service
on it (dbus-fast), recording every Notify call. No `from __future__ import annotations`:
dbus-fast reads the D-Bus signatures from the annotations."""
import asyncio
import shutil
import subprocess
import threading
import time
from pathlib import Path

from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method, signal

NAME = "org.freedesktop.Notifications"


class Notifications(ServiceInterface):
    def __init__(self):
        super().__init__(NAME)
        self.calls = []
        self.click_before_reply = None    # an action key clicked before Notify's reply goes out

    @method()
    def Notify(self, app_name: "s", replaces_id: "u", app_icon: "s", summary: "s", body: "s",
               actions: "as", hints: "a{sv}", expire_timeout: "i") -> "u":
        self.calls.append({"app_name": app_name, "replaces_id": replaces_id, "app_icon": app_icon,
                           "summary": summary, "body": body, "actions": actions,
                           "hints": {k: v.value for k, v in hints.items()},
                           "expire_timeout": expire_timeout})
        if self.click_before_reply and actions:
            self.ActionInvoked(100 + len(self.calls), self.click_before_reply)
        return 100 + len(self.calls)

    @method()
    def GetCapabilities(self) -> "as":
        return ["body", "actions"]

    @signal()
    def ActionInvoked(self, id: "u", action_key: "s") -> "us":
        return [id, action_key]

    @method()
    def GetServerInformation(self) -> "ssss":
        return ["spinewise-test", "spinewise", "0", "1.2"]


class SessionBus:
    """dbus-daemon --session on a socket in ``run_dir``; ``serve()`` adds the service."""

    def __init__(self, run_dir: Path):
        self.socket = Path(run_dir) / "session_bus.sock"
        self.address = f"unix:path={self.socket}"
        self.proc = None
        self.service = None
        self._loop = None
        self._thread = None

    @staticmethod
    def available() -> bool:
        return shutil.which("dbus-daemon") is not None

    def start(self, timeout_s: float = 10.0):
        self.proc = subprocess.Popen(["dbus-daemon", "--session", f"--address={self.address}",
                                      "--nofork", "--nopidfile"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + timeout_s
        while not self.socket.exists():
            if time.monotonic() > end or self.proc.poll() is not None:
                raise RuntimeError("dbus-daemon did not start")
            time.sleep(0.02)
        return self

    def serve(self) -> Notifications:
        ready = threading.Event()
        self.service = Notifications()

        async def main():
            bus = await MessageBus(bus_address=self.address).connect()
            bus.export("/org/freedesktop/Notifications", self.service)
            await bus.request_name(NAME)
            ready.set()
            await bus.wait_for_disconnect()

        def run():
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(main())
            except Exception:
                pass

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(10), "notification service did not start"
        return self.service

    def click(self, notification_id: int, action_key: str) -> None:
        """The person clicks an action button: the server emits ActionInvoked."""
        self._loop.call_soon_threadsafe(self.service.ActionInvoked, notification_id, action_key)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
        if self._thread is not None:
            self._thread.join(5)
