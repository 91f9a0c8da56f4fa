#!/bin/sh
# Runs once, after 10-dbrp.sh (docker-entrypoint-initdb.d, in name order): least-privilege
# logins for the services, so that neither holds the operator token.
#   spinewise-pipeline  writes the bucket, cannot read it (nor any other bucket)
#   spinewise-grafana   reads the bucket, cannot write it
# They are InfluxDB v1-compatibility logins (user + password, scoped to the bucket): the
# pipeline writes with [influx] backend = "v1" and Grafana's InfluxQL data source logs in
# with them. The passwords are Docker secrets made by deploy/setup-secrets.sh; they are given
# to the influx CLI inside this one-shot init container only. The same two users on InfluxDB
# 1.x: docs/deploy.md, "InfluxDB 1.x instead of 2.x".
set -eu
secrets="${SPINEWISE_SECRETS_DIR:-/run/secrets}"
bucket="${DOCKER_INFLUXDB_INIT_BUCKET}"
org="${DOCKER_INFLUXDB_INIT_ORG}"
bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:-$(influx bucket list --name "$bucket" --hide-headers | awk '{print $1}')}"
influx v1 auth create --org "$org" --username spinewise-pipeline \
    --password "$(cat "$secrets/influxdb-pipeline-password")" \
    --write-bucket "$bucket_id" --description "spinewise pipeline: write only"
influx v1 auth create --org "$org" --username spinewise-grafana \
    --password "$(cat "$secrets/influxdb-grafana-password")" \
    --read-bucket "$bucket_id" --description "Grafana: read only"
echo "spinewise: logins spinewise-pipeline (write) and spinewise-grafana (read) on bucket $bucket_id"
