#!/usr/bin/env bash
# Runs every test against the binaries in $1 (default build/asan) and ends with
# the line "N passed, N failed". Unit binaries and the e2e suite speak TAP.
set -uo pipefail
cd "$(dirname "$0")/.."
O=${1:-build/asan}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export GLM_BIN=$PWD/$O/glm-free-api MOCK_BIN=$PWD/$O/tests/mock-chatglm

passed=0 failed=0 skipped=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# count FILE: adds the TAP results of FILE to the totals; a binary that
# crashed or printed no plan counts as one failure.
count() {
    local f=$1 status=$2 name=$3
    local ok nok skip
    ok=$(grep -cE '^ *ok [0-9]+' "$f" | head -1)
    skip=$(grep -cE '^ *ok [0-9]+.*# (SKIP|skip)' "$f")
    nok=$(grep -cE '^ *not ok [0-9]+' "$f")
    passed=$((passed + ok - skip)); failed=$((failed + nok)); skipped=$((skipped + skip))
    if [ "$status" -ne 0 ] && [ "$nok" -eq 0 ]; then
        echo "FAIL $name exited with status $status"
        failed=$((failed + 1))
    fi
}

for t in "$O"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    "$t" >"$log/$name.tap" 2>&1
    status=$?
    grep -E '^(not ok|#)' "$log/$name.tap" | grep -v '^# SKIP' | sed "s/^/[$name] /"
    echo "$name: $(grep -cE '^ok ' "$log/$name.tap") ok, $(grep -cE '^not ok ' "$log/$name.tap") not ok"
    count "$log/$name.tap" $status "$name"
done

if [ -f tests/e2e/package.json ]; then
    if [ -d tests/e2e/node_modules ]; then
        (cd tests/e2e && node --test --test-reporter=tap --test-concurrency=1 test/) >"$log/e2e.tap" 2>&1
        status=$?
        grep -E '^ *not ok|^# (pass|fail)' "$log/e2e.tap"
        # Only the top-level file results count, not their subtests twice.
        e2e_ok=$(grep -E '^# pass ' "$log/e2e.tap" | awk '{print $3}')
        e2e_fail=$(grep -E '^# fail ' "$log/e2e.tap" | awk '{print $3}')
        e2e_skip=$(grep -E '^# skipped ' "$log/e2e.tap" | awk '{print $3}')
        passed=$((passed + ${e2e_ok:-0})); failed=$((failed + ${e2e_fail:-0})); skipped=$((skipped + ${e2e_skip:-0}))
        if [ "$status" -ne 0 ] && [ "${e2e_fail:-0}" -eq 0 ]; then
            echo "FAIL e2e exited with status $status"; tail -40 "$log/e2e.tap"; failed=$((failed + 1))
        fi
        echo "e2e: ${e2e_ok:-0} ok, ${e2e_fail:-0} not ok"
        [ -n "${KEEP_E2E_LOG:-}" ] && cp "$log/e2e.tap" "$KEEP_E2E_LOG"
    else
        echo "FAIL e2e: tests/e2e/node_modules missing (run scripts/install-deps.sh --test)"
        failed=$((failed + 1))
    fi
fi

if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
