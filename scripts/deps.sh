#!/usr/bin/env bash
# Installs the Debian packages vigil needs, only the missing ones.
# usage: scripts/deps.sh [build|test|bench]   (each set includes the ones before it)
set -euo pipefail
set_name=${1:-build}
pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libcjson-dev libsqlite3-dev
      libinih-dev libcurl4-openssl-dev libcmocka-dev uthash-dev sqlite3 libpq-dev)
case "$set_name" in
  build) ;;
  test)  pkgs+=(python3 curl postgresql prometheus-alertmanager python3-aiosmtpd) ;;
  bench) pkgs+=(python3 curl postgresql wrk nginx-light util-linux procps) ;;
  *) echo "deps.sh: unknown set '$set_name' (build|test|bench)" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
