"""A nats-server configuration for spinewise's engine mode: JetStream, the MQTT listener the
gateways publish to, and the subject mapping that partitions sensor messages by device.

    python -m spinewise.engine.serverconf --name n1 --store-dir /var/lib/nats \
        [--cluster-port 6222 --route nats-route://n2:6222 ...] > nats.conf

Used by the test harness (tests/servers.py) and deploy/ alike, so what is tested is what is
shipped. The MQTT listener needs JetStream and a ``server_name`` (it keeps MQTT sessions and
QoS 1 messages in streams of its own). ``max_payload`` is raised so that one device's state
snapshot (a few hundred kB of Analyzer state) fits a key-value entry.
"""
from __future__ import annotations

import argparse
import json

from spinewise.engine.subjects import mappings

MAX_PAYLOAD = 8 * 1024 * 1024
MQTT_REPLICAS = 3


def server_conf(*, name: str, port: int, mqtt_port: int, store_dir: str, prefix: str = "spinewise",
                partitions: int = 16, host: str = "127.0.0.1", cluster_port: int | None = None,
                routes: tuple[str, ...] = (), cluster_name: str = "spinewise",
                http_port: int | None = None) -> str:
    maps = "\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in mappings(prefix, partitions).items())
    text = (f"server_name: {json.dumps(name)}\n"
            f"listen: {json.dumps(f'{host}:{port}')}\n"
            f"max_payload: {MAX_PAYLOAD}\n"
            + (f"http: {json.dumps(f'{host}:{http_port}')}\n" if http_port else "") +
            f"jetstream {{\n  store_dir: {json.dumps(store_dir)}\n}}\n"
            f"mqtt {{\n  listen: {json.dumps(f'{host}:{mqtt_port}')}\n"
            # the MQTT listener's own streams (sessions, QoS 1 messages: the input stream
            # sources the latter) on 3 nodes; by default it takes the number of routes
            # listed, 2 in a 3-node cluster whose nodes list their peers, which stalls
            # every acknowledgement while one node is down
            + (f"  stream_replicas: {MQTT_REPLICAS}\n" if cluster_port is not None else "") +
            "}\n"
            f"mappings = {{\n{maps}\n}}\n")
    if cluster_port is not None:
        rts = "\n".join(f"    {json.dumps(r)}" for r in routes)
        text += (f"cluster {{\n  name: {json.dumps(cluster_name)}\n"
                 f"  listen: {json.dumps(f'{host}:{cluster_port}')}\n  routes: [\n{rts}\n  ]\n}}\n")
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--store-dir", required=True)
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=4222)
    ap.add_argument("--mqtt-port", type=int, default=1883)
    ap.add_argument("--prefix", default="spinewise")
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--cluster-port", type=int)
    ap.add_argument("--route", action="append", default=[])
    a = ap.parse_args(argv)
    print(server_conf(name=a.name, port=a.port, mqtt_port=a.mqtt_port, store_dir=a.store_dir,
                      prefix=a.prefix, partitions=a.partitions, host=a.host,
                      cluster_port=a.cluster_port, routes=tuple(a.route)), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
