#!/bin/sh
# The RUN steps of deploy/Dockerfile, kept here so that CI runs them too
# (tests/e2e/test/ops.test.js): what the image runs is what the tests ran.
#   docker-build-steps.sh build DESTDIR     build stage: build packages, a
#       release build, `make install` into DESTDIR (PREFIX /usr/local)
#   docker-build-steps.sh check-runtime BIN final stage, part 1: the runtime
#       libraries (install-deps.sh --runtime), then checks that each library
#       BIN links to comes from one of them, so the slim image cannot lack one
#   docker-build-steps.sh runtime BIN       final stage: check-runtime, then the
#       unprivileged user "glm" (uid 10001) and its data directory /data
set -eu
cd "$(dirname "$0")/.."

usage() {
    echo "usage: $0 build DESTDIR | check-runtime BIN | runtime BIN" >&2
    exit 2
}

# The runtime package list of install-deps.sh (the one list there is).
runtime_packages() {
    sed -n 's/^runtime_pkgs="\(.*\)"$/\1/p' scripts/install-deps.sh
}

check_runtime() {
    bin=$1
    ./scripts/install-deps.sh --runtime
    want=$(runtime_packages)
    [ -n "$want" ] || { echo "no runtime_pkgs line in scripts/install-deps.sh" >&2; exit 1; }
    missing=$(ldd "$bin" | grep 'not found' || true)
    [ -z "$missing" ] || { echo "$bin: unresolved libraries:" >&2; echo "$missing" >&2; exit 1; }
    # In the slim image the ldd check above is the one that matters. Where
    # more is installed (CI), each library named in BIN's NEEDED entries must
    # come from a listed package (their own dependencies come with them).
    command -v objdump >/dev/null 2>&1 || return 0
    # glibc's own libraries are in every image.
    libs=$(objdump -p "$bin" | awk '$1 == "NEEDED" && $2 !~ /^(libc|libm|libpthread|libdl|librt|ld-linux.*)\.so/ { print $2 }')
    [ -n "$libs" ] || return 0
    # One dpkg call for all: "package:arch: path" lines.
    owners=$(for lib in $libs; do printf '*/%s\n' "$lib"; done | xargs dpkg -S 2>/dev/null || true)
    bad=0
    for lib in $libs; do
        pkg=$(echo "$owners" | awk -v l="/$lib" 'substr($NF, length($NF) - length(l) + 1) == l { sub(/[:,].*/, "", $1); print $1; exit }')
        if [ -z "$pkg" ] || ! echo " $want " | grep -q " $pkg "; then
            echo "$bin needs $lib (package \"${pkg:-unknown}\"), which install-deps.sh --runtime lacks" >&2
            bad=1
        fi
    done
    [ "$bad" -eq 0 ]
}

case "${1:-}" in
build)
    [ $# -eq 2 ] || usage
    ./scripts/install-deps.sh
    make BUILD=release all
    make BUILD=release install DESTDIR="$2" PREFIX=/usr/local
    ;;
check-runtime)
    [ $# -eq 2 ] || usage
    check_runtime "$2"
    ;;
runtime)
    [ $# -eq 2 ] || usage
    check_runtime "$2"
    rm -rf /var/lib/apt/lists/*
    id glm >/dev/null 2>&1 ||
        useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
            --shell /usr/sbin/nologin glm
    install -d -o glm -g glm -m 0700 /data
    ;;
*)
    usage
    ;;
esac
