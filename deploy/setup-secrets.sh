#!/bin/sh
# Create the secrets, the Mosquitto ACL and the Mosquitto password file for deploy/compose.yaml
# from deploy/spinewise.toml (idempotent: existing secrets and passwords are kept). Usage:
#   deploy/setup-secrets.sh
# Every sensor ([[devices]]), person ([[users]]) and carer ([[carers]]) in the config gets an
# MQTT login with a random password in deploy/secrets/mqtt/<login> (mode 600). Add a sensor or
# a person to the config and run it again; then reload Mosquitto
# (docker compose -f deploy/compose.yaml kill -s HUP mosquitto).
# The broker's TLS listener (8883) gets an own CA (key in deploy/secrets/tls-ca.key) and a
# server certificate in deploy/mosquitto/certs/ unless server.crt exists there; its names are
# localhost, mosquitto, this host's name and SPINEWISE_TLS_HOSTS (space-separated names or IPv4
# addresses). Clients verify it with deploy/mosquitto/certs/ca.crt.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
secrets="$here/secrets"
config="${SPINEWISE_CONFIG:-$here/spinewise.toml}"
case "${1:-}" in
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
if [ "$#" -gt 0 ]; then
    echo "setup-secrets.sh takes no arguments any more: logins come from $config" >&2
    echo "(add [[devices]] / [[users]] entries there, then run it again)" >&2
    exit 2
fi

umask 077
mkdir -p "$secrets"
chmod 700 "$secrets"

random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

new_secret() {   # new_secret NAME: create secrets/NAME unless it exists
    if [ ! -s "$secrets/$1" ]; then
        random > "$secrets/$1"
        echo "created deploy/secrets/$1"
    fi
    # The containers read these as their own users (Grafana uid 472, InfluxDB's init as root)
    # through bind-mounted compose secrets, so the file must be readable; the folder (700)
    # keeps other host users out.
    chmod 644 "$secrets/$1"
}

new_secret influxdb-admin-password
new_secret influxdb-token
new_secret grafana-admin-password
new_secret mqtt-pipeline-password
new_secret influxdb-pipeline-password     # write-only InfluxDB login of the pipeline
new_secret influxdb-grafana-password      # read-only InfluxDB login of Grafana

# The ACL and password file come from the access model (spinewise/access.py): an installed
# spinewise, else this checkout with the system Python (the model is stdlib only). Passwords
# are hashed in-process and never appear on a command line.
if command -v spinewise >/dev/null 2>&1; then
    acl() { spinewise --config "$config" acl "$@"; }
else
    acl() { PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" python3 -m spinewise.commands.acl \
                --config "$config" "$@"; }
fi
acl --out "$here/mosquitto" --secrets "$secrets" \
    --pipeline-password-file "$secrets/mqtt-pipeline-password"

# TLS for the broker: an own CA and a server certificate (kept if present: a Let's Encrypt
# certificate copied here is never overwritten). docs/deploy.md, "TLS for the broker".
certs="$here/mosquitto/certs"
if [ ! -s "$certs/server.crt" ]; then
    if ! command -v openssl >/dev/null 2>&1; then
        echo "error: openssl is needed for the broker's TLS certificate (or put server.crt and" >&2
        echo "server.key in $certs yourself, see docs/deploy.md)" >&2
        exit 1
    fi
    mkdir -p "$certs"
    if [ ! -s "$secrets/tls-ca.key" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
            -keyout "$secrets/tls-ca.key" -out "$certs/ca.crt" -subj "/CN=spinewise home CA" \
            2>/dev/null
        echo "created deploy/secrets/tls-ca.key and deploy/mosquitto/certs/ca.crt (own CA)"
    fi
    san="DNS:localhost,DNS:mosquitto,IP:127.0.0.1"
    for name in $(hostname 2>/dev/null || true) ${SPINEWISE_TLS_HOSTS:-}; do
        case "$name" in
            *[!0-9.]*) san="$san,DNS:$name" ;;
            *) san="$san,IP:$name" ;;
        esac
    done
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > "$certs/server.ext"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$certs/server.key" -out "$certs/server.csr" -subj "/CN=spinewise broker" 2>/dev/null
    openssl x509 -req -in "$certs/server.csr" -CA "$certs/ca.crt" -CAkey "$secrets/tls-ca.key" \
        -CAcreateserial -CAserial "$secrets/tls-ca.srl" -days 825 -extfile "$certs/server.ext" \
        -out "$certs/server.crt" 2>/dev/null
    rm -f "$certs/server.csr" "$certs/server.ext"
    chmod 644 "$certs/ca.crt" "$certs/server.crt"
    echo "created deploy/mosquitto/certs/server.crt for $san"
fi

# Mosquitto reads the password file as user "mosquitto" (uid 1883 in the official image).
passwd="$here/mosquitto/passwd"
if [ "$(id -u)" = 0 ]; then
    chown 1883:1883 "$passwd" "$certs/server.key"
    chmod 600 "$passwd" "$certs/server.key"
else
    # Not root: the container's mosquitto user cannot read a 600 file owned by you. Rerun as
    # root (sudo) to make it 600 and owned by uid 1883.
    chmod 644 "$passwd" "$certs/server.key"
    echo "note: $passwd and $certs/server.key are 644; run as root for 600 owned by the broker (uid 1883)" >&2
fi
echo "done: docker compose -f deploy/compose.yaml up -d"
