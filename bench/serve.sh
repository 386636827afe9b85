#!/usr/bin/env bash
# bench/serve.sh BIN_DIR: `make bench-serve`, pcrvm serve under load
# (docs/benchmarks.md, docs/serve.md).
#
# Starts `pcrvm serve` on 127.0.0.1 (a free port) with the four payers'
# policies and drives it with wrk (Debian `wrk`, installed when missing) at
# BENCH_CONNS connections for BENCH_SECONDS per scenario:
#   decide-1      POST /v1/decide, one record per request
#   decide-1000   POST /v1/decide, 1,000 records per request
#   order-sign    POST /cds-services/pcr-order-sign, one CRD order-sign hook
# and prints requests/s, records/s, p50 and p99 latency, non-2xx answers and
# socket errors. Through each run it samples the server's resident memory
# (VmRSS of /proc/PID/status, every BENCH_RSS_EVERY seconds) and judges its
# growth after a warm-up (bench/rss_judge.awk): the least-squares slope of
# RSS over time, and the largest RSS of the last window against that of the
# first. Exits non-zero when something fails (wrk, an error, a non-2xx
# answer, memory that grows), never because it is slow.
#
# Environment (all optional): BENCH_SECONDS (20), BENCH_CONNS (64),
# BENCH_THREADS server workers (CPUs), BENCH_WRK_THREADS (2),
# BENCH_DIR (build/bench-serve), BENCH_RSS_EVERY (2 s; 1 s under 60 s),
# BENCH_TIMEOUT (10 s: an answer slower than this counts as a wrk error).
# The 5-minute soak of docs/benchmarks.md: `make soak-serve`
# (BENCH_SECONDS=300).
set -u
BIN=${1:?usage: bench/serve.sh BIN_DIR}
SECS=${BENCH_SECONDS:-20}
CONNS=${BENCH_CONNS:-64}
WT=${BENCH_WRK_THREADS:-2}
TIMEOUT=${BENCH_TIMEOUT:-10}
DIR=${BENCH_DIR:-build/bench-serve}
ROOT=$(pwd)

if ! command -v wrk >/dev/null 2>&1; then
    . "$ROOT/scripts/apt.sh"
    apt_install bench-serve wrk
fi
mkdir -p "$DIR" || exit 2
DIR=$(cd "$DIR" && pwd)

for p in alliant cigna healthlink ibx; do
    "$BIN/pcrc" "policies/$p.pcr" -o "$DIR/$p.pcrb" || exit 2
done
REQS=policies/examples/requests.jsonl
head -1 "$REQS" >"$DIR/one.jsonl"
: >"$DIR/thousand.jsonl"
while [ "$(wc -l <"$DIR/thousand.jsonl")" -lt 1000 ]; do cat "$REQS" >>"$DIR/thousand.jsonl"; done
head -1000 "$DIR/thousand.jsonl" >"$DIR/t.tmp" && mv "$DIR/t.tmp" "$DIR/thousand.jsonl"

# wrk scripts: a POST of one file's bytes.
post_script() { # post_script BODYFILE CONTENT_TYPE PATH > script.lua
    cat <<EOF
local f = assert(io.open("$1", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.path = "$3"
wrk.headers["Content-Type"] = "$2"
EOF
}
post_script "$DIR/one.jsonl" application/x-ndjson /v1/decide >"$DIR/one.lua"
post_script "$DIR/thousand.jsonl" application/x-ndjson /v1/decide >"$DIR/thousand.lua"
post_script "$ROOT/tests/crd/order-sign-bench.json" application/json /cds-services/pcr-order-sign \
    >"$DIR/order-sign.lua"

LOG=$DIR/server.log
threads_opt=""
[ -n "${BENCH_THREADS:-}" ] && threads_opt="--threads $BENCH_THREADS"
# shellcheck disable=SC2086
"$BIN/pcrvm" serve --listen 127.0.0.1:0 $threads_opt "$DIR"/alliant.pcrb "$DIR"/cigna.pcrb \
    "$DIR"/healthlink.pcrb "$DIR"/ibx.pcrb 2>"$LOG" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
PORT=""
for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*"listen":"127.0.0.1:\([0-9]*\)".*/\1/p' "$LOG")
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { echo "bench-serve: the server did not start"; cat "$LOG"; exit 2; }
URL=http://127.0.0.1:$PORT
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$PID/status"; }
EVERY=${BENCH_RSS_EVERY:-$([ "$SECS" -ge 60 ] && echo 2 || echo 1)}
# sample_rss OUT: "seconds-since-start kB" lines every EVERY s until killed
sample_rss() {
    local t0 now
    t0=$(date +%s.%N)
    while kill -0 "$PID" 2>/dev/null; do
        now=$(date +%s.%N)
        echo "$(awk -v a="$now" -v b="$t0" 'BEGIN {printf "%.2f", a - b}') $(rss)"
        sleep "$EVERY"
    done >"$1"
}

echo "pcrvm serve, $(grep -o '"threads":[0-9]*' "$LOG" | cut -d: -f2) workers; wrk $WT threads," \
    "$CONNS connections, $SECS s per scenario; $(nproc) CPUs shared with wrk"
# p50/p99 are wrk's (client side, queueing on the shared CPUs included);
# srv-p50/srv-p99 are the server's own, from the access log's "us"
# (headers received to response queued, upload time included).
srv_pct() { # srv_pct FROM_LINE PATH: "p50 p99" of the access log's us after FROM_LINE
    # one pass, a histogram of 10 us steps (each percentile is its step's
    # upper edge): no sort of the millions of lines a soak logs
    tail -n +"$1" "$LOG" | awk -v p="\"path\":\"$2\",\"status\":200," '
        index($0, p) { i = index($0, "\"us\":"); k = int((substr($0, i + 5) + 0) / 10)
                       h[k]++; n++; if (k > max) max = k }
        END {
            if (!n) { print "- -"; exit }
            for (k = 0; k <= max; k++) {
                c += h[k]
                if (p50 == "" && c >= n * 0.5) p50 = k
                if (c >= n * 0.99) { p99 = k; break }
            }
            printf "%.2fms %.2fms", (p50 + 1) / 100, (p99 + 1) / 100
        }'
}
printf '%-12s %10s %12s %9s %9s %9s %9s %8s %8s\n' scenario req/s records/s p50 p99 srv-p50 srv-p99 \
    non-2xx errors
status=0
mem=()
for sc in one:1:decide-1 thousand:1000:decide-1000 order-sign:1:order-sign; do
    IFS=: read -r file recs name <<<"$sc"
    # a short warm-up, then the measured run
    wrk -t1 -c4 -d1s -s "$DIR/$file.lua" "$URL" >/dev/null 2>&1
    from=$(($(wc -l <"$LOG") + 1))
    sample_rss "$DIR/$name.rss" &
    SAMPLER=$!
    out=$(wrk -t"$WT" -c"$CONNS" -d"${SECS}s" --timeout "${TIMEOUT}s" --latency -s "$DIR/$file.lua" "$URL" 2>&1)
    wst=$?
    kill "$SAMPLER" 2>/dev/null
    wait "$SAMPLER" 2>/dev/null
    [ $wst -eq 0 ] || { echo "bench-serve: wrk failed for $name"; echo "$out"; status=1; continue; }
    echo "$out" >"$DIR/$name.wrk"
    rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    errs=$(echo "$out" | awk '/Socket errors/ {print $0}' | sed 's/.*errors: //')
    recps=$(awk -v r="$rps" -v n="$recs" 'BEGIN {printf "%.0f", r * n}')
    case $name in order-sign) p=/cds-services/pcr-order-sign ;; *) p=/v1/decide ;; esac
    read -r sp50 sp99 <<<"$(srv_pct "$from" "$p")"
    printf '%-12s %10s %12s %9s %9s %9s %9s %8s %8s\n' "$name" "$rps" "$recps" \
        "$p50" "$p99" "$sp50" "$sp99" "${non2xx:-0}" "${errs:-none}"
    [ "${non2xx:-0}" = 0 ] && [ -z "$errs" ] || status=1
    mem[${#mem[@]}]=$(awk -v name="$name" -v secs="$SECS" -f "$ROOT/bench/rss_judge.awk" \
        "$DIR/$name.rss")
done
echo "memory (kB; after a warm-up: slope by least squares, largest RSS of the first and last window)"
printf '%-12s %8s %8s %8s %12s %9s %9s %7s %7s  %s\n' scenario samples start end slope/min first-max \
    last-max growth noise verdict
for m in "${mem[@]}"; do
    echo "$m"
    case $m in *GROWS*) status=1 ;; esac
done
exit $status
