#!/usr/bin/env bash
# Start Mosquitto on 127.0.0.1:1883 with scripts/mosquitto.conf, unless one already answers.
set -euo pipefail
cd "$(dirname "$0")/.."
if (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  echo "MQTT broker already listening on 127.0.0.1:1883"
  exit 0
fi
mosquitto -d -c scripts/mosquitto.conf
for _ in $(seq 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
    echo "Mosquitto ready on 127.0.0.1:1883"
    exit 0
  fi
  sleep 0.1
done
echo "Mosquitto did not start" >&2
exit 1
