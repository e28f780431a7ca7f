#!/usr/bin/env bash
# Static analysis of src/: gcc's -fanalyzer on every file, cppcheck, and the
# include rules of docs/layout.md (scripts/check-layers.sh).
# The goal is zero findings. A finding that is wrong gets a justification
# where it is silenced: for cppcheck a line in scripts/cppcheck.supp with the
# reason above it; for the analyzer a comment and a pragma at the spot (or
# better, code that makes the fact plain).
#   scripts/analyze.sh            all three
#   scripts/analyze.sh gcc|cppcheck|layers
# (layers: the include rules of docs/layout.md, scripts/check-layers.sh)
set -uo pipefail
cd "$(dirname "$0")/.."
O=build/analyze
mkdir -p "$O"
what=${1:-all}
PKGS="libevent libcurl jansson libcrypto sqlite3 hiredis"
status=0

if [ "$what" = all ] || [ "$what" = gcc ]; then
    echo "analyze: gcc -fanalyzer over src/"
    # Each file on its own (the analyzer works per translation unit), two at
    # a time; -Werror makes every analyzer warning a failure.
    find src -name '*.c' | sort | xargs -P "$(nproc)" -I{} sh -c '
        out='"$O"'/$(echo {} | tr / _).log
        gcc -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wwrite-strings \
            -O1 -fanalyzer -Isrc -DGLM_VERSION=\"analyze\" '"$(pkg-config --cflags $PKGS)"' \
            -c -o /dev/null {} >"$out" 2>&1 || { echo "analyze: gcc -fanalyzer: findings in {}"; cat "$out"; exit 1; }'
    [ $? -eq 0 ] || status=1
fi

if [ "$what" = all ] || [ "$what" = layers ]; then
    echo "analyze: the dependency rules of docs/layout.md"
    ./scripts/check-layers.sh || status=1
fi

if [ "$what" = all ] || [ "$what" = cppcheck ]; then
    echo "analyze: cppcheck over src/"
    command -v cppcheck >/dev/null || { echo "analyze: cppcheck is missing (scripts/install-deps.sh --ci)"; exit 1; }
    # System headers are not read (their macros would only slow it down).
    # The checks for bugs: errors (always on), warning, performance and
    # portability. The "style" class is left out on purpose: its findings
    # (variable scope, const parameters, unread values) are taste, not bugs.
    if ! cppcheck --quiet --std=c11 -j "$(nproc)" --error-exitcode=1 --inline-suppr \
            --enable=warning,performance,portability --suppress=missingIncludeSystem \
            --suppressions-list=scripts/cppcheck.supp -DGLM_VERSION=\"analyze\" \
            -Isrc --template='{file}:{line}: {severity} ({id}): {message}' \
            src 2>"$O/cppcheck.log"; then
        echo "analyze: cppcheck findings:"
        cat "$O/cppcheck.log"
        status=1
    elif [ -s "$O/cppcheck.log" ]; then
        cat "$O/cppcheck.log"
    fi
fi

[ $status -eq 0 ] && echo "analyze: no findings"
exit $status
