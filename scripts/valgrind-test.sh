#!/usr/bin/env bash
# The whole test suite once under valgrind memcheck: every unit test, and the
# e2e suite with the server and the mock under valgrind (the harness's
# GLM_WRAP). Runs the build/debug binaries (make valgrind-test builds them).
# tests/run.sh runs unchanged: the unit tests are reached through small
# wrappers in build/valgrind/bin, and GLM_BIN/MOCK_BIN stay the ASan build's
# paths (tests that inspect the binary file, as the deploy check does, see
# what make test shows them) while the GLM_WRAP script runs the debug twin of
# whatever it is given. Every process writes its own valgrind log.
# Fails on any valgrind error (invalid access, uninitialised value, definite
# or indirect leak, bad free) in any process, or any failed test. Ends with
# "N passed, N failed" (a process with valgrind errors counts as a failure).
#   scripts/valgrind-test.sh [tests/e2e/test/FILE.test.js...]   only those e2e files
set -uo pipefail
cd "$(dirname "$0")/.."
O=build/debug
V=build/valgrind
command -v valgrind >/dev/null || { echo "valgrind-test: valgrind is missing (scripts/install-deps.sh --ci)"; exit 1; }
[ -x "$O/glm-free-api" ] || { echo "valgrind-test: build it first: make BUILD=debug all units"; exit 1; }
[ -x build/asan/glm-free-api ] || make -s BUILD=asan all units >/dev/null || exit 1

rm -rf "$V"
mkdir -p "$V/bin/tests" "$V/logs"
# --vgdb=no: no gdbserver pipes in $TMPDIR (tests check that it stays clean).
# --child-silent-after-fork: a test that forks and execs a helper (test_redis
# starts redis-server) would otherwise leave a log without a summary, which
# counts as a failure below.
vg() {
    echo "valgrind --vgdb=no --child-silent-after-fork=yes --error-exitcode=99 --leak-check=full" \
         "--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect" \
         "--num-callers=30 --suppressions=$PWD/scripts/valgrind.supp --log-file=$PWD/$V/logs/$1.%p.log"
}

# The binaries as tests/run.sh expects them: the server and the mock as the
# ASan build's (the harness wraps them), each unit test behind a wrapper.
ln -s "$PWD/build/asan/glm-free-api" "$V/bin/glm-free-api"
ln -s "$PWD/build/asan/tests/mock-chatglm" "$V/bin/tests/mock-chatglm"
cat >"$V/vg" <<WRAP
#!/bin/sh
# GLM_WRAP: runs the build/debug twin of the binary it is given under valgrind.
bin=\$(readlink -f "\$1" | sed 's|/build/asan/|/build/debug/|')
shift
exec $(vg '${bin##*/}') "\$bin" "\$@"
WRAP
chmod +x "$V/vg"
for t in "$O"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$(vg "$name")" "$PWD/$t" >"$V/bin/tests/$name"
    chmod +x "$V/bin/tests/$name"
done

# Valgrind is 20-50 times slower: fewer soak requests; no sanitizer options.
export GLM_WRAP=$PWD/$V/vg
export SOAK_REQUESTS=${SOAK_REQUESTS:-1000}
unset ASAN_OPTIONS UBSAN_OPTIONS
out=$V/run.log
if [ $# -gt 0 ]; then
    export GLM_BIN=$PWD/$V/bin/glm-free-api MOCK_BIN=$PWD/$V/bin/tests/mock-chatglm
    files=()
    for f in "$@"; do files+=("${f#tests/e2e/}"); done
    (cd tests/e2e && node --test --test-reporter=spec --test-concurrency=1 "${files[@]}") 2>&1 | tee "$out"
    status=${PIPESTATUS[0]}
    passed=$(sed -n 's/^ℹ pass //p' "$out" | tail -1)
    failed=$(sed -n 's/^ℹ fail //p' "$out" | tail -1)
else
    ./tests/run.sh "$V/bin" 2>&1 | tee "$out"
    status=${PIPESTATUS[0]}
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    passed=$(echo "$summary" | awk '{print $1}')
    failed=$(echo "$summary" | awk '{print $3}' | tr -d ,)
fi

# Every process's verdict: valgrind's last line is "ERROR SUMMARY: N errors".
nlogs=$(find "$V/logs" -name '*.log' | wc -l)
bad=$(grep -L 'ERROR SUMMARY: 0 errors' "$V"/logs/*.log 2>/dev/null)
nbad=$(echo "$bad" | grep -c .)
if [ "$nbad" -gt 0 ]; then
    echo "valgrind-test: valgrind found errors:"
    for f in $bad; do echo "== $f"; head -100 "$f"; done
    status=1
fi
echo "valgrind-test: $nlogs processes ran under valgrind, $nbad with errors (logs in $V/logs)"
echo "$((${passed:-0})) passed, $((${failed:-1} + nbad)) failed"
exit $status
