"""Thin adapters that put line-protocol lines into a database.

Each backend has ``write_lines(lines)`` and ``close()``. It raises ``TransientWriteError``
when the lines should be kept and retried (server down, 5xx, auth not yet fixed) and
``RejectedWriteError`` when the server refused them for good (HTTP 400: unparseable line or
field-type conflict; InfluxDB has then written the valid lines of the batch), so one bad line
can never block the spool forever.
"""
from __future__ import annotations

import base64
import logging
import urllib.error
import urllib.parse
import urllib.request

log = logging.getLogger(__name__)


class WriteError(Exception):
    pass


class TransientWriteError(WriteError):
    """Keep the lines and try again later."""


class RejectedWriteError(WriteError):
    """The server refused the lines for good; retrying cannot help."""


def _classify(status: int, body: str, where: str) -> WriteError:
    body = (body or "").strip().replace("\n", " ")[:300]
    if status == 400 or status == 422:
        return RejectedWriteError(f"{where}: HTTP {status}: {body}")
    if status == 413:
        return RejectedWriteError(f"{where}: HTTP 413 request too large")
    return TransientWriteError(f"{where}: HTTP {status}: {body}")


class InfluxV1Backend:
    """InfluxDB 1.x ``/write`` (database, retention policy, user/password) over urllib.

    The same line protocol as v2; works with every 1.x (1.0 to 1.11) and with 2.x's v1
    compatibility API. A missing database is created once (InfluxDB answers 404).
    """

    def __init__(self, url: str, database: str, retention_policy: str = "", username: str = "",
                 password: str = "", timeout_s: float = 10.0, create_database: bool = True) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        self.timeout_s = timeout_s
        self._create = create_database
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if username:
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"   # not in the URL: URLs get logged

    def _request(self, path: str, params: dict, body: bytes) -> tuple[int, str]:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        req = urllib.request.Request(url, data=body, headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransientWriteError(f"InfluxDB v1 {self.url}: {reason}") from None

    def write_lines(self, lines: list[str]) -> None:
        if not lines:
            return
        params = {"db": self.database, "precision": "ns"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        body = ("\n".join(lines) + "\n").encode()
        status, text = self._request("/write", params, body)
        if status == 404 and self._create and "database not found" in text:
            self._create = False
            log.info("InfluxDB v1: creating database %r", self.database)
            q = 'CREATE DATABASE "{}"'.format(self.database.replace('"', '\\"'))
            self._request("/query", {"q": q}, b"")
            status, text = self._request("/write", params, body)
        if status not in (200, 204):
            raise _classify(status, text, f"InfluxDB v1 {self.url}")

    def close(self) -> None:
        pass


class InfluxV2Backend:
    """InfluxDB 2.x / 3.x / 1.8+ (and VictoriaMetrics) through ``influxdb-client``.

    Synchronous writes with the client's own retries off: the spool is the retry mechanism,
    so a failure is reported at once and nothing is held only in memory.
    """

    def __init__(self, url: str, token: str, org: str, bucket: str, timeout_s: float = 10.0) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.url, self.org, self.bucket = url, org, bucket
        self._client = InfluxDBClient(url=url, token=token or None, org=org,
                                      timeout=int(timeout_s * 1000), enable_gzip=True)
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

    def write_lines(self, lines: list[str]) -> None:
        from influxdb_client.client.write.point import WritePrecision
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError

        if not lines:
            return
        try:
            self._write.write(bucket=self.bucket, org=self.org, record=lines,
                              write_precision=WritePrecision.NS)
        except ApiException as exc:
            raise _classify(exc.status or 0, exc.body or exc.reason or "", f"InfluxDB v2 {self.url}") from None
        except (HTTPError, OSError) as exc:
            raise TransientWriteError(f"InfluxDB v2 {self.url}: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self._client.close()
