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
