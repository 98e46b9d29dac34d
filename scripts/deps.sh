#!/usr/bin/env bash
# Installs the Debian packages vigil needs, only the missing ones, then the
# dashboard's npm packages (web/node_modules: uPlot, embedded into vigild at
# build time, and playwright-core for the browser test) when missing or when
# web/package-lock.json changed.
# usage: scripts/deps.sh [build|test|bench]   (each set includes the ones before it)
set -euo pipefail
set_name=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libcjson-dev libsqlite3-dev
      libinih-dev libcurl4-openssl-dev libcmocka-dev uthash-dev sqlite3 libpq-dev
      liburing-dev)
# Node.js and npm: Debian's, unless the machine already has a node and npm
# (another build of Node.js ships npm itself and conflicts with Debian's npm).
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
# bench/compare.sh's servers and tools; in the test set too, for its ctest smoke (bench.smoke)
bench_pkgs=(python3 curl postgresql wrk nginx-light util-linux procps redis-server redis-tools
            prometheus-pushgateway etcd-server etcd-client gnuplot-nox valgrind)
case "$set_name" in
  build) ;;
  # clang + libclang-rt-14-dev (libclang_rt.fuzzer, ASan, UBSan): scripts/fuzz.sh, run by make test.
  test)  pkgs+=(prometheus-alertmanager prometheus python3-aiosmtpd chromium clang libclang-rt-14-dev
                "${bench_pkgs[@]}") ;;
  bench) pkgs+=("${bench_pkgs[@]}") ;;
  *) echo "deps.sh: unknown set '$set_name' (build|test|bench)" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps.sh: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# npm ci (exactly the committed lockfile) when node_modules is missing or was
# installed from another lockfile; the stamp holds the lockfile's hash.
web=$root/web
stamp=$web/node_modules/.vigil-lock.sha256
want=$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "deps.sh: npm ci in web/ (uPlot for the dashboard, playwright-core for its test)"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$stamp"
fi
