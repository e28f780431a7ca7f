#!/bin/sh
# Development helper: builds one unit test from the listed sources with
# ASan+UBSan, independent of the rest of the tree, and runs it.
#   scripts/unit.sh tests/unit/test_sse.c src/stream/sse.c src/util/buf.c ...
set -eu
cd "$(dirname "$0")/.."
test=$1; shift
out=build/dev/$(basename "$test" .c)
mkdir -p build/dev
${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wwrite-strings \
    -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
    -Isrc $(pkg-config --cflags libevent libcurl jansson libcrypto sqlite3 hiredis) \
    -o "$out" "$test" "$@" $(pkg-config --libs libevent libcurl jansson libcrypto sqlite3 hiredis) -lm
"$out"
