#!/bin/sh
# Create the secrets and the Mosquitto password file for deploy/compose.yaml (idempotent:
# existing secrets are kept). Usage:
#   deploy/setup-secrets.sh [login ...]
# Each login (a sensor's device id, or a person's user id) gets an MQTT account with a
# random password, printed once.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
secrets="$here/secrets"
passwd="$here/mosquitto/passwd"
umask 077
mkdir -p "$secrets"
chmod 700 "$secrets"

random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

new_secret() {   # new_secret NAME: create secrets/NAME unless it exists
    if [ ! -s "$secrets/$1" ]; then
        random > "$secrets/$1"
        echo "created deploy/secrets/$1"
    fi
    # containers run as their own users: the file must be readable, the folder is not
    chmod 644 "$secrets/$1"
}

new_secret influxdb-admin-password
new_secret influxdb-token
new_secret grafana-admin-password
new_secret mqtt-pipeline-password

mosquitto_passwd_cmd() {
    if command -v mosquitto_passwd >/dev/null 2>&1; then
        mosquitto_passwd "$@"
    else
        docker run --rm -v "$here/mosquitto:/m" eclipse-mosquitto:2.0 mosquitto_passwd "$@"
    fi
}
path_for_cmd() { command -v mosquitto_passwd >/dev/null 2>&1 && echo "$passwd" || echo /m/passwd; }

[ -f "$passwd" ] || : > "$passwd"
mosquitto_passwd_cmd -b "$(path_for_cmd)" spinewise-pipeline "$(cat "$secrets/mqtt-pipeline-password")"

for name in "$@"; do
    pw=$(random)
    mosquitto_passwd_cmd -b "$(path_for_cmd)" "$name" "$pw"
    echo "MQTT login: username=$name password=$pw   (put it in that gateway's / app's config)"
done
# Mosquitto reads it as user "mosquitto" (uid 1883 in the official image) and warns about
# (future versions refuse) world-readable password files.
if [ "$(id -u)" = 0 ]; then
    chown 1883:1883 "$passwd" && chmod 600 "$passwd"
else
    chmod 644 "$passwd"
fi
echo "done: docker compose -f deploy/compose.yaml up -d"
