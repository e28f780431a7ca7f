# bench/report.awk: the results writer of bench/run.sh. Reads one line per
# run ("scenario=NAME run=N key=value ...") and prints the Markdown report:
# the table of medians, the scenario 3 floors, the soak, start-up, and every
# target of issue 5 with its measured value. Portable awk (Debian's mawk).
#   awk -v machine=... -v tools=... -v runs=N -v dur=S -v quick=0|1
#       -v elapsed=S -v date=D -v commit=C -f bench/report.awk results.txt

{
    s = ""; r = 0
    for (i = 1; i <= NF; i++) {
        k = $i; sub(/=.*/, "", k)
        v = $i; sub(/^[^=]*=/, "", v)
        if (k == "scenario") s = v
        else if (k == "run") r = v
        else { val[s, k, ++cnt[s, k]] = v; seen[s] = 1 }
    }
}

# The median of the runs' values of key k in scenario s ("" when none).
function med(s, k,    n, i, j, t, a) {
    n = cnt[s, k]
    if (!n) return ""
    for (i = 1; i <= n; i++) a[i] = val[s, k, i] + 0
    for (i = 2; i <= n; i++) {
        t = a[i]
        for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
    if (n % 2) return a[(n + 1) / 2]
    return (a[n / 2] + a[n / 2 + 1]) / 2
}
function mx(s, k,    n, i, m) {
    n = cnt[s, k]
    if (!n) return ""
    m = val[s, k, 1] + 0
    for (i = 2; i <= n; i++) if (val[s, k, i] + 0 > m) m = val[s, k, i] + 0
    return m
}
function mn(s, k,    n, i, m) {
    n = cnt[s, k]
    if (!n) return ""
    m = val[s, k, 1] + 0
    for (i = 2; i <= n; i++) if (val[s, k, i] + 0 < m) m = val[s, k, i] + 0
    return m
}
function f(x, fmt) { return x == "" ? "–" : sprintf(fmt, x) }
# The errors cell: the worst run, and a server that died.
function errs(s) { return f(mx(s, "errors"), "%d") (mn(s, "server_up") == 0 || mn(s, "up_at_end") == 0 ? ", **server died**" : "") }
function mb(kb) { return kb == "" ? "–" : sprintf("%.1f", kb / 1024) }
function pair(a, b, fmt) { return f(a, fmt) " / " f(b, fmt) }
function has(s) { return (s in seen) }

function row_load(label, s, floor,    per, ttft, add) {
    if (!has(s)) return
    per = ""
    if (med(s, "hwm_kb") != "" && med(s, "conns") >= 50)
        per = (med(s, "hwm_kb") - med(s, "idle_kb")) / med(s, "conns")
    add = "–"
    if (floor != "" && has(floor))
        add = pair(med(s, "ttft_p50_ms") - med(floor, "ttft_p50_ms"),
                   med(s, "ttft_p99_ms") - med(floor, "ttft_p99_ms"), "%.2f")
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, f(med(s, "rps"), "%.0f"),
        pair(med(s, "lat_p50_ms"), med(s, "lat_p99_ms"), "%.2f"),
        pair(med(s, "ttft_p50_ms"), med(s, "ttft_p99_ms"), "%.2f"), add,
        f(med(s, "cpu_per_k"), "%.3f"), mb(med(s, "hwm_kb")), f(per, "%.1f"), errs(s)
}

function row_floor(label, s) {
    if (!has(s)) return
    printf "| %s | %s | %s | %s | – | (mock: %s) | – | – | %s |\n", label, f(med(s, "rps"), "%.0f"),
        pair(med(s, "lat_p50_ms"), med(s, "lat_p99_ms"), "%.2f"),
        pair(med(s, "ttft_p50_ms"), med(s, "ttft_p99_ms"), "%.2f"),
        f(med(s, "mock_cpu_per_k"), "%.3f"), errs(s)
}

# The paced first-token run through bench/relay (a proxy that only copies
# bytes), and what that relay adds over the mock alone.
function row_relay(label, s) {
    if (!has(s) || med(s, "relay_ttft_p50_ms") == "") return
    printf "| %s | – | – | %s | %s | – | – | – | – |\n", label,
        pair(med(s, "relay_ttft_p50_ms"), med(s, "relay_ttft_p99_ms"), "%.2f"),
        pair(med(s, "relay_ttft_p50_ms") - med(s, "ttft_p50_ms"),
             med(s, "relay_ttft_p99_ms") - med(s, "ttft_p99_ms"), "%.2f")
}

function row_long(label, s) {
    if (!has(s)) return
    printf "| %s | – | %s | %s | – | %s per answer | %s | – | %s%s |\n", label,
        pair(med(s, "lat_p50_ms"), med(s, "lat_p99_ms"), "%.1f"), f(med(s, "ttft_p50_ms"), "%.2f"),
        f(med(s, "cpu_per_answer"), "%.3f"), mb(med(s, "hwm_kb")), errs(s),
        mn(s, "exact") == 1 ? ", text exact" : ", TEXT DIFFERS"
}

function row_slow(label, s) {
    if (!has(s)) return
    printf "| %s | – | %s | %s | – | %s | %s | %s | %s |\n", label,
        pair(med(s, "lat_p50_ms") / 1000, med(s, "lat_p99_ms") / 1000, "%.1f s"),
        pair(med(s, "ttft_p50_ms"), med(s, "ttft_p99_ms"), "%.2f"), f(med(s, "cpu_per_k"), "%.3f"),
        mb(med(s, "peak_kb")), f(med(s, "per_stream_kb"), "%.1f"), errs(s)
}

# Scenario 7 (issue 18): the paced stream, server and mock CPU of the same run.
function row_paced(label, s,    sc, mc) {
    if (!has(s)) return
    sc = med(s, "cpu_per_k"); mc = med(s, "mock_cpu_per_k")
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, f(med(s, "rps"), "%.0f"),
        pair(med(s, "lat_p50_ms"), med(s, "lat_p99_ms"), "%.2f"),
        pair(med(s, "ttft_p50_ms"), med(s, "ttft_p99_ms"), "%.2f"),
        f(sc, "%.3f"), f(mc, "%.3f"), (mc > 0 ? sprintf("%.2f", sc / mc) : "–"),
        f(sc * 1000 / med(s, "frames"), "%.1f"), errs(s)
}

# A soak's sentence; RSS growth only when the server lived to the end.
function soak_text(s, how,    g) {
    g = growth(s)
    return sprintf("%d requests (streamed and not: plain, reasoning, search, 200-frame answers; 40 connections%s; one request in ten dropped by the client after its first token): %d completed, %d dropped by the client, %d errors, %.0f/s; %s%s",
        med(s, "requests"), how == "" ? "" : "; " how, med(s, "ok"), med(s, "aborted"), med(s, "errors"), med(s, "rps"),
        g == "" ? (s == "soak-asan" ? "RSS not compared (ASan's quarantine keeps freed memory)" : "RSS not compared") : sprintf("RSS %s MB after the first %d, %s MB at the end (%+.1f %%)", mb(med(s, "rss_at_kb")), med(s, "at"), mb(med(s, "rss_end_kb")), g),
        (mn(s, "up_at_end") == 0 ? "; **the server died** (see the notes)" : "") \
        (med(s, "sanitizer_reports") > 0 ? "; **a sanitizer report**" : (s == "soak-asan" ? "; no sanitizer or leak report" : "")) ".")
}
function growth(s) {
    # ASan's quarantine holds freed memory on purpose: its RSS says nothing.
    if (s == "soak-asan" || mn(s, "up_at_end") == 0 || med(s, "rss_at_kb") <= 0 || med(s, "rss_end_kb") <= 0) return ""
    return (med(s, "rss_end_kb") - med(s, "rss_at_kb")) * 100 / med(s, "rss_at_kb")
}

# One line of the targets table.
function target(what, measured, ok) {
    printf "| %s | %s | %s |\n", what, measured, ok == "" ? "–" : (ok ? "yes" : "**no**")
    if (ok != "" && !ok) missed++
}

END {
    printf "# glm-free-api benchmark, %s%s\n\n", date, quick == 1 ? " (quick smoke run: not for comparison)" : ""
    printf "- Machine: %s; %s (other work on the machine shows in the latencies).\n", machine, load
    printf "- Tools: %s\n", tools
    printf "- Commit %s; every scenario %d time%s against a fresh mock and server, medians shown; loads of %s s; whole run %s s.\n",
        commit, runs, runs == 1 ? "" : "s", dur, elapsed
    printf "- All traffic on 127.0.0.1: wrk (2 threads) or bench/loadgen -> server -> mock (tests/mock --fast), three processes sharing the machine's CPUs. Server CPU from /proc/<pid>/stat (user + system), memory from /proc/<pid>/status.\n\n"

    printf "| scenario | completions/s | latency p50 / p99 (ms) | first token p50 / p99 (ms) | added by the server p50 / p99 (ms) | server CPU s per 1,000 | peak RSS (MB) | RSS per stream (KB) | errors |\n"
    printf "|---|---|---|---|---|---|---|---|---|\n"
    row_load("1. streamed, 20 frames, c=1", "s1-c1", "s5-c1")
    row_load("1. streamed, 20 frames, c=50", "s1-c50", "s5-c50")
    row_load("1. streamed, 20 frames, c=500", "s1-c500", "s5-c500")
    row_load("2. not streamed, c=50", "s2-c50", "")
    row_floor("5. floor: the mock directly, c=1", "s5-c1")
    row_floor("5. floor: the mock directly, c=50", "s5-c50")
    row_floor("5. floor: the mock directly, c=500", "s5-c500")
    row_relay("5. floor: a byte-copying relay in front of the mock, c=1", "s5-c1")
    row_relay("5. floor: a byte-copying relay in front of the mock, c=50", "s5-c50")
    if (has("s3-v1"))
        row_long(sprintf("3. %.0f KB answer, v1 (2,000 cumulative frames, %.0f MB)", med("s3-v1", "answer_bytes") / 1024, med("s3-v1", "upstream_bytes") / 1048576), "s3-v1")
    if (has("s3-v2"))
        row_long(sprintf("3. %.0f KB answer, v2 (2,000 delta frames, %.1f MB)", med("s3-v2", "answer_bytes") / 1024, med("s3-v2", "upstream_bytes") / 1048576), "s3-v2")
    if (has("s3-v1-half"))
        row_long(sprintf("3. %.0f KB answer, v1 (1,000 frames, %.0f MB)", med("s3-v1-half", "answer_bytes") / 1024, med("s3-v1-half", "upstream_bytes") / 1048576), "s3-v1-half")
    row_slow(sprintf("4. %d slow streams (1 frame/s, held ~30 s; accounts known)", med("s4", "conns")), "s4")
    row_slow(sprintf("4. %d slow streams", med("s4-small", "conns")), "s4-small")
    row_load("8. the Responses API, streamed, c=50", "s8-responses-c50", "")
    row_load("8. the Messages API, streamed, c=50", "s8-messages-c50", "")
    row_load("6. pool size: 1 account in the header, c=50", "s6-header-1", "")
    row_load("6. pool size: 64 accounts in the header, c=50", "s6-header-64", "")
    row_load("6. pool size: 600 accounts in the header, c=50", "s6-header-600", "")
    row_load("6. pool size: 1 server-side account, c=50", "s6-server-1", "")
    row_load("6. pool size: 64 server-side accounts, c=50", "s6-server-64", "")
    row_load("6. pool size: 600 server-side accounts, c=50", "s6-server-600", "")
    if (has("replicas-sqlite") || has("replicas-redis")) {
        printf "\n| two replicas, c=50 in all (bench/loadgen, 25 connections each) | answers/s | servers' CPU s per 1,000 | Redis CPU s per 1,000 | errors |\n|---|---|---|---|---|\n"
        if (has("replicas-sqlite"))
            printf "| state sqlite (each replica its own store and accounts) | %s | %s | – | %s |\n", f(med("replicas-sqlite", "rps"), "%.0f"), f(med("replicas-sqlite", "cpu_per_k"), "%.3f"), errs("replicas-sqlite")
        if (has("replicas-redis"))
            printf "| state redis (leases and refreshes shared in one redis-server) | %s | %s | %s | %s |\n", f(med("replicas-redis", "rps"), "%.0f"), f(med("replicas-redis", "cpu_per_k"), "%.3f"), f(med("replicas-redis", "redis_cpu_per_k"), "%.3f"), errs("replicas-redis")
    }
    if (has("p-c1") || has("p-c50") || has("p-c500")) {
        g = med(has("p-c50") ? "p-c50" : (has("p-c1") ? "p-c1" : "p-c500"), "gap_ms")
        printf "\n| 7. paced stream: %d text frames %s ms apart (bench/loadgen, one account per connection) | answers/s | latency p50 / p99 (ms) | first token p50 / p99 (ms) | server CPU s per 1,000 | mock CPU s per 1,000 | server / mock | server CPU µs per frame | errors |\n|---|---|---|---|---|---|---|---|---|\n", \
            med(has("p-c50") ? "p-c50" : (has("p-c1") ? "p-c1" : "p-c500"), "frames"), g
        row_paced("c=1", "p-c1")
        row_paced("c=50", "p-c50")
        row_paced("c=500", "p-c500")
        if (has("p-c1") && med("p-c1", "mock_ttft_p50_ms") != "")
            printf "\nPaced, c=1, first token: through the server %.3f ms (p50), straight from the mock %.3f ms, through bench/relay %.3f ms: the server adds %.3f ms, the byte-copying relay %.3f ms. Server and mock CPU are read from /proc/<pid>/stat over the same load, so the ratio holds on a shared machine; each figure alone moves with the machine's other work (10 ms ticks).\n",
                med("p-c1", "ttft_p50_ms"), med("p-c1", "mock_ttft_p50_ms"), med("p-c1", "relay_ttft_p50_ms"),
                med("p-c1", "ttft_p50_ms") - med("p-c1", "mock_ttft_p50_ms"), med("p-c1", "relay_ttft_p50_ms") - med("p-c1", "mock_ttft_p50_ms")
    }
    printf "\nColumns: completions/s, latency, CPU and peak RSS come from wrk keeping every connection busy (the machine saturated: wrk, server and mock share its CPUs); scenario 4 from bench/loadgen, where latency is the whole stream. First token: a separate paced run with the same number of connections sending 500 requests a second in all (well below capacity, so that it times the server rather than the queue for the CPU), from sending the request to the first content delta (the mock: to its first text frame); added by the server: that time through the server minus the same through the mock alone (scenario 5). The relay rows put that in scale: bench/relay is a proxy that does nothing but copy bytes (two blocking threads per connection, each write as soon as its read returns), so what it adds is what one more process in the path costs on this machine (wake-ups, copies, three processes on two CPUs) before any work. RSS per stream: (peak RSS - RSS before the load) / concurrent streams; in scenario 4 \"before the load\" is the server once each stream's account has refreshed its token (a warm-up of one quick answer per account), so that the figure is what an open stream costs, not what a new account costs.\n\n"

    if (has("s3-v1")) {
        printf "Scenario 3 floors, on the same upstream bytes read from memory by bench/replay (no network): the SSE framer alone %s s (v1), %s s (v2); the server's whole stream path (framer, renderer, OpenAI chunks, token count) %s s (v1), %s s (v2). The rest of the server's time is receiving the bytes (kernel, libcurl) and sending the answer.\n\n",
            f(med("s3-v1", "sse_floor_s"), "%.4f"), f(med("s3-v2", "sse_floor_s"), "%.4f"),
            f(med("s3-v1", "path_offline_s"), "%.4f"), f(med("s3-v2", "path_offline_s"), "%.4f")
    }
    if (has("soak"))
        printf "Soak: %s\n\n", soak_text("soak", "accounts from a pool of 2,000, so that no request waits for its account")
    if (has("soak-queue"))
        printf "Soak with account waits: %s\n\n", soak_text("soak-queue", "accounts from a pool of 160, so that requests sometimes wait for an account still busy with an earlier answer")
    if (has("soak-asan"))
        printf "Soak under ASan+LSan (accounts from a pool of 160): %s\n\n", soak_text("soak-asan", "")
    if (has("startup"))
        printf "Start-up to the first served request (GET /ping, from fork, with a new account store): %s ms; for scale, `glm-free-api --check-config` (load its %d shared libraries, read the settings, exit) takes %s ms. RSS then %s MB, of which %s MB private (RssAnon); the rest are pages of the shared libraries (libcurl and its dependencies, OpenSSL, SQLite, libevent, jansson), which every process using them shares. For scale, bench/rssfloor, a program that only links the same libraries, has %s MB resident on entering main() (the loader and the libraries' constructors: Debian's libcurl brings GnuTLS, Kerberos, LDAP, SSH and more) and %s MB after curl_global_init().\n\n",
            f(med("startup", "startup_ms"), "%.1f"), med("startup", "libs"), f(med("startup", "check_ms"), "%d"), mb(med("startup", "idle_kb")), mb(med("startup", "idle_anon_kb")),
            mb(med("startup", "floor_main_kb")), mb(med("startup", "floor_init_kb"))

    printf "## Targets (issue 5)\n\n| target | measured | met |\n|---|---|---|\n"
    missed = 0
    c = med("s1-c50", "cpu_per_k")
    if (c != "") {
        target("1 (c=50): server CPU <= 0.25 s per 1,000 completions", sprintf("%.3f s", c), c <= 0.25)
        target("1 (c=50): stretch, <= 0.12 s per 1,000", sprintf("%.3f s", c), c <= 0.12)
    }
    if (has("s1-c50") && has("s5-c50")) {
        a = med("s1-c50", "ttft_p50_ms") - med("s5-c50", "ttft_p50_ms")
        b = med("s1-c50", "ttft_p99_ms") - med("s5-c50", "ttft_p99_ms")
        target("1 (c=50): added time to first token p50 <= 0.2 ms", sprintf("%.2f ms", a), a <= 0.2)
        target("1 (c=50): added time to first token p99 <= 1 ms", sprintf("%.2f ms", b), b <= 1)
    }
    if (has("s1-c1") && has("s5-c1")) {
        a = med("s1-c1", "ttft_p50_ms") - med("s5-c1", "ttft_p50_ms")
        b = med("s1-c1", "ttft_p99_ms") - med("s5-c1", "ttft_p99_ms")
        target("(for scale, c=1: added time to first token p50 / p99)", sprintf("%.2f / %.2f ms", a, b), "")
    }
    if (has("s5-c1") && has("s5-c50") && med("s5-c1", "relay_ttft_p50_ms") != "") {
        target("(for scale: what a byte-copying relay adds, p50 at c=1 / c=50)", sprintf("%.2f / %.2f ms", med("s5-c1", "relay_ttft_p50_ms") - med("s5-c1", "ttft_p50_ms"), med("s5-c50", "relay_ttft_p50_ms") - med("s5-c50", "ttft_p50_ms")), "")
    }
    if (has("s3-v1")) {
        c = med("s3-v1", "cpu_per_answer")
        target("3: <= 0.25 CPU s for the 100 KB v1 answer, exact text", sprintf("%.3f s, %s", c, mn("s3-v1", "exact") == 1 ? "exact" : "NOT exact"), c <= 0.25 && mn("s3-v1", "exact") == 1)
    }
    if (has("s3-v2")) {
        c = med("s3-v2", "cpu_per_answer")
        target("3: v2 at most the same", sprintf("%.3f s, %s", c, mn("s3-v2", "exact") == 1 ? "exact" : "NOT exact"), c <= 0.25 && mn("s3-v2", "exact") == 1)
    }
    if (has("s3-v1") && has("s3-v1-half")) {
        bytes = med("s3-v1", "upstream_bytes") / med("s3-v1-half", "upstream_bytes")
        cpu = med("s3-v1", "cpu_per_answer") / med("s3-v1-half", "cpu_per_answer")
        target("3: nothing quadratic beyond the upstream's repetition (CPU grows like the bytes received)", sprintf("answer x2: bytes x%.1f, CPU x%.1f", bytes, cpu), cpu <= bytes * 1.5)
    }
    if (has("s4")) {
        n = med("s4", "conns")
        target(sprintf("4: %d concurrent streams held, zero errors", n), sprintf("%d held at once, %d errors", med("s4", "open_peak"), mx("s4", "errors")), mx("s4", "errors") == 0 && med("s4", "open_peak") >= n)
        c = med("s4", "per_stream_kb")
        target("4: <= 32 KB of RSS per open stream above idle", sprintf("%.1f KB", c), c <= 32)
    }
    if (has("startup") && med("startup", "idle_kb") > 0) {
        c = med("startup", "idle_kb") / 1024
        target("4: idle RSS < 8 MB", sprintf("%.1f MB (private: %.1f MB; a program only linking the same libraries: %.1f MB at main(), %.1f MB after curl_global_init)", c, med("startup", "idle_anon_kb") / 1024, med("startup", "floor_main_kb") / 1024, med("startup", "floor_init_kb") / 1024), c < 8)
    }
    if (has("s4-small")) {
        c = med("s4-small", "peak_kb") / 1024
        target(sprintf("4: %d concurrent streams < 30 MB in all", med("s4-small", "conns")), sprintf("%.1f MB", c), c < 30)
    }
    if (has("s1-c50") && has("s8-responses-c50") && has("s8-messages-c50")) {
        c = med("s1-c50", "cpu_per_k")
        printf "\nDialects (CPU per 1,000 streamed answers at c=50 against chat completions' %.3f s): Responses %.3f s (%+.1f %%), Messages %.3f s (%+.1f %%); bound: within 10 %%.\n\n", c,
            med("s8-responses-c50", "cpu_per_k"), c ? (med("s8-responses-c50", "cpu_per_k") / c - 1) * 100 : 0,
            med("s8-messages-c50", "cpu_per_k"), c ? (med("s8-messages-c50", "cpu_per_k") / c - 1) * 100 : 0
    }
    if (has("s6-header-64") && has("s6-header-600")) {
        a = med("s6-header-64", "cpu_per_k"); b = med("s6-header-600", "cpu_per_k")
        target("6 (issue 12): 600 accounts in the header cost within 15 % of 64 (CPU s per 1,000)", sprintf("%.3f vs %.3f (%+.0f %%)", b, a, a > 0 ? (b / a - 1) * 100 : 0), b <= a * 1.15)
    }
    if (has("s6-server-64") && has("s6-server-600")) {
        a = med("s6-server-64", "cpu_per_k"); b = med("s6-server-600", "cpu_per_k")
        target("6 (issue 12): 600 server-side accounts cost within 15 % of 64 (CPU s per 1,000)", sprintf("%.3f vs %.3f (%+.0f %%)", b, a, a > 0 ? (b / a - 1) * 100 : 0), b <= a * 1.15)
    }
    for (i = 1; i <= 2; i++) {
        ps = i == 1 ? "p-c50" : "p-c500"
        if (has(ps) && med(ps, "mock_cpu_per_k") > 0) {
            a = med(ps, "cpu_per_k") / med(ps, "mock_cpu_per_k")
            target(sprintf("7 (issue 18, %s): server CPU per 1,000 paced answers <= 2.0 x the mock's", ps == "p-c50" ? "c=50" : "c=500"),
                   sprintf("%.3f s vs %.3f s: %.2f x", med(ps, "cpu_per_k"), med(ps, "mock_cpu_per_k"), a), a <= 2.0)
        }
    }
    if (has("p-c1") && med("p-c1", "mock_ttft_p50_ms") != "") {
        a = med("p-c1", "ttft_p50_ms") - med("p-c1", "mock_ttft_p50_ms")
        target("7 (issue 18, c=1): first token added by the server, paced, p50 <= 0.25 ms", sprintf("%.3f ms (relay: %.3f ms)", a, med("p-c1", "relay_ttft_p50_ms") - med("p-c1", "mock_ttft_p50_ms")), a <= 0.25)
    }
    if (has("soak")) {
        g = growth("soak")
        target(sprintf("soak (%d requests): RSS at the end within 5 %% of RSS after the first %d", med("soak", "requests"), med("soak", "at")),
               g == "" ? "not measured (the server died)" : sprintf("%+.1f %%", g), g != "" && g <= 5 && g >= -5)
        target("soak: no error", sprintf("%d errors%s", med("soak", "errors"), mn("soak", "up_at_end") == 0 ? ", the server died" : ""), med("soak", "errors") == 0 && mn("soak", "up_at_end") != 0)
    }
    if (has("soak-queue"))
        target("soak with account waits: no error", sprintf("%d errors%s", med("soak-queue", "errors"), mn("soak-queue", "up_at_end") == 0 ? ", the server died" : ""), med("soak-queue", "errors") == 0 && mn("soak-queue", "up_at_end") != 0)
    if (has("soak-asan"))
        target("soak: no leak report (ASan+LSan build)", sprintf("%s, %d errors%s", med("soak-asan", "sanitizer_reports") == 0 ? "no report" : "a sanitizer report", med("soak-asan", "errors"), mn("soak-asan", "up_at_end") == 0 ? ", the server died" : ""), med("soak-asan", "sanitizer_reports") == 0 && med("soak-asan", "errors") == 0 && mn("soak-asan", "up_at_end") != 0)
    if (has("startup")) {
        c = med("startup", "startup_ms")
        target("start-up to first served request < 50 ms", c < 0 ? "did not start" : sprintf("%.1f ms", c), c >= 0 && c < 50)
    }
    printf "\n%s\n", missed ? sprintf("%d target%s missed: see the notes.", missed, missed == 1 ? "" : "s") : "Every target met."
}
