#!/usr/bin/env bash
# Builds every libFuzzer target in fuzz/ with clang (ASan+UBSan) and runs each
# for SECONDS seconds (default 60), one after the other.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 30 sse render
# Seeds: the fixtures and the inputs of the unit tests (made into
# build/fuzz/corpus/<target>/, which keeps growing from run to run) plus the
# hand-written seeds in fuzz/seeds/<target>/. A crash leaves its input in
# build/fuzz/crashes/ and fails the run; every such input becomes a unit test.
# Ends with one line per target: executions, corpus size, result.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
CC=${FUZZ_CC:-clang}
O=build/fuzz
mkdir -p "$O/crashes" "$O/logs"

command -v "$CC" >/dev/null || { echo "fuzz: $CC is missing (scripts/install-deps.sh --ci)"; exit 1; }

# Every fuzz/fuzz_NAME.c is a target: the long-standing ones first, then the
# rest by name, so a new target needs no edit here.
ORDER="sse render request prompt base64 config openai http upload"
for f in fuzz/fuzz_*.c; do
    t=$(basename "$f" .c); t=${t#fuzz_}
    case " $ORDER " in *" $t "*) ;; *) ORDER="$ORDER $t" ;; esac
done
targets=${*:-$ORDER}

# The library: every module, instrumented for coverage and sanitizers, built
# by the Makefile (build/fuzzlib); each target links only what it uses from it.
SAN="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
echo "fuzz: building the library (build/fuzzlib)"
if ! make -s BUILD=fuzzlib CC="$CC" CFLAGS="$SAN -fsanitize=fuzzer-no-link" \
        -j"$(nproc)" build/fuzzlib/libglm.a >"$O/logs/lib.log" 2>&1; then
    cat "$O/logs/lib.log"; echo "fuzz: the library did not build"; exit 1
fi
PKGS="libevent libcurl jansson libcrypto sqlite3 hiredis"
FLAGS="-std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wwrite-strings $SAN
       -fsanitize=fuzzer -Isrc -Ifuzz $(pkg-config --cflags $PKGS)"
LIBS="build/fuzzlib/libglm.a $(pkg-config --libs $PKGS) -lm"

# seed_file DIR NAME: stdin into DIR/NAME.
seed_file() { cat >"$1/$2"; }

# Writes the automatic seeds of target $1 into directory $2.
make_seeds() {
    local t=$1 d=$2 f i=0
    case $t in
    sse)
        for f in tests/fixtures/*.sse; do
            for b in 0 1 2 3; do printf "\\x$(printf %02x $((b * 5 + 3)))" | cat - "$f" | seed_file "$d" "$(basename "$f")-$b"; done
        done ;;
    render)
        # Raw mode (byte 1 odd): the data lines of each fixture, one frame per line.
        for f in tests/fixtures/*.sse; do
            for o in 0 10 20; do
                { printf "\\x$(printf %02x $o)\\x01"; sed -n 's/^data: \{0,1\}//p' "$f"; } | seed_file "$d" "$(basename "$f")-$o"
            done
        done ;;
    frame_scan)
        # Two consecutive data lines of each fixture: the second often reuses the view of the first.
        for f in tests/fixtures/*.sse; do
            sed -n 's/^data: \{0,1\}//p' "$f" | awk -v out="$d/$(basename "$f")" \
                'NR > 1 { fn = out "-" NR; print prev > fn; print $0 > fn; close(fn) } { prev = $0 }'
        done ;;
    request|prompt)
        # Bodies of the e2e and unit tests, and the upstream requests of endpoints-json.txt.
        local bodies=(
            '{"model":"glm-4","messages":[{"role":"user","content":"你好"}],"stream":true}'
            '{"model":"glm-4-think","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"},{"role":"assistant","content":"![x](http://a/b.png) /mnt/data/f.txt\nok"},{"role":"user","content":[{"type":"text","text":"again"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}'
            '{"model":"65c046a531d3fcb034918abe","conversation_id":"670dd192ac7938d40c0003a1","messages":[{"role":"user","content":[{"type":"file","file_url":{"url":"https://x/y.pdf"}},{"type":"text","text":"sum"}]}],"stream_options":{"include_usage":true},"reasoning_format":"raw"}'
            '{"messages":[{"role":"developer","content":null},{"role":"tool","content":[]},{"role":"user","content":"x"}]}'
            '{"model":1,"messages":[]}'
        )
        for b in "${bodies[@]}"; do
            i=$((i + 1))
            if [ "$t" = request ]; then printf '%s' "$b" | seed_file "$d" "body-$i"
            else printf '\x00%s' "$(printf '%s' "$b" | sed 's/^.*"messages":\(\[.*\]\).*$/\1/')" | seed_file "$d" "messages-$i"; fi
        done ;;
    base64)
        printf 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' | seed_file "$d" png
        printf 'eyJhbGciOiJIUzI1NiJ9' | seed_file "$d" jwt-header
        printf 'a-_b' | seed_file "$d" urlsafe
        printf 'QQ' | seed_file "$d" unpadded ;;
    config)
        printf '# settings\nport = 8001\nhost = "127.0.0.1" # q\nmax-body = 4M\nmodels = a=65940acff94777010aa6b796:zero,b=x\nupstream_profile = v2\n' | seed_file "$d" file
        printf 'user-agent = "Mozilla \\"5\\" # not a comment"\nlog_level=debug\n' | seed_file "$d" quotes ;;
    upload)
        # Odd byte 0: raw data URLs, names and answers; even: a messages array.
        printf '\x01data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' | seed_file "$d" png
        printf '\x01data:text/plain;charset=utf-8,hello%%20world%%zz' | seed_file "$d" percent
        printf '\x01https://example.com/a/b/%%E4%%B8%%AD.pdf?x=1#f' | seed_file "$d" url
        printf '\x01{"status":0,"result":{"file_id":"chatglm4/x.png","file_url":"https://sfile.chatglm.cn/x.png","width":1024,"height":768}}' | seed_file "$d" answer
        printf '\x00[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},{"type":"file","file":{"file_data":"JVBERi0xLjQK","filename":"a.pdf"}},{"type":"file","file_url":"https://x.cn/y.docx"},{"type":"image_url","image_url":"data:,abc"}]}]' | seed_file "$d" messages ;;
    http)
        # Requests as the e2e tests send them: plain, pipelined, chunked, HTTP/1.0, 100-continue, streamed.
        printf 'GET /ping HTTP/1.1\r\nHost: x\r\n\r\n' | seed_file "$d" get
        printf 'POST /v1/chat/completions?a=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a":"b"}\r\n' | seed_file "$d" post
        printf 'POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n' | seed_file "$d" chunked
        printf 'GET /a HTTP/1.1\r\n\r\nPOST /s HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' | seed_file "$d" pipelined
        printf 'POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc' | seed_file "$d" expect
        printf 'OPTIONS * HTTP/1.1\r\nHost: x\r\nX-Long: %s\r\n\r\n' "$(head -c 3000 /dev/zero | tr '\0' a)" | seed_file "$d" long-header ;;
    http_parse)
        # The http seeds as heads (byte 0 even: head mode, 4,000-byte body cap), and a chunk-size line.
        local tmp
        tmp=$(mktemp -d)
        make_seeds http "$tmp"
        for f in "$tmp"/*; do { printf '\x08'; cat "$f"; } | seed_file "$d" "$(basename "$f")"; done
        printf '\x015;ext=1\r\n' | seed_file "$d" chunk-size
        rm -rf "$tmp" ;;
    guard)
        printf '\x00files.lan,10.1.0.0/16,127.0.0.1:9000,[::1]:8443,fd00::/8,::ffff:10.0.0.0/104' | seed_file "$d" allow
        printf '\x01HTTPS://[::1]:8443/x?y=1' | seed_file "$d" url
        printf '\x02\x50::ffff:127.0.0.1' | seed_file "$d" mapped
        printf '\x02\x50169.254.169.254' | seed_file "$d" metadata ;;
    redis_url)
        for u in 'redis://127.0.0.1:6379/0' 'redis://:p%40ss@redis:6380/2' 'redis://app:pw@[::1]:7000/1' \
                 'unix:/run/redis/redis.sock?db=3&password=x' 'redis+unix:///tmp/r.sock'; do
            i=$((i + 1)); printf '%s' "$u" | seed_file "$d" "url-$i"
        done ;;
    answer)
        # Byte 0: the HTTP status (bits 0-2) and the stream flag (bit 3); then an error body,
        # or a drawing frame (the data lines of the drawing fixtures).
        printf '\x08{"status":10061,"message":"busy"}' | seed_file "$d" busy
        printf '\x03{"status":40001,"message":"bad request(40001)"}' | seed_file "$d" bad-request
        printf '\x0d<html>502</html>' | seed_file "$d" html
        for f in tests/fixtures/chat-drawing.sse tests/fixtures/chat-intervene.sse; do
            sed -n 's/^data: \{0,1\}//p' "$f" | head -40 | while IFS= read -r l; do
                i=$((i + 1)); printf '\x00%s' "$l" | seed_file "$d" "$(basename "$f")-$i"
            done
        done ;;
    openai)
        for f in tests/fixtures/chat-plain.sse tests/fixtures/chat-think.sse; do head -c 2000 "$f" | seed_file "$d" "$(basename "$f")"; done
        printf 'a\xff\xfe\xc3(\xe2\x82\x00"\\\x01z' | seed_file "$d" invalid ;;
    esac
}

summary=()
status=0
for t in $targets; do
    [ -f "fuzz/fuzz_$t.c" ] || { echo "fuzz: unknown target $t"; exit 2; }
    bin=$O/fuzz_$t
    echo "fuzz: building $t"
    # shellcheck disable=SC2086
    if ! $CC $FLAGS -o "$bin" "fuzz/fuzz_$t.c" $LIBS; then
        summary+=("$t: BUILD FAILED"); status=1; continue
    fi
    corpus=$O/corpus/$t
    mkdir -p "$corpus"
    make_seeds "$t" "$corpus"
    dirs=("$corpus")
    [ -d "fuzz/seeds/$t" ] && dirs+=("fuzz/seeds/$t")
    dict=()
    [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
    log=$O/logs/$t.log
    echo "fuzz: running $t for ${secs}s"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
        "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$O/crashes/$t-" "${dict[@]}" "${dirs[@]}" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    units=$(ls "$corpus" | wc -l)
    if [ $rc -ne 0 ]; then
        status=1
        echo "fuzz: $t FAILED (status $rc); the end of $log:"
        tail -40 "$log"
        summary+=("$t: ${execs:-?} executions, corpus $units, FAILED (input in $O/crashes/)")
    else
        summary+=("$t: ${execs:-?} executions, corpus $units, ok")
    fi
done

echo "fuzz summary (${secs}s per target):"
for l in "${summary[@]}"; do echo "  $l"; done
exit $status
