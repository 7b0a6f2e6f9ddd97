#!/usr/bin/env bash
# Install the Debian packages twin needs, only those missing (fast when all are there).
#   demo: SpatiaLite, PROJ, GEOS and GDAL (pyproj, shapely and pyogrio are built against these,
#         so one copy of each library lives in the process: mixing a wheel's bundled PROJ with
#         SpatiaLite's crashes at exit), Node.js for the CesiumJS assets.
#   test: demo + PostgreSQL/PostGIS, Mosquitto, Chromium.
set -euo pipefail
need=(libsqlite3-mod-spatialite libproj-dev proj-bin proj-data libgeos-dev libgdal-dev gdal-bin build-essential)
command -v npm >/dev/null || need+=(nodejs npm)
if [ "${1:-demo}" = test ]; then
  need+=(postgresql postgresql-15-postgis-3 mosquitto mosquitto-clients chromium fonts-dejavu-core)
fi
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
