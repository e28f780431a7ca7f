#!/bin/sh
# Installs the Debian 12 packages glm-free-api needs, only those missing.
#   install-deps.sh           build and run
#   install-deps.sh --test    also what the tests need (node, npm, the e2e client)
#   install-deps.sh --runtime only the shared libraries (for a slim image)
set -eu
cd "$(dirname "$0")/.."

build_pkgs="gcc make pkg-config libevent-dev libcurl4-openssl-dev libjansson-dev libssl-dev libsqlite3-dev libhiredis-dev ca-certificates"
runtime_pkgs="libevent-2.1-7 libevent-core-2.1-7 libevent-extra-2.1-7 libcurl4 libjansson4 libssl3 libsqlite3-0 libhiredis0.14 ca-certificates"
test_pkgs="nodejs npm curl redis-server chromium"
bench_pkgs="wrk curl"
extra_pkgs="clang libclang-rt-14-dev valgrind cppcheck"

mode=${1:-}
case "$mode" in
    --runtime) want=$runtime_pkgs ;;
    --test) want="$build_pkgs $test_pkgs" ;;
    --bench) want="$build_pkgs $bench_pkgs" ;;
    --ci) want="$build_pkgs $test_pkgs $extra_pkgs" ;;
    "") want=$build_pkgs ;;
    *) echo "usage: $0 [--test|--bench|--ci|--runtime]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    # node may come from elsewhere than Debian's package (a newer build): accept it.
    if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done

if [ -n "$missing" ]; then
    echo "installing:$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

if { [ "$mode" = --test ] || [ "$mode" = --ci ]; } && [ -f tests/e2e/package-lock.json ]; then
    if [ ! -d tests/e2e/node_modules ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules ]; then
        (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
    fi
fi
