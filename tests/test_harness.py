"""The harness itself: fixtures hand out reachable servers."""
from tests.servers import port_open


def test_mqtt_server_reachable(mqtt_server):
    assert port_open(mqtt_server.port)


def test_influxdb_ping(influxdb_v1):
    assert influxdb_v1.ready()
    influxdb_v1.create_database("harness")
    assert "harness" in str(influxdb_v1.query("SHOW DATABASES"))


def test_victoria_health(victoria_metrics):
    assert victoria_metrics.ready()


def test_free_ports_are_distinct_and_below_the_ephemeral_range():
    from tests.servers import free_port
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(20000 <= p < 32000 for p in ports)


def test_nats_cluster_retries_a_node_whose_port_was_taken(tmp_path):
    """A port picked for a node but taken before it binds (CI once lost a cluster start to this)
    costs an attempt on fresh ports, not the test."""
    import socket

    from tests.servers import NatsCluster, NatsServer, missing
    if not NatsServer.available():
        missing("nats-server is not installed (/usr/sbin/nats-server); run scripts/bootstrap --test")
    cluster = NatsCluster(tmp_path / "cluster", 3)
    taken = cluster.nodes[1].port
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", taken))
    squatter.listen()
    try:
        cluster.start()
        assert all(n.ready() for n in cluster.nodes)
        assert taken not in [n.port for n in cluster.nodes]
    finally:
        cluster.stop()
        squatter.close()
