#!/bin/sh
# bench/peers.sh BIN_DIR: `make bench-peers` (docs/benchmarks.md, "Peers").
#
# The peer benchmark of ../shared/peers: its batch generator's records, its
# 42-rule policy as bench/peers/policy.pcr for pcrvm, and the same policy
# hand-written for Node.js and LuaJIT (+ lua-cjson), with `jq -c .` (parse
# and print, no rules) as a floor. In one run, on one file:
#   1. checks that pcrvm and LuaJIT decide the first BENCH_CHECK records as
#      the Node.js reference does (decision, fired rules, member_responsible,
#      due date, late: bench/peers/to_peers.py turns pcrvm's line into
#      theirs) and fails if any record differs;
#   2. times each, interleaved, RUNS times (best wall and CPU time kept),
#      one core each (pcrvm -j 1), output to /dev/null, and prints records/s
#      by wall and by CPU time, peak RSS and each one's CPU time over
#      pcrvm's; then pcrvm once more with its default -j (every core);
#   3. counts pcrvm's instructions on the first BENCH_IR records with
#      valgrind --tool=callgrind (when valgrind is installed): a number that
#      a noisy shared machine does not move.
# Installs nodejs, luajit, lua-cjson and jq from Debian when missing (as
# root or through sudo). Skips, with a message and exit 0, when
# ../shared/peers is absent. Exits non-zero when a command fails or the
# decisions disagree, never because something is slow.
#
# Environment (optional): BENCH_N records (1000000), BENCH_RUNS (3),
# BENCH_CHECK records compared (100000), BENCH_IR records under callgrind
# (20000; 0: none), BENCH_DIR (build/bench-peers), PEERS (../shared/peers).
set -u

. "$(dirname "$0")/lib.sh"
take_bin_dir bench/peers.sh "$@"

fail() {
    echo "bench-peers: $*" >&2
    exit 1
}

N=${BENCH_N:-1000000}
RUNS=${BENCH_RUNS:-3}
CHECK=${BENCH_CHECK:-100000}
IR_N=${BENCH_IR:-20000}
DIR=${BENCH_DIR:-build/bench-peers}
PEERS=${PEERS:-../shared/peers}
for v in "$N" "$RUNS" "$CHECK" "$IR_N"; do
    case $v in
    '' | *[!0-9]*) fail "BENCH_N, BENCH_RUNS, BENCH_CHECK and BENCH_IR must be whole numbers" ;;
    esac
done
[ "$N" -ge 1 ] && [ "$RUNS" -ge 1 ] || fail "BENCH_N and BENCH_RUNS must be at least 1"
[ "$CHECK" -le "$N" ] || CHECK=$N
[ "$IR_N" -le "$N" ] || IR_N=$N

if [ ! -f "$PEERS/gen_requests.py" ]; then
    echo "bench-peers: skipped: $PEERS (the peer benchmark) is absent"
    exit 0
fi
need_tools "$BIN"

# ---- the tools -------------------------------------------------------------

. scripts/apt.sh
missing=
command -v python3 > /dev/null 2>&1 || missing="$missing python3"
command -v node > /dev/null 2>&1 || missing="$missing nodejs"
command -v luajit > /dev/null 2>&1 || missing="$missing luajit"
command -v jq > /dev/null 2>&1 || missing="$missing jq"
if command -v luajit > /dev/null 2>&1 && ! luajit -e 'require("cjson")' > /dev/null 2>&1; then
    missing="$missing lua-cjson"
elif ! command -v luajit > /dev/null 2>&1; then
    missing="$missing lua-cjson"
fi
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install bench-peers $missing
build_gen "$DIR"
GEN=$DIR/gen

# ---- the batch and the policy ---------------------------------------------

REQ=$DIR/requests.jsonl
want="gen_requests.py $N | $(cksum < "$PEERS/gen_requests.py") $(cksum < "$PEERS/codesets.json")"
if [ ! -f "$REQ" ] || [ "$(cat "$REQ.params" 2> /dev/null)" != "$want" ]; then
    echo "generating $REQ ($N records)" >&2
    rm -f "$REQ.params"
    python3 "$PEERS/gen_requests.py" "$N" -o "$REQ.tmp" || fail "gen_requests.py failed"
    mv "$REQ.tmp" "$REQ" && echo "$want" > "$REQ.params" || fail "cannot write $REQ"
fi
"$BIN/pcrc" bench/peers/policy.pcr -o "$DIR/peers.pcrb" || fail "bench/peers/policy.pcr does not compile"

# ---- 1. agreement -----------------------------------------------------------

head -n "$CHECK" "$REQ" > "$DIR/check.jsonl"
node "$PEERS/node/plain.js" < "$DIR/check.jsonl" > "$DIR/node.jsonl" || fail "node failed"
luajit "$PEERS/lua/policy.lua" "$PEERS/codesets.json" < "$DIR/check.jsonl" > "$DIR/luajit.jsonl" ||
    fail "luajit failed"
"$BIN/pcrvm" "$DIR/peers.pcrb" "$DIR/check.jsonl" > "$DIR/pcr.jsonl" || fail "pcrvm failed"
python3 bench/peers/to_peers.py "$DIR/check.jsonl" "$DIR/pcr.jsonl" > "$DIR/pcr-peers.jsonl" ||
    fail "to_peers.py failed"
python3 "$PEERS/check_agree.py" -n "$CHECK" node="$DIR/node.jsonl" pcrvm="$DIR/pcr-peers.jsonl" \
    luajit="$DIR/luajit.jsonl" || fail "the decisions differ (above)"

# ---- 2. timing ------------------------------------------------------------

TIMEV=/usr/bin/time
"$TIMEV" -o /dev/null -v true > /dev/null 2>&1 || TIMEV=
now() { "$GEN" clock; }
children_cpu() {
    awk 'NR == 2 {
        for (i = 1; i <= 2; i++) { f = $i; sub(/s$/, "", f); split(f, a, "m"); t += a[1] * 60 + a[2] }
        printf "%.3f", t }' "$1"
}
least() { awk -v a="$1" -v b="$2" 'BEGIN { print ((b == "" || a + 0 < b + 0) ? a : b) }'; }
most() { awk -v a="$1" -v b="$2" 'BEGIN { print ((b == "" || a + 0 > b + 0) ? a : b) }'; }

# run NAME CMD...: one run of CMD on the batch, output to /dev/null; keeps
# the best wall time, least CPU and largest peak RSS in T_NAME, C_NAME, R_NAME.
run() {
    name=$1
    shift
    times > "$DIR/times.0"
    t0=$(now)
    if [ -n "$TIMEV" ]; then
        "$TIMEV" -o "$DIR/$name.time" -v "$@" < "$REQ" > /dev/null 2> "$DIR/$name.err"
    else
        "$@" < "$REQ" > /dev/null 2> "$DIR/$name.err"
    fi
    rc=$?
    t1=$(now)
    times > "$DIR/times.1"
    [ "$rc" -eq 0 ] || { head -n 5 "$DIR/$name.err" >&2; fail "$name failed (exit $rc)"; }
    el=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    cpu=$(awk -v a="$(children_cpu "$DIR/times.0")" -v b="$(children_cpu "$DIR/times.1")" \
        'BEGIN { printf "%.3f", b - a }')
    kb=
    [ -z "$TIMEV" ] || kb=$(sed -n 's/.*Maximum resident set size (kbytes): *\([0-9]*\).*/\1/p' \
        "$DIR/$name.time")
    eval "T_$name=\$(least \"\$el\" \"\${T_$name-}\") C_$name=\$(least \"\$cpu\" \"\${C_$name-}\")"
    [ -z "$kb" ] || eval "R_$name=\$(most \"\$kb\" \"\${R_$name-}\")"
}

NAMES="pcrvm node luajit jq_floor pcrvm_all"
i=0
while [ "$i" -lt "$RUNS" ]; do
    run pcrvm "$BIN/pcrvm" -j 1 "$DIR/peers.pcrb"
    run pcrvm_all "$BIN/pcrvm" "$DIR/peers.pcrb"
    run node node "$PEERS/node/plain.js"
    run luajit luajit "$PEERS/lua/policy.lua" "$PEERS/codesets.json"
    run jq_floor jq -c .
    i=$((i + 1))
done

echo
echo "peer benchmark: $N records ($(wc -c < "$REQ" | tr -d ' ') bytes), best of $RUNS, output to /dev/null, $(getconf _NPROCESSORS_ONLN 2> /dev/null || echo '?') cores"
echo "(records/s from wall time, and from CPU time, which load from other users moves less;"
echo " 'pcrvm is' = the program's CPU time / pcrvm's)"
printf '%-24s %10s %9s %11s %11s %11s %9s\n' "program" "wall" "CPU" "records/s" "rec/CPU s" "peak RSS" "pcrvm is"
for n in $NAMES; do
    eval "t=\$T_$n c=\$C_$n r=\${R_$n-}"
    case $n in
    pcrvm) label="pcrvm -j 1 policy.pcr" ;;
    pcrvm_all) label="pcrvm policy.pcr (-j $(getconf _NPROCESSORS_ONLN 2> /dev/null || echo '?'))" ;;
    node) label="node plain.js" ;;
    luajit) label="luajit policy.lua" ;;
    jq_floor) label="jq -c . (no rules)" ;;
    esac
    awk -v l="$label" -v t="$t" -v c="$c" -v kb="$r" -v n="$N" -v cp="$C_pcrvm" 'BEGIN {
        rss = (kb == "") ? "n/a" : sprintf("%.1f MiB", kb / 1024)
        if (c <= 0) c = 0.001
        if (cp <= 0) cp = 0.001
        printf "%-24s %8.3f s %7.2f s %11.0f %11.0f %11s %8.2fx\n", l, t, c, n / t, n / c, rss,
            c / cp }'
done

# ---- 3. instructions ------------------------------------------------------

if [ "$IR_N" -gt 0 ] && command -v valgrind > /dev/null 2>&1; then
    head -n "$IR_N" "$REQ" > "$DIR/ir.jsonl"
    valgrind --tool=callgrind --callgrind-out-file="$DIR/callgrind.out" \
        "$BIN/pcrvm" "$DIR/peers.pcrb" "$DIR/ir.jsonl" > /dev/null 2> "$DIR/callgrind.err" ||
        fail "valgrind failed"
    # the same command on an empty input: what is not per record
    : > "$DIR/empty.jsonl"
    valgrind --tool=callgrind --callgrind-out-file="$DIR/callgrind0.out" \
        "$BIN/pcrvm" "$DIR/peers.pcrb" "$DIR/empty.jsonl" > /dev/null 2>&1 || fail "valgrind failed"
    ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$DIR/callgrind.out")
    ir0=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$DIR/callgrind0.out")
    awk -v ir="$ir" -v ir0="$ir0" -v n="$IR_N" 'BEGIN {
        printf "pcrvm instructions (callgrind, %d records): %.0f in all, %.0f per record\n",
            n, ir, (ir - ir0) / n }'
else
    echo "pcrvm instructions: not counted (valgrind is not installed, or BENCH_IR=0)"
fi
