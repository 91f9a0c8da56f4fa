#!/bin/sh
# Runs once, right after InfluxDB's first-time setup (docker-entrypoint-initdb.d).
# Maps database "spinewise" / retention policy "autogen" to the bucket, so that Grafana's
# InfluxQL queries (and InfluxDB 1.x tools) read the bucket the pipeline writes to.
# Recent 2.x releases also create a "virtual" mapping per bucket; an explicit one works on
# every 2.x release and survives a bucket rename.
set -eu
bucket="${DOCKER_INFLUXDB_INIT_BUCKET}"
# the entrypoint exports the new bucket's id (and INFLUX_CONFIGS_PATH with the operator
# token) to init scripts; look the id up should an image not export it
bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:-$(influx bucket list --name "$bucket" --hide-headers | awk '{print $1}')}"
influx v1 dbrp create --bucket-id "$bucket_id" --db "$bucket" --rp autogen --default \
    --org "${DOCKER_INFLUXDB_INIT_ORG}"
echo "spinewise: InfluxQL database '$bucket' (rp autogen) -> bucket $bucket_id"
