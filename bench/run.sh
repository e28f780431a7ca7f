#!/usr/bin/env bash
# The benchmark of issue 5 (`make bench`): the mock upstream (tests/mock, in
# its --fast mode) and the server, driven by wrk and by bench/loadgen, all on
# 127.0.0.1. Prints one table and writes it, with the machine's description,
# to bench/results/<date>.md.
#
#   bench/run.sh                 the full run (about 12 minutes)
#   BENCH_QUICK=1 bench/run.sh   a smoke run (about 2 minutes): one run of
#                                each scenario, short durations, 500 slow
#                                streams, a 5,000-request soak, no ASan soak
#
# Every scenario runs against a fresh mock and a fresh server (so that peak
# RSS belongs to that scenario), RUNS times; the table gives the medians.
# The server's CPU comes from /proc/<pid>/stat (utime + stime), its memory
# from /proc/<pid>/status (VmRSS, VmHWM). Everything is bounded: each load
# has a fixed duration or request count, every wait has a deadline.
#
# Other settings (environment): BENCH_BUILD (default build/release),
# BENCH_DUR (seconds of each throughput load), BENCH_THREADS (wrk's),
# BENCH_OUT (results file; default bench/results/<date>.md, "-" for none),
# BENCH_ASAN_SOAK=0 to skip the leak-checked soak, BENCH_ONLY="s1-c50 s5-c50"
# to run only those scenarios (names as in the report's source lines),
# BENCH_KEEP=1 to keep the work directory (logs) in /tmp.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
O=${BENCH_BUILD:-build/release}
QUICK=${BENCH_QUICK:-0}
DATE=$(date +%Y-%m-%d)
OUT=${BENCH_OUT:-bench/results/$DATE.md}

if [ "$QUICK" = 1 ]; then
    RUNS=1 DUR=2 WARM=1 S3_ANSWERS=2 S4_STREAMS=500 S4_FRAMES=6 S4B_STREAMS=200
    SOAK=5000 SOAK_AT=1000 ASAN_SOAK=0
else
    RUNS=3 DUR=8 WARM=2 S3_ANSWERS=5 S4_STREAMS=5000 S4_FRAMES=30 S4B_STREAMS=500
    SOAK=100000 SOAK_AT=10000 ASAN_SOAK=${BENCH_ASAN_SOAK:-10000}
fi
DUR=${BENCH_DUR:-$DUR}
THREADS=${BENCH_THREADS:-2}
CLK_TCK=$(getconf CLK_TCK)
SERVER=$ROOT/$O/glm-free-api
MOCK=$ROOT/$O/tests/mock-chatglm
LOADGEN=$ROOT/$O/bench/loadgen
REPLAY=$ROOT/$O/bench/replay
RELAY=$ROOT/$O/bench/relay
RSSFLOOR=$ROOT/$O/bench/rssfloor

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

for b in "$SERVER" "$MOCK"; do
    [ -x "$b" ] || die "$b is missing: run 'make BUILD=release all units' (or make bench)"
done
command -v wrk >/dev/null || die "wrk is missing: scripts/install-deps.sh --bench"
command -v curl >/dev/null || die "curl is missing: scripts/install-deps.sh --bench"

# ---- the tools --------------------------------------------------------------
mkdir -p "$O/bench"
CC=${CC:-cc}
WARN="-std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wwrite-strings"
$CC $WARN -O2 -o "$LOADGEN" bench/loadgen.c $(pkg-config --cflags --libs libevent) ||
    die "cannot build bench/loadgen"
$CC $WARN -O2 -Isrc -o "$REPLAY" bench/replay.c "$O/libglm.a" \
    $(pkg-config --cflags --libs libevent libcurl jansson libcrypto sqlite3 hiredis) -lm ||
    die "cannot build bench/replay"
$CC $WARN -O2 -o "$RELAY" bench/relay.c -lpthread || die "cannot build bench/relay"
$CC $WARN -O2 -o "$RSSFLOOR" bench/rssfloor.c \
    $(pkg-config --cflags --libs libevent libcurl jansson libcrypto sqlite3 hiredis) -lm ||
    die "cannot build bench/rssfloor"

W=$(mktemp -d /tmp/glm-bench.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then note "work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 5,000 streams need about 5,000 descriptors in each of the server, the
# mock and the load generator (the server raises its own limit too).
ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((S4_STREAMS * 2 + 200)) ]; then
    fit=$(( (NOFILE - 200) / 2 ))
    note "open-file limit $NOFILE: scenario 4 holds $fit streams instead of $S4_STREAMS"
    S4_STREAMS=$fit
fi

# ---- processes ----------------------------------------------------------------

# wait_line FILE REGEX: up to 10 s for a line to appear.
wait_line() {
    for _ in $(seq 200); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# start_mock: a fresh mock; sets MOCK_PID and MOCK_PORT.
start_mock() {
    # Emptied here, not by the redirection below: that runs in the child,
    # after wait_line may already have read the previous mock's line (and
    # MOCK_PORT then came out empty or stale: an upstream on port 80).
    : >"$W/mock.out"
    "$MOCK" --port 0 --fast --quiet --fixtures "$ROOT/tests/fixtures" >"$W/mock.out" 2>"$W/mock.err" &
    MOCK_PID=$!
    PIDS="$PIDS $MOCK_PID"
    wait_line "$W/mock.out" 'listening on .*:[0-9]+$' || die "the mock did not start: $(cat "$W/mock.err")"
    MOCK_PORT=$(grep -oE '[0-9]+$' "$W/mock.out")
}

# start_server [args]: a fresh server on a fresh account store; sets
# SRV_PID, SRV_PORT and SRV_IDLE_KB (RSS before any request).
SRV_N=0
start_server() {
    SRV_N=$((SRV_N + 1))
    "$SERVER" --host 127.0.0.1 --port 0 --upstream "http://127.0.0.1:$MOCK_PORT" \
        --data-dir "$W/data-$SRV_N" "$@" >"$W/server.out" 2>"$W/server-$SRV_N.log" &
    SRV_PID=$!
    PIDS="$PIDS $SRV_PID"
    wait_line "$W/server-$SRV_N.log" 'listening on http' ||
        die "the server did not start: $(tail -5 "$W/server-$SRV_N.log")"
    SRV_PORT=$(grep -oE 'listening on http://127.0.0.1:[0-9]+' "$W/server-$SRV_N.log" | grep -oE '[0-9]+$')
    SRV_IDLE_KB=$(rss_kb "$SRV_PID")
}

# stop PID: SIGTERM, then SIGKILL after 15 s.
stop() {
    local p=$1
    kill "$p" 2>/dev/null || return 0
    for _ in $(seq 300); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$p" | tr '\n' ' ')
}

stop_all() {
    [ -n "${SRV_PID:-}" ] && stop "$SRV_PID"
    [ -n "${MOCK_PID:-}" ] && stop "$MOCK_PID"
    SRV_PID= MOCK_PID=
}

mock_config() {
    curl -sf -XPOST "http://127.0.0.1:$MOCK_PORT/_mock/config" -d "$1" >/dev/null ||
        die "mock config $1 refused"
}

# CPU ticks (user + system) of a process; the fields after the ")" of comm.
cpu_ticks() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }
    set -- $s
    echo $(( ${12} + ${13} ))
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# kv LINE KEY: the value of key=value in a line.
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

# Access tokens of N fresh mock accounts (signature off), one per line, in
# one curl process.
mock_tokens() {
    local n=$1 file=$2 cfg=$W/refresh.cfg
    : >"$cfg"
    for i in $(seq "$n"); do
        [ "$i" -gt 1 ] && echo next >>"$cfg"
        printf 'url = "http://127.0.0.1:%s/chatglm/user-api/user/refresh"\nrequest = "POST"\nheader = "Authorization: Bearer floor-%s-%d"\n' \
            "$MOCK_PORT" "$RANDOM" "$i" >>"$cfg"
    done
    curl -s -K "$cfg" | grep -oE '"access_token":"[^"]+"' | cut -d'"' -f4 >"$file"
    [ "$(wc -l <"$file")" -eq "$n" ] || die "could not get $n mock access tokens"
}

# ---- request bodies -------------------------------------------------------------
body() { # body FILE STREAM TEXT
    printf '{"model":"glm-4","stream":%s,"messages":[{"role":"user","content":"%s"}]}' "$2" "$3" >"$1"
}
upbody() { # upbody FILE TEXT: the upstream request, for the mock directly
    printf '{"assistant_id":"65940acff94777010aa6b796","conversation_id":"","meta_data":{},"messages":[{"role":"user","content":[{"type":"text","text":"%s"}]}]}' "$2" >"$1"
}
SHORT='[[scenario:long:20:8]] hi'                  # 20 text frames of 8 characters
LONG='[[scenario:long:2000:33]] hi'                # 2,000 frames to ~100 KB
HALF='[[scenario:long:1000:33]] hi'                # 1,000 frames to ~50 KB
body "$W/s1.json" true "$SHORT"
body "$W/s2.json" false "$SHORT"
body "$W/long.json" true "$LONG"
body "$W/half.json" true "$HALF"
body "$W/slow.json" true "[[scenario:long:$S4_FRAMES:8]] hi"
upbody "$W/up-short.json" "$SHORT"
upbody "$W/up-long.json" "$LONG"
upbody "$W/up-half.json" "$HALF"
body "$W/mix-think.json" true '[[fixture:chat-think]] hi'
body "$W/mix-search.json" true '[[fixture:chat-multipart-search]] hi'
body "$W/mix-medium.json" true '[[scenario:long:200:20]] hi'
body "$W/mix-plain.json" false '[[fixture:chat-plain]] hi'
# Scenario 8: scenario 1's answer in the other two dialects.
printf '{"model":"glm-4","stream":true,"store":false,"input":"%s"}' "$SHORT" >"$W/s8-responses.json"
printf '{"model":"glm-4","stream":true,"max_tokens":1024,"messages":[{"role":"user","content":"%s"}]}' \
    "$SHORT" >"$W/s8-messages.json"

RES=$W/results.txt   # one line per run: scenario=... run=... key=value ...
: >"$RES"
# record NAME RUN "key=value ...": also whether the server survived the run.
record() {
    local up=1
    if [ -n "${SRV_PID:-}" ] && ! kill -0 "$SRV_PID" 2>/dev/null; then
        up=0
        note "the server died during $1 (run $2): $(grep -m1 -iE 'sanitizer|segfault|abort' "$W/server-$SRV_N.log" || tail -1 "$W/server-$SRV_N.log")"
    fi
    echo "scenario=$1 run=$2 $3 server_up=$up" >>"$RES"
}

PATH_UP=/chatglm/backend-api/assistant/stream
FIRST_SRV='{"content":"'   # the first content delta of a server stream
FIRST_UP='"text":"'        # the first text frame of an upstream stream

# wrk_run URL CONNS SECONDS BODY TOKENS MUST ERROR PATH: prints the BENCH line.
wrk_run() {
    local t=$THREADS
    [ "$2" -lt "$t" ] && t=$2
    wrk -t"$t" -c"$2" -d"${3}s" --timeout 60s -s bench/wrk/chat.lua "$1" -- \
        "$4" "$5" "$6" "$7" "$8" "$t" 2>&1 | grep '^BENCH' || echo "BENCH requests=0 wrk_failed=1"
}

# The first token is timed apart from the throughput run: wrk keeps every
# connection busy, so under it a request mostly waits for the CPU (the
# machine is saturated by design) and its first token says little about the
# server. The paced run has CONNS connections that together send PACE
# requests a second (each connection pauses CONNS/PACE seconds between its
# requests), well below capacity, and times the first token of every one.
PACE=500
PDUR=$(( DUR / 2 ))
paced() { # paced PORT CONNS BODY FIRST END PATH TOKEN-ARGS...: prints the LOADGEN line
    local port=$1 c=$2 b=$3 first=$4 end=$5 path=$6
    shift 6
    "$LOADGEN" -p "$port" -c "$c" -n "$c" -P "$path" -b "$b" "$@" >/dev/null 2>&1 # warm-up
    "$LOADGEN" -p "$port" -c "$c" -d "$PDUR" -g $(( c * 1000 / PACE )) -P "$path" -b "$b" \
        -m "$first" -e "$end" -E '{"error":' "$@" 2>/dev/null
}

# ---- scenario 1 and 2: short answers through the server ---------------------------
# server_load NAME CONNS BODY MUST [PACED [ROUTE [ERROR]]]
server_load() {
    local name=$1 c=$2 b=$3 must=$4 timed=${5:-1} pool=$(( $2 * 4 / THREADS + 8 ))
    local route=${6:-/v1/chat/completions} bad=${7:-'{"error":'}
    for run in $(seq "$RUNS"); do
        start_mock
        start_server
        local url="http://127.0.0.1:$SRV_PORT$route"
        # Warm-up: every account of the pool refreshes its token once.
        wrk_run "$url" "$c" "$WARM" "$b" "$pool" "$must" "$bad" "$route" >/dev/null
        local t0 t1 line pace=""
        t0=$(cpu_ticks "$SRV_PID")
        line=$(wrk_run "$url" "$c" "$DUR" "$b" "$pool" "$must" "$bad" "$route")
        t1=$(cpu_ticks "$SRV_PID")
        local hwm
        hwm=$(hwm_kb "$SRV_PID")
        [ "$timed" = 1 ] && pace=$(paced "$SRV_PORT" "$c" "$b" "$FIRST_SRV" '"finish_reason":"stop"' \
            /v1/chat/completions -k pace)
        local n errs perr=0
        n=$(kv "$line" requests)
        [ -n "$pace" ] && perr=$(kv "$pace" errors)
        errs=$(( $(kv "$line" err_connect) + $(kv "$line" err_read) + $(kv "$line" err_write) +
                 $(kv "$line" err_status) + $(kv "$line" err_timeout) + $(kv "$line" err_body) +
                 ${perr:-0} ))
        record "$name" "$run" "conns=$c rps=$(awk -v r="$n" -v d="$(kv "$line" duration_s)" 'BEGIN{printf "%.1f", r/d}') \
lat_p50_ms=$(kv "$line" lat_p50_ms) lat_p99_ms=$(kv "$line" lat_p99_ms) \
${pace:+ttft_p50_ms=$(kv "$pace" ttft_p50_ms) ttft_p99_ms=$(kv "$pace" ttft_p99_ms) paced_rps=$(kv "$pace" rps)} \
cpu_per_k=$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$CLK_TCK" 'BEGIN{printf "%.3f", n ? t/hz/n*1000 : -1}') \
hwm_kb=$hwm idle_kb=$SRV_IDLE_KB errors=$errs completions=$n"
        stop_all
    done
}

# ---- scenario 6: pool size -------------------------------------------------------------
# pool_load NAME HOW N: short streamed answers at c=50 with N accounts, all named
# in every request's Authorization header (HOW=header) or configured on the
# server (HOW=server, requests without Authorization). The figure is the
# server's CPU per 1,000 answers: it must not grow with N (issue 12).
pool_load() {
    local name=$1 how=$2 n=$3 c=50 toks args=()
    if [ "$how" = server ]; then
        toks=none
        args=(--refresh-tokens "$(seq -s, 0 $((n - 1)) | sed 's/\([0-9]*\)/pool-\1/g')")
    else
        toks=list:$n
    fi
    for run in $(seq "$RUNS"); do
        start_mock
        start_server "${args[@]}"
        local url="http://127.0.0.1:$SRV_PORT/v1/chat/completions"
        # Warm-up: the accounts refresh their tokens (the last ones as the
        # least recently used come round).
        wrk_run "$url" "$c" "$WARM" "$W/s1.json" "$toks" '[DONE]' '{"error":' /v1/chat/completions >/dev/null
        local t0 t1 line
        t0=$(cpu_ticks "$SRV_PID")
        line=$(wrk_run "$url" "$c" "$DUR" "$W/s1.json" "$toks" '[DONE]' '{"error":' /v1/chat/completions)
        t1=$(cpu_ticks "$SRV_PID")
        local nreq errs
        nreq=$(kv "$line" requests)
        errs=$(( $(kv "$line" err_connect) + $(kv "$line" err_read) + $(kv "$line" err_write) +
                 $(kv "$line" err_status) + $(kv "$line" err_timeout) + $(kv "$line" err_body) ))
        record "$name" "$run" "conns=$c accounts=$n how=$how rps=$(awk -v r="$nreq" -v d="$(kv "$line" duration_s)" 'BEGIN{printf "%.1f", r/d}') \
lat_p50_ms=$(kv "$line" lat_p50_ms) lat_p99_ms=$(kv "$line" lat_p99_ms) \
cpu_per_k=$(awk -v t=$((t1 - t0)) -v n="$nreq" -v hz="$CLK_TCK" 'BEGIN{printf "%.3f", n ? t/hz/n*1000 : -1}') \
hwm_kb=$(hwm_kb "$SRV_PID") idle_kb=$SRV_IDLE_KB errors=$errs completions=$nreq"
        stop_all
    done
}

# ---- scenario 5: the same request straight to the mock (the floor) -------------------
mock_load() { # mock_load NAME CONNS UPBODY
    local name=$1 c=$2 b=$3
    for run in $(seq "$RUNS"); do
        start_mock
        mock_config '{"signature":false}'
        mock_tokens $(( c * 4 + 16 )) "$W/tokens.txt"
        local url="http://127.0.0.1:$MOCK_PORT$PATH_UP"
        wrk_run "$url" "$c" "$WARM" "$b" "$W/tokens.txt" '"status":"finish"' '' "$PATH_UP" >/dev/null
        local t0 t1 line pace
        t0=$(cpu_ticks "$MOCK_PID")
        line=$(wrk_run "$url" "$c" "$DUR" "$b" "$W/tokens.txt" '"status":"finish"' '' "$PATH_UP")
        t1=$(cpu_ticks "$MOCK_PID")
        pace=$(paced "$MOCK_PORT" "$c" "$b" "$FIRST_UP" '"status":"finish"' "$PATH_UP" -T "$W/tokens.txt")
        # The same paced run through bench/relay, a proxy that only copies
        # bytes: what any process in the path adds on this machine.
        local relay_pid relay_port rpace
        : >"$W/relay.out" # (as in start_mock)
        "$RELAY" 0 "$MOCK_PORT" >"$W/relay.out" 2>/dev/null &
        relay_pid=$!
        PIDS="$PIDS $relay_pid"
        wait_line "$W/relay.out" 'listening on' || die "bench/relay did not start"
        relay_port=$(grep -oE '[0-9]+$' "$W/relay.out")
        rpace=$(paced "$relay_port" "$c" "$b" "$FIRST_UP" '"status":"finish"' "$PATH_UP" -T "$W/tokens.txt")
        stop "$relay_pid"
        local n errs
        n=$(kv "$line" requests)
        errs=$(( $(kv "$line" err_connect) + $(kv "$line" err_read) + $(kv "$line" err_write) +
                 $(kv "$line" err_status) + $(kv "$line" err_timeout) + $(kv "$line" err_body) +
                 $(kv "$pace" errors) ))
        record "$name" "$run" "conns=$c rps=$(awk -v r="$n" -v d="$(kv "$line" duration_s)" 'BEGIN{printf "%.1f", r/d}') \
lat_p50_ms=$(kv "$line" lat_p50_ms) lat_p99_ms=$(kv "$line" lat_p99_ms) \
ttft_p50_ms=$(kv "$pace" ttft_p50_ms) ttft_p99_ms=$(kv "$pace" ttft_p99_ms) paced_rps=$(kv "$pace" rps) \
relay_ttft_p50_ms=$(kv "$rpace" ttft_p50_ms) relay_ttft_p99_ms=$(kv "$rpace" ttft_p99_ms) \
mock_cpu_per_k=$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$CLK_TCK" 'BEGIN{printf "%.3f", n ? t/hz/n*1000 : -1}') \
errors=$errs completions=$n"
        stop_all
    done
}

# ---- scenario 3: one long answer at a time ---------------------------------------
# long_answer NAME PROFILE BODY UPBODY
long_answer() {
    local name=$1 profile=$2 b=$3 ub=$4
    for run in $(seq "$RUNS"); do
        start_mock
        mock_config "{\"profile\":\"$profile\"}"
        start_server
        # The mock generates the answer on the first request (cached after).
        "$LOADGEN" -p "$SRV_PORT" -c 1 -n 1 -b "$b" -k long -t 60 >/dev/null 2>&1
        local t0 line t1
        t0=$(cpu_ticks "$SRV_PID")
        line=$("$LOADGEN" -p "$SRV_PORT" -c 1 -n "$S3_ANSWERS" -b "$b" -k long -t 60 -L 300 \
            -m "$FIRST_SRV" -e '"finish_reason":"stop"' -E '{"error":' -O "$W/long-reply.sse")
        t1=$(cpu_ticks "$SRV_PID")
        local got want bytes floor path
        got=$("$REPLAY" -m openai "$W/long-reply.sse")
        # The same answer straight from the mock: the reference text and the floor.
        mock_config '{"signature":false}'
        mock_tokens 1 "$W/long-token.txt"
        curl -s -o "$W/long-up.sse" -H "Authorization: Bearer $(cat "$W/long-token.txt")" \
            --data-binary @"$ub" "http://127.0.0.1:$MOCK_PORT$PATH_UP"
        want=$("$REPLAY" -f 0 -m text "$W/long-up.sse")
        bytes=$(wc -c <"$W/long-up.sse")
        floor=$("$REPLAY" -r 3 -m sse "$W/long-up.sse")
        path=$("$REPLAY" -r 3 -m full "$W/long-up.sse")
        local exact=0
        [ "$got" = "$want" ] && exact=1
        record "$name" "$run" "conns=1 upstream_bytes=$bytes answer_bytes=$(kv "$want" len) \
lat_p50_ms=$(kv "$line" lat_p50_ms) lat_p99_ms=$(kv "$line" lat_p99_ms) \
ttft_p50_ms=$(kv "$line" ttft_p50_ms) \
cpu_per_answer=$(awk -v t=$((t1 - t0)) -v n="$S3_ANSWERS" -v hz="$CLK_TCK" 'BEGIN{printf "%.4f", t/hz/n}') \
sse_floor_s=$(kv "$floor" cpu_s) path_offline_s=$(kv "$path" cpu_s) \
hwm_kb=$(hwm_kb "$SRV_PID") errors=$(kv "$line" errors) exact=$exact"
        stop_all
    done
}

# ---- scenario 4: many slow streams held open ---------------------------------------
# slow_streams NAME STREAMS
slow_streams() {
    local name=$1 n=$2
    for run in $(seq "$RUNS"); do
        start_mock
        start_server
        # Warm-up: each of the n accounts refreshes once (and the server
        # saves the rotated token), on quick answers; "idle" is the server
        # after that, knowing its accounts but with no stream open.
        "$LOADGEN" -p "$SRV_PORT" -c 100 -n "$n" -K "$n" -b "$W/s1.json" -k slow -t 60 -L 240 >/dev/null 2>&1
        mock_config '{"delay_ms":1000}'
        sleep 1
        local idle peak=0 t0 t1
        idle=$(rss_kb "$SRV_PID")
        t0=$(cpu_ticks "$SRV_PID")
        # One account per connection, connections opened at 1,000 a second.
        "$LOADGEN" -p "$SRV_PORT" -c "$n" -n "$n" -r 1000 -b "$W/slow.json" -k slow -t 120 -L 240 \
            -m "$FIRST_SRV" -e '"finish_reason":"stop"' -E '{"error":' >"$W/slow.txt" 2>/dev/null &
        local lg=$!
        while kill -0 "$lg" 2>/dev/null; do
            local r
            r=$(rss_kb "$SRV_PID")
            [ "${r:-0}" -gt "$peak" ] && peak=$r
            sleep 0.5
        done
        wait "$lg"
        t1=$(cpu_ticks "$SRV_PID")
        local line
        line=$(cat "$W/slow.txt")
        record "$name" "$run" "conns=$n lat_p50_ms=$(kv "$line" lat_p50_ms) lat_p99_ms=$(kv "$line" lat_p99_ms) \
ttft_p50_ms=$(kv "$line" ttft_p50_ms) ttft_p99_ms=$(kv "$line" ttft_p99_ms) \
cpu_per_k=$(awk -v t=$((t1 - t0)) -v c="$(kv "$line" ok)" -v hz="$CLK_TCK" 'BEGIN{printf "%.3f", c ? t/hz/c*1000 : -1}') \
idle_kb=$idle fresh_kb=$SRV_IDLE_KB peak_kb=$peak hwm_kb=$(hwm_kb "$SRV_PID") \
per_stream_kb=$(awk -v p="$peak" -v i="$idle" -v n="$n" 'BEGIN{printf "%.1f", (p-i)/n}') \
open_peak=$(kv "$line" open_peak) errors=$(kv "$line" errors) completions=$(kv "$line" ok)"
        stop_all
    done
}

# ---- scenario 7: the paced stream (issue 18) ------------------------------------------
# paced_stream NAME CONNS: scenario 1's answer (20 text frames of 8 characters;
# 23 frames with the parts:[] frame and the two finish frames) with the mock
# pacing its frames PACED_MS ms apart, as chatglm.cn does: the server then
# wakes up once per frame instead of once per answer. CONNS connections, one
# account each, for DUR seconds through the server; the server's and the
# mock's CPU over the same load, so their ratio holds whatever else runs on
# the machine. At c=1 the same load also goes straight to the mock and
# through bench/relay (both paced alike): the first token added by the
# server, next to what a byte-copying relay adds.
PACED_MS=${BENCH_PACED_MS:-2}
PACED_FRAMES=20
paced_stream() {
    local name=$1 c=$2
    for run in $(seq "$RUNS"); do
        start_mock
        mock_config "{\"delay_ms\":$PACED_MS}"
        start_server
        # Warm-up: each connection's account refreshes once.
        "$LOADGEN" -p "$SRV_PORT" -c "$c" -n "$c" -b "$W/s1.json" -k paced -t 60 -L 120 >/dev/null 2>&1
        local s0 s1 m0 m1 line
        s0=$(cpu_ticks "$SRV_PID"); m0=$(cpu_ticks "$MOCK_PID")
        line=$("$LOADGEN" -p "$SRV_PORT" -c "$c" -d "$DUR" -b "$W/s1.json" -k paced -t 60 -L $((DUR + 60)) \
            -m "$FIRST_SRV" -e '"finish_reason":"stop"' -E '{"error":' 2>/dev/null)
        s1=$(cpu_ticks "$SRV_PID"); m1=$(cpu_ticks "$MOCK_PID")
        local n=$(kv "$line" ok) direct="" relayed=""
        if [ "$c" = 1 ]; then
            mock_config '{"signature":false}'
            mock_tokens 1 "$W/paced-token.txt"
            direct=$("$LOADGEN" -p "$MOCK_PORT" -c 1 -d "$DUR" -P "$PATH_UP" -b "$W/up-short.json" \
                -T "$W/paced-token.txt" -m "$FIRST_UP" -e '"status":"finish"' 2>/dev/null)
            local relay_pid relay_port
            "$RELAY" 0 "$MOCK_PORT" >"$W/relay.out" 2>/dev/null &
            relay_pid=$!
            PIDS="$PIDS $relay_pid"
            wait_line "$W/relay.out" 'listening on' || die "bench/relay did not start"
            relay_port=$(grep -oE '[0-9]+$' "$W/relay.out")
            relayed=$("$LOADGEN" -p "$relay_port" -c 1 -d "$DUR" -P "$PATH_UP" -b "$W/up-short.json" \
                -T "$W/paced-token.txt" -m "$FIRST_UP" -e '"status":"finish"' 2>/dev/null)
            stop "$relay_pid"
        fi
        record "$name" "$run" "conns=$c rps=$(kv "$line" rps) lat_p50_ms=$(kv "$line" lat_p50_ms) \
lat_p99_ms=$(kv "$line" lat_p99_ms) ttft_p50_ms=$(kv "$line" ttft_p50_ms) ttft_p99_ms=$(kv "$line" ttft_p99_ms) \
${direct:+mock_ttft_p50_ms=$(kv "$direct" ttft_p50_ms) mock_ttft_p99_ms=$(kv "$direct" ttft_p99_ms)} \
${relayed:+relay_ttft_p50_ms=$(kv "$relayed" ttft_p50_ms) relay_ttft_p99_ms=$(kv "$relayed" ttft_p99_ms)} \
frames=$PACED_FRAMES gap_ms=$PACED_MS \
cpu_per_k=$(awk -v t=$((s1 - s0)) -v n="$n" -v hz="$CLK_TCK" 'BEGIN{printf "%.3f", n ? t/hz/n*1000 : -1}') \
mock_cpu_per_k=$(awk -v t=$((m1 - m0)) -v n="$n" -v hz="$CLK_TCK" 'BEGIN{printf "%.3f", n ? t/hz/n*1000 : -1}') \
hwm_kb=$(hwm_kb "$SRV_PID") idle_kb=$SRV_IDLE_KB errors=$(kv "$line" errors) completions=$n"
        stop_all
    done
}

# ---- the soak -------------------------------------------------------------------------
# soak NAME REQUESTS AT SERVER-BINARY POOL: mixed answers from 40
# connections, one request in ten dropped by the client right after its
# first token. Requests take their accounts in turn from a pool (-K): with
# 2,000, a request never finds its account still busy with an earlier one;
# with 160 it sometimes does and waits in the account queue.
soak() {
    local name=$1 n=$2 at=$3 bin=$4 pool=$5
    start_mock
    local saved=$SERVER
    SERVER=$bin
    start_server
    SERVER=$saved
    local line
    line=$("$LOADGEN" -p "$SRV_PORT" -c 40 -n "$n" -x 10 -b "$W/s1.json" -b "$W/s2.json" \
        -b "$W/mix-think.json" -b "$W/mix-search.json" -b "$W/mix-medium.json" -b "$W/mix-plain.json" \
        -k soak -K "$pool" -t 60 -L 900 -m '"content":' -e '"finish_reason":"stop"' -E '{"error":' \
        -W "$SRV_PID" -N "$at")
    local log=$W/server-$SRV_N.log up=1
    kill -0 "$SRV_PID" 2>/dev/null || up=0
    stop_all
    local san=0
    grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" && san=1
    [ "$san" = 1 ] && cp "$log" "$ROOT/$O/bench/$name-server.log" &&
        note "sanitizer report kept in $O/bench/$name-server.log"
    SRV_PID=
    record "$name" 1 "up_at_end=$up at=$at requests=$(kv "$line" requests) ok=$(kv "$line" ok) aborted=$(kv "$line" aborted) \
errors=$(kv "$line" errors) rps=$(kv "$line" rps) rss_at_kb=$(kv "$line" rss_at_kb) rss_end_kb=$(kv "$line" rss_end_kb) \
growth_pct=$(awk -v a="$(kv "$line" rss_at_kb)" -v b="$(kv "$line" rss_end_kb)" 'BEGIN{printf "%.1f", (a > 0 ? (b-a)*100/a : -1)}') \
sanitizer_reports=$san"
}

# ---- start-up ----------------------------------------------------------------------------
startup() {
    start_mock
    for run in $(seq "$RUNS"); do
        local port line
        for _ in $(seq 20); do
            # Below the ephemeral range (32768 and up here): loadgen's own
            # connect attempts while the server starts could otherwise take
            # the port (a socket connected to itself) before the server binds.
            port=$((20000 + RANDOM % 12000))
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
        done
        line=$("$LOADGEN" -p "$port" -S -- "$SERVER" --host 127.0.0.1 --port "$port" \
            --upstream "http://127.0.0.1:$MOCK_PORT" --data-dir "$W/data-start-$run" 2>/dev/null)
        # For scale: the same binary loading its libraries and exiting.
        local t0 t1
        t0=$(date +%s%N)
        for _ in 1 2 3 4 5 6 7 8 9 10; do "$SERVER" --check-config >/dev/null 2>&1; done
        t1=$(date +%s%N)
        # For scale: a program that only links the same libraries.
        local floor
        floor=$("$RSSFLOOR")
        record startup "$run" "startup_ms=$(kv "$line" startup_ms) idle_kb=$(kv "$line" idle_rss_kb) \
idle_anon_kb=$(kv "$line" idle_anon_kb) check_ms=$(( (t1 - t0) / 10000000 )) libs=$(ldd "$SERVER" | wc -l) \
floor_main_kb=$(kv "$floor" main_kb) floor_init_kb=$(kv "$floor" init_kb)"
    done
    stop_all
}

# ---- two replicas: the account state in SQLite (each its own) or in Redis -----------
# replicas_load NAME STATE CONNS: two servers, each driven by its own loadgen
# with CONNS/2 connections for DUR seconds (scenario 1's short streamed
# answer; one account per connection, 2 x CONNS/2 accounts in all). With
# state = redis both share a redis-server (no persistence) started here: each
# answer takes and releases the account's lease there, each refresh its lock.
# CPU per 1,000: both servers together (and Redis's own, apart).
REDIS_BIN=${REDIS_SERVER_BIN:-/usr/bin/redis-server}
replicas_load() {
    local name=$1 state=$2 c=$3 half=$(( $3 / 2 ))
    if [ "$state" = redis ] && [ ! -x "$REDIS_BIN" ]; then
        note "$name: $REDIS_BIN is missing (scripts/install-deps.sh --test): skipped"
        return 0
    fi
    for run in $(seq "$RUNS"); do
        start_mock
        local rargs=() rpid="" rport=""
        if [ "$state" = redis ]; then
            rport=$((20000 + RANDOM % 12000))
            mkdir -p "$W/redis-$run"
            "$REDIS_BIN" --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
                --dir "$W/redis-$run" --daemonize no >"$W/redis.out" 2>&1 &
            rpid=$!
            PIDS="$PIDS $rpid"
            wait_line "$W/redis.out" 'Ready to accept' || die "redis-server did not start: $(tail -3 "$W/redis.out")"
            rargs=(--state redis --redis-url "redis://127.0.0.1:$rport/0" --redis-prefix "bench$run:")
        fi
        start_server "${rargs[@]}" --replica-id a
        local pa=$SRV_PID porta=$SRV_PORT
        start_server "${rargs[@]}" --replica-id b
        local pb=$SRV_PID portb=$SRV_PORT
        # Warm-up: every account refreshes once.
        "$LOADGEN" -p "$porta" -c "$half" -n "$half" -b "$W/s1.json" -k ra -e '[DONE]' >/dev/null 2>&1
        "$LOADGEN" -p "$portb" -c "$half" -n "$half" -b "$W/s1.json" -k rb -e '[DONE]' >/dev/null 2>&1
        local ta0 tb0 tr0=0 ta1 tb1 tr1=0 la lb
        ta0=$(cpu_ticks "$pa"); tb0=$(cpu_ticks "$pb")
        [ -n "$rpid" ] && tr0=$(cpu_ticks "$rpid")
        "$LOADGEN" -p "$porta" -c "$half" -d "$DUR" -b "$W/s1.json" -k ra -e '[DONE]' -E '{"error":' \
            >"$W/ra.out" 2>/dev/null &
        local lga=$!
        lb=$("$LOADGEN" -p "$portb" -c "$half" -d "$DUR" -b "$W/s1.json" -k rb -e '[DONE]' -E '{"error":' 2>/dev/null)
        wait "$lga"
        la=$(cat "$W/ra.out")
        ta1=$(cpu_ticks "$pa"); tb1=$(cpu_ticks "$pb")
        [ -n "$rpid" ] && tr1=$(cpu_ticks "$rpid")
        local n errs
        n=$(( $(kv "$la" ok) + $(kv "$lb" ok) ))
        errs=$(( $(kv "$la" errors) + $(kv "$lb" errors) ))
        record "$name" "$run" "conns=$c rps=$(awk -v a="$(kv "$la" rps)" -v b="$(kv "$lb" rps)" 'BEGIN{printf "%.1f", a+b}') \
cpu_per_k=$(awk -v t=$((ta1 - ta0 + tb1 - tb0)) -v n="$n" -v hz="$CLK_TCK" 'BEGIN{printf "%.3f", n ? t/hz/n*1000 : -1}') \
redis_cpu_per_k=$(awk -v t=$((tr1 - tr0)) -v n="$n" -v hz="$CLK_TCK" 'BEGIN{printf "%.3f", n ? t/hz/n*1000 : -1}') \
errors=$errs completions=$n"
        stop "$pa"
        stop "$pb"
        SRV_PID=
        stop_all
        [ -n "$rpid" ] && stop "$rpid"
    done
}

# ---- the run --------------------------------------------------------------------------------
# want NAME: whether BENCH_ONLY selects the scenario.
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
note "results in $OUT; runs per scenario: $RUNS, load duration: ${DUR}s"
want startup && { note "start-up"; startup; }
want s1-c1 && { note "scenario 1: streamed, 20 frames, concurrency 1"; server_load s1-c1 1 "$W/s1.json" '[DONE]'; }
want s1-c50 && { note "scenario 1: concurrency 50"; server_load s1-c50 50 "$W/s1.json" '[DONE]'; }
want s1-c500 && { note "scenario 1: concurrency 500"; server_load s1-c500 500 "$W/s1.json" '[DONE]'; }
want s8-responses-c50 && { note "scenario 8: the Responses API, streamed, concurrency 50"
    server_load s8-responses-c50 50 "$W/s8-responses.json" 'response.completed' 0 /v1/responses 'response.failed'; }
want s8-messages-c50 && { note "scenario 8: the Messages API, streamed, concurrency 50"
    server_load s8-messages-c50 50 "$W/s8-messages.json" 'message_stop' 0 /v1/messages 'event: error'; }
want s2-c50 && { note "scenario 2: not streamed, concurrency 50"; server_load s2-c50 50 "$W/s2.json" '"finish_reason":"stop"' 0; }
want s3-v1 && { note "scenario 3: 100 KB answer, v1"; long_answer s3-v1 v1 "$W/long.json" "$W/up-long.json"; }
want s3-v2 && { note "scenario 3: 100 KB answer, v2"; long_answer s3-v2 v2 "$W/long.json" "$W/up-long.json"; }
want s3-v1-half && { note "scenario 3: 50 KB answer, v1 (scaling)"; long_answer s3-v1-half v1 "$W/half.json" "$W/up-half.json"; }
want s4 && { note "scenario 4: $S4_STREAMS slow streams"; slow_streams s4 "$S4_STREAMS"; }
want s4-small && { note "scenario 4: $S4B_STREAMS slow streams"; slow_streams s4-small "$S4B_STREAMS"; }
want replicas-sqlite && { note "two replicas, state sqlite, concurrency 50"; replicas_load replicas-sqlite sqlite 50; }
want replicas-redis && { note "two replicas, state redis, concurrency 50"; replicas_load replicas-redis redis 50; }
want s5-c1 && { note "scenario 5: the mock directly, concurrency 1"; mock_load s5-c1 1 "$W/up-short.json"; }
want s5-c50 && { note "scenario 5: the mock directly, concurrency 50"; mock_load s5-c50 50 "$W/up-short.json"; }
want s5-c500 && { note "scenario 5: the mock directly, concurrency 500"; mock_load s5-c500 500 "$W/up-short.json"; }
for how in header server; do
    for n in 1 64 600; do
        want "s6-$how-$n" && { note "scenario 6: pool size, $n account(s) in the $how, c=50"; pool_load "s6-$how-$n" "$how" "$n"; }
    done
done
want p-c1 && { note "scenario 7: paced stream (frames ${PACED_MS} ms apart), concurrency 1"; paced_stream p-c1 1; }
want p-c50 && { note "scenario 7: paced stream, concurrency 50"; paced_stream p-c50 50; }
want p-c500 && { note "scenario 7: paced stream, concurrency 500"; paced_stream p-c500 500; }
want soak && { note "soak: $SOAK mixed requests"; soak soak "$SOAK" "$SOAK_AT" "$SERVER" 2000; }
want soak-queue && { note "soak with account waits: $((SOAK / 5)) mixed requests"
                     soak soak-queue $((SOAK / 5)) $((SOAK_AT / 5)) "$SERVER" 160; }
if want soak-asan && [ "$ASAN_SOAK" -gt 0 ] 2>/dev/null; then
    if [ ! -x build/asan/glm-free-api ] || [ -n "$(find src -newer build/asan/glm-free-api -name '*.[ch]' | head -1)" ]; then
        note "building the ASan server for the leak-checked soak"
        make -s BUILD=asan all >/dev/null 2>"$W/asan-build.log" || note "ASan build failed: $(tail -3 "$W/asan-build.log")"
    fi
    if [ -x build/asan/glm-free-api ]; then
        note "soak under ASan+LSan: $ASAN_SOAK requests"
        ASAN_OPTIONS=detect_leaks=1:halt_on_error=0 soak soak-asan "$ASAN_SOAK" $((ASAN_SOAK / 10)) \
            "$ROOT/build/asan/glm-free-api" 160
    fi
fi
ELAPSED=$(( $(date +%s) - T_START ))

# ---- the report --------------------------------------------------------------------------------
MACHINE="$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), \
$(awk '/MemTotal/ { printf "%.1f GB", $2/1048576 }' /proc/meminfo) RAM, Linux $(uname -r), \
$( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || echo unknown OS)"
TOOLS="$($CC --version | head -1), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), \
libcurl $(pkg-config --modversion libcurl), libevent $(pkg-config --modversion libevent), \
jansson $(pkg-config --modversion jansson)"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
awk -v machine="$MACHINE" -v tools="$TOOLS" -v runs="$RUNS" -v dur="$DUR" -v quick="$QUICK" \
    -v load="load average $LOAD_START before the run, $LOAD_END after" \
    -v elapsed="$ELAPSED" -v date="$DATE" -v commit="$(git rev-parse --short HEAD 2>/dev/null)" \
    -f bench/report.awk "$RES" >"$W/report.md"
{
    echo
    echo "## Every run"
    echo
    echo "The lines bench/report.awk read (one per run; medians above)."
    echo
    echo '```'
    cat "$RES"
    echo '```'
} >>"$W/report.md"
cat "$W/report.md"
if [ "$OUT" != - ]; then
    mkdir -p "$(dirname "$OUT")"
    cp "$W/report.md" "$OUT"
    note "written to $OUT (${ELAPSED}s)"
fi
