#!/bin/sh
# bench/run.sh BIN_DIR: the `make bench` benchmarks (docs/benchmarks.md).
#
# Builds bench/gen.c, generates the inputs into build/bench/ (reused while
# their parameters and gen.c are unchanged), then times pcrc and pcrvm from
# BIN_DIR and prints one compact table. Exits non-zero only when a command
# fails, never because something is slow.
#
# Environment (all optional): BENCH_N records (1000000), BENCH_RULES and
# BENCH_CODES for the large policy (10000, 100000), BENCH_RUNS timed runs
# per measurement, best kept (3), BENCH_DIR (build/bench), CC (cc),
# BENCH_TIME the GNU time to try for peak RSS (/usr/bin/time; empty: none).
#
# Plain POSIX sh: no bash, no GNU time needed. Times come from `gen clock`
# (CLOCK_MONOTONIC), since `date +%s.%N` is not portable; CPU times (user +
# sys of the command) from the shell's `times`. Peak RSS comes
# from the "peak_rss_kb N" line of `pcrvm --stats`, else from
# `/usr/bin/time -v` when that is GNU time, else it is shown as n/a.
set -u

. "$(dirname "$0")/lib.sh"
take_bin_dir bench/run.sh "$@"

N=${BENCH_N:-1000000}
RULES=${BENCH_RULES:-10000}
CODES=${BENCH_CODES:-100000}
RUNS=${BENCH_RUNS:-3}
DIR=${BENCH_DIR:-build/bench}
CC=${CC:-cc}

fail() {
    echo "bench: $*" >&2
    exit 1
}

for v in "$N" "$RULES" "$CODES" "$RUNS"; do
    case $v in
    '' | *[!0-9]*) fail "BENCH_N, BENCH_RULES, BENCH_CODES and BENCH_RUNS must be whole numbers" ;;
    esac
done
[ "$RUNS" -ge 1 ] || fail "BENCH_RUNS must be at least 1"
[ "$N" -ge 1 ] || fail "BENCH_N must be at least 1"
# (1 rule is the baseline the large policy's scale row is compared with.)
[ "$RULES" -ge 2 ] || fail "BENCH_RULES must be at least 2"
need_tools "$BIN"

# ---- the generator and its inputs -----------------------------------------

build_gen "$DIR"
GEN=$DIR/gen

REQ=$DIR/requests.jsonl
gen_file "$REQ" requests "$N"
gen_file "$DIR/small.pcr" policy-small
gen_file "$DIR/big.pcr" policy "$RULES" "$CODES"
gen_file "$DIR/scale-1.pcr" policy 1 10 --unmatched
gen_file "$DIR/scale-$RULES.pcr" policy "$RULES" "$CODES" --unmatched
# The same scale pair over the peer benchmark's schema (a list `codes` of
# {"system", "code"} objects, bench/peers/peers_request.pcr), on records of
# that shape.
PREQ=$DIR/requests-peers.jsonl
gen_file "$PREQ" requests-peers "$N"
gen_file "$DIR/scale-peers-1.pcr" policy 1 10 --unmatched --peers
gen_file "$DIR/scale-peers-$RULES.pcr" policy "$RULES" "$CODES" --unmatched --peers
# The four shipped payers' policies on records routed to them (the same
# generator, payer drawn from the four): the work a clearinghouse runs.
PAYERS="alliant cigna healthlink ibx"
QREQ=$DIR/requests-payers.jsonl
gen_file "$QREQ" requests "$N" --payers alliant,cigna,healthlink,ibx

# ---- timing ---------------------------------------------------------------

# GNU time, if that is what /usr/bin/time is (BENCH_TIME overrides the
# path; an empty BENCH_TIME does without).
TIMEV=${BENCH_TIME-/usr/bin/time}
if [ -z "$TIMEV" ] || ! "$TIMEV" -o /dev/null -v true > /dev/null 2>&1; then
    TIMEV=
fi

now() { "$GEN" clock; }

# children_cpu FILE: user + sys seconds of the shell's waited-for children,
# from `times` output saved in FILE (line 2: "XmY.YYs XmY.YYs"). `times`
# must run in this shell, not in a $(...) subshell, hence the file.
children_cpu() {
    awk 'NR == 2 {
        for (i = 1; i <= 2; i++) { f = $i; sub(/s$/, "", f); split(f, a, "m"); t += a[1] * 60 + a[2] }
        printf "%.3f", t }' "$1"
}

# run_timed IN OUT ERR CMD...: runs CMD once with stdin IN, stdout OUT and
# stderr ERR. Sets ELAPSED (wall seconds), CPU (user + sys seconds) and
# RSS_KB (peak RSS in KiB, or empty).
# A failing command ends the benchmark, showing the start of its stderr.
run_timed() {
    rt_in=$1 rt_out=$2 rt_err=$3
    shift 3
    t0=$(now) || fail "gen clock failed"
    times > "$DIR/times.0"
    if [ -n "$TIMEV" ]; then
        "$TIMEV" -o "$rt_err.time" -v "$@" < "$rt_in" > "$rt_out" 2> "$rt_err"
    else
        "$@" < "$rt_in" > "$rt_out" 2> "$rt_err"
    fi
    rc=$?
    times > "$DIR/times.1"
    t1=$(now) || fail "gen clock failed"
    if [ "$rc" -ne 0 ]; then
        echo "bench: command failed (exit $rc): $*" >&2
        head -n 20 "$rt_err" | sed 's/^/  /' >&2
        exit 1
    fi
    ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    CPU=$(awk -v a="$(children_cpu "$DIR/times.0")" -v b="$(children_cpu "$DIR/times.1")" \
        'BEGIN { printf "%.3f", b - a }')
    RSS_KB=$(sed -n 's/^peak_rss_kb[:= ]*\([0-9][0-9]*\).*/\1/p' "$rt_err" | tail -n 1)
    if [ -z "$RSS_KB" ] && [ -n "$TIMEV" ]; then
        RSS_KB=$(sed -n 's/.*Maximum resident set size (kbytes): *\([0-9][0-9]*\).*/\1/p' \
            "$rt_err.time" | tail -n 1)
    fi
}

# least A B / most A B: the smaller / larger of two numbers; an empty B
# counts as missing.
least() { awk -v a="$1" -v b="$2" 'BEGIN { print ((b == "" || a + 0 < b + 0) ? a : b) }'; }
most() { awk -v a="$1" -v b="$2" 'BEGIN { print ((b == "" || a + 0 > b + 0) ? a : b) }'; }

# measure IN OUT ERR CMD...: RUNS runs of CMD; BEST is the shortest wall
# time, BCPU the least CPU time, PEAK the largest peak RSS (empty if unknown).
measure() {
    m_in=$1 m_out=$2 m_err=$3
    shift 3
    BEST= BCPU= PEAK=
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        run_timed "$m_in" "$m_out" "$m_err" "$@"
        BEST=$(least "$ELAPSED" "$BEST")
        BCPU=$(least "$CPU" "$BCPU")
        [ -z "$RSS_KB" ] || PEAK=$(most "$RSS_KB" "$PEAK")
        i=$((i + 1))
    done
}

LINES=$(wc -l < "$REQ" | tr -d ' ')
BYTES=$(wc -c < "$REQ" | tr -d ' ')
PBYTES=$(wc -c < "$PREQ" | tr -d ' ')
QBYTES=$(wc -c < "$QREQ" | tr -d ' ')
CPUS=$(getconf _NPROCESSORS_ONLN 2> /dev/null || echo "?")

# row LABEL RULES: one table line from BEST, BCPU and PEAK; with $3 =
# "rate", records/s and MB/s of the request batch (from wall time) too, of
# $4 bytes when given (the peers batch; both have LINES records).
row() {
    awk -v label="$1" -v rules="$2" -v rate="${3:-}" -v t="$BEST" -v cpu="$BCPU" -v kb="$PEAK" \
        -v lines="$LINES" -v bytes="${4:-$BYTES}" 'BEGIN {
        rss = (kb == "") ? "n/a" : sprintf("%.1f MiB", kb / 1024)
        if (rate == "rate" && t > 0)
            printf "%-34s %6s %9.3f s %7.2f s %11.0f %8.1f %11s\n", label, rules, t, cpu,
                lines / t, bytes / t / 1e6, rss
        else
            printf "%-34s %6s %9.3f s %7.2f s %11s %8s %11s\n", label, rules, t, cpu, "-", "-", rss
    }'
}

# ---- the measurements ----------------------------------------------------

# The policies `use std.request`, found through -I policies. Every policy
# is compiled once (a compile error fails the benchmark), the
# large one RUNS more times for its compile time.
for p in small big scale-1 "scale-$RULES" scale-peers-1 "scale-peers-$RULES"; do
    run_timed /dev/null "$DIR/pcrc.out" "$DIR/pcrc.err" \
        "$BIN/pcrc" -I policies -I bench/peers "$DIR/$p.pcr" -o "$DIR/$p.pcrb"
done
measure /dev/null "$DIR/pcrc.out" "$DIR/pcrc.err" \
    "$BIN/pcrc" -I policies "$DIR/big.pcr" -o "$DIR/big.pcrb"
COMPILE_T=$BEST
ROW_COMPILE=$(row "pcrc big.pcr" "$RULES")
QPCRB=
QRULES=0
for p in $PAYERS; do
    run_timed /dev/null "$DIR/pcrc.out" "$DIR/pcrc.err" \
        "$BIN/pcrc" -I policies "policies/$p.pcr" -o "$DIR/payer-$p.pcrb"
    QPCRB="$QPCRB $DIR/payer-$p.pcrb"
    QRULES=$((QRULES + $(grep -c '^rule ' "policies/$p.pcr")))
done
# jq -c . (parse and print, no rules) is the floor pcrvm is compared with.
JQ=
if command -v jq > /dev/null 2>&1; then JQ=jq; fi

SMALL_RULES=$(grep -c '^rule ' "$DIR/small.pcr")
# The pcrvm rows: `pcrvm --stats NAME.pcrb requests.jsonl > /dev/null`.
# Their runs are interleaved (small, big, scale-1, scale-N, then again) so
# that every row's best run comes from the same stretch of time: on a
# shared machine, load that comes and goes would otherwise skew the ratios.
# Best times and peak RSS of row k are kept in BEST_k, BCPU_k and PEAK_k; the stderr
# (statistics) of the last run in NAME.stats.
VMS="small big scale-1 scale-$RULES scale-peers-1 scale-peers-$RULES payers payers-j2 payers-j2-pipe${JQ:+ jq}"
ROUND_PAY= ROUND_J2= ROUND_JQ=
i=0
while [ "$i" -lt "$RUNS" ]; do
    k=0
    for p in $VMS; do
        k=$((k + 1))
        # shellcheck disable=SC2086 # QPCRB is a list of paths without spaces
        case $p in
        scale-peers-*) run_timed /dev/null /dev/null "$DIR/$p.stats" \
            "$BIN/pcrvm" -j 1 --stats "$DIR/$p.pcrb" "$PREQ" ;;
        payers) run_timed /dev/null /dev/null "$DIR/$p.stats" \
            "$BIN/pcrvm" -j 1 --stats $QPCRB "$QREQ" ;;
        payers-j2) run_timed /dev/null /dev/null "$DIR/$p.stats" \
            "$BIN/pcrvm" -j 2 --stats $QPCRB "$QREQ" ;;
        # the same batch through a pipe (cat's time included), as a
        # stream arrives: pcrvm then flushes its decisions promptly
        payers-j2-pipe) run_timed /dev/null /dev/null "$DIR/$p.stats" \
            sh -c 'f=$1; shift; cat "$f" | exec "$@"' sh "$QREQ" "$BIN/pcrvm" -j 2 --stats $QPCRB ;;
        jq) run_timed "$QREQ" /dev/null "$DIR/$p.stats" jq -c . ;;
        *) run_timed /dev/null /dev/null "$DIR/$p.stats" \
            "$BIN/pcrvm" -j 1 --stats "$DIR/$p.pcrb" "$REQ" ;;
        esac
        # the ratios of each round, which show how far the machine's
        # stretches move them (the targets are judged on the best runs)
        case $p in
        payers) ROUND_PAY=$ELAPSED ;;
        payers-j2) ROUND_J2="$ROUND_J2 $(awk -v a="$ROUND_PAY" -v b="$ELAPSED" \
            'BEGIN { printf "%.2fx", (b > 0) ? a / b : 0 }')" ;;
        jq) ROUND_JQ="$ROUND_JQ $(awk -v a="$ELAPSED" -v b="$ROUND_PAY" \
            'BEGIN { printf "%.1fx", (b > 0) ? a / b : 0 }')" ;;
        esac
        eval "b=\${BEST_$k-} c=\${BCPU_$k-} r=\${PEAK_$k-}"
        b=$(least "$ELAPSED" "$b")
        c=$(least "$CPU" "$c")
        [ -z "$RSS_KB" ] || r=$(most "$RSS_KB" "$r")
        eval "BEST_$k=\$b BCPU_$k=\$c PEAK_$k=\$r"
    done
    i=$((i + 1))
done

# The "decision KIND COUNT" lines of each run, summed up in MIX. Error
# decisions mean gen wrote records the decoder rejects: the numbers then
# measure the wrong thing, so say so loudly.
MIX=
for p in $VMS; do
    [ "$p" != jq ] || continue
    MIX="$MIX$(awk -v name="$p" '$1 == "decision" { s = s sep $2 " " $3; sep = ", " }
        END { printf "  %-12s %s\n", name ":", ((s == "") ? "(no decision counts in --stats)" : s) }' \
        "$DIR/$p.stats")
"
    if grep -q '^decision error' "$DIR/$p.stats"; then
        echo "bench: WARNING: pcrvm gave error decisions for $p (see $DIR/$p.stats)" >&2
    fi
done

BEST=$BEST_1 BCPU=$BCPU_1 PEAK=$PEAK_1
SMALL_T=$BEST
ROW_SMALL=$(row "pcrvm small.pcrb (typical policy)" "$SMALL_RULES" rate)
BEST=$BEST_2 BCPU=$BCPU_2 PEAK=$PEAK_2
ROW_BIG=$(row "pcrvm big.pcrb (large policy)" "$RULES" rate)
BEST=$BEST_3 BCPU=$BCPU_3 PEAK=$PEAK_3
ONE_T=$BEST ONE_CPU=$BCPU
ROW_ONE=$(row "pcrvm scale-1.pcrb" 1 rate)
BEST=$BEST_4 BCPU=$BCPU_4 PEAK=$PEAK_4
WIDE_T=$BEST WIDE_CPU=$BCPU
ROW_WIDE=$(row "pcrvm scale-$RULES.pcrb" "$RULES" rate)
BEST=$BEST_5 BCPU=$BCPU_5 PEAK=$PEAK_5
PONE_T=$BEST PONE_CPU=$BCPU
ROW_PONE=$(row "pcrvm scale-peers-1.pcrb" 1 rate "$PBYTES")
BEST=$BEST_6 BCPU=$BCPU_6 PEAK=$PEAK_6
PWIDE_T=$BEST PWIDE_CPU=$BCPU
ROW_PWIDE=$(row "pcrvm scale-peers-$RULES.pcrb" "$RULES" rate "$PBYTES")
BEST=$BEST_7 BCPU=$BCPU_7 PEAK=$PEAK_7
PAY_T=$BEST
ROW_PAY=$(row "pcrvm four payers, -j 1" "$QRULES" rate "$QBYTES")
BEST=$BEST_8 BCPU=$BCPU_8 PEAK=$PEAK_8
PAY2_T=$BEST
ROW_PAY2=$(row "pcrvm four payers, -j 2" "$QRULES" rate "$QBYTES")
BEST=$BEST_9 BCPU=$BCPU_9 PEAK=$PEAK_9
PAY2P_T=$BEST
ROW_PAY2P=$(row "pcrvm four payers, -j 2, piped" "$QRULES" rate "$QBYTES")
JQ_T= ROW_JQ=
if [ -n "$JQ" ]; then
    BEST=$BEST_10 BCPU=$BCPU_10 PEAK=$PEAK_10
    JQ_T=$BEST
    ROW_JQ=$(row "jq -c . (no rules)" 0 rate "$QBYTES")
fi

# ---- the report ------------------------------------------------------------

echo
echo "PCR benchmarks: $LINES requests, $BYTES bytes ($DIR), best of $RUNS runs"
echo "machine: $CPUS CPU(s), $(uname -sm); compare numbers from one run, side by side"
echo
printf "%-34s %6s %11s %9s %11s %8s %11s\n" "command" "rules" "time" "cpu" "records/s" "MB/s" "peak RSS"
echo "$ROW_COMPILE"
echo "$ROW_SMALL"
echo "$ROW_BIG"
echo "$ROW_ONE"
echo "$ROW_WIDE"
echo "$ROW_PONE"
echo "$ROW_PWIDE"
echo "$ROW_PAY"
echo "$ROW_PAY2"
echo "$ROW_PAY2P"
[ -z "$ROW_JQ" ] || echo "$ROW_JQ"
echo
awk -v small="$SMALL_T" -v comp="$COMPILE_T" -v one="$ONE_T" -v wide="$WIDE_T" \
    -v onecpu="$ONE_CPU" -v widecpu="$WIDE_CPU" -v lines="$LINES" -v rules="$RULES" \
    -v pone="$PONE_T" -v pwide="$PWIDE_T" -v ponecpu="$PONE_CPU" -v pwidecpu="$PWIDE_CPU" \
    -v pay="$PAY_T" -v pay2="$PAY2_T" -v pay2p="$PAY2P_T" -v jq="$JQ_T" \
    -v rjq="$ROUND_JQ" -v rj2="$ROUND_J2" 'BEGIN {
    printf "scale: %d rules that cannot match vs 1 rule, same batch: %.0f ns vs %.0f ns per record, ratio %.2f\n",
        rules, wide / lines * 1e9, one / lines * 1e9, wide / one
    if (onecpu > 0)
        printf "       in CPU time: %.0f ns vs %.0f ns per record, ratio %.2f\n",
            widecpu / lines * 1e9, onecpu / lines * 1e9, widecpu / onecpu
    printf "scale, list of codes (peers schema): %.0f ns vs %.0f ns per record, ratio %.2f\n",
        pwide / lines * 1e9, pone / lines * 1e9, pwide / pone
    if (ponecpu > 0)
        printf "       in CPU time: %.0f ns vs %.0f ns per record, ratio %.2f\n",
            pwidecpu / lines * 1e9, ponecpu / lines * 1e9, pwidecpu / ponecpu
    printf "       (1.00 = no growth with rules; linear growth would be about %d)\n", rules
    print ""
    print "design targets (informational; make bench never fails on speed):"
    printf "  pcrvm, typical policy, one core  >= 1000000 records/s   %11.0f records/s  %s\n",
        lines / small, ((lines / small >= 1e6) ? "met" : "not met")
    printf "  pcrvm, four payers, one core      >= 2000000 records/s   %11.0f records/s  %s\n",
        lines / pay, ((lines / pay >= 2e6) ? "met" : "not met")
    if (jq != "") {
        printf "  the same, against jq -c .         >= 25x                %11.1fx           %s\n",
            jq / pay, ((jq / pay >= 25) ? "met" : "not met")
        printf "    each round (jq / pcrvm):%s\n", rjq
    }
    printf "  pcrvm -j 2 against -j 1           >= 1.7x               %11.2fx           %s\n",
        pay / pay2, ((pay / pay2 >= 1.7) ? "met" : "not met")
    printf "    each round (-j 1 / -j 2):%s\n", rj2
    printf "  %-34s%-22s%11.2fx\n", "the same, from a pipe", "(no target)", pay / pay2p
    printf "  pcrc, large policy                < 1 s                 %11.3f s          %s\n",
        comp, ((comp < 1) ? "met" : "not met")
    if (onecpu > 0)
        printf "  per-record cost vs rules that cannot match <= 1.2: ratio %.2f in CPU time, %.2f in wall time  %s\n",
            widecpu / onecpu, wide / one, ((widecpu / onecpu <= 1.2) ? "met" : "not met")
    else
        printf "  per-record cost vs rules that cannot match <= 1.2: ratio %.2f (see scale above)  %s\n",
            wide / one, ((wide / one <= 1.2) ? "met" : "not met")
    if (ponecpu > 0)
        printf "  the same, list-of-codes schema <= 1.2: ratio %.2f in CPU time, %.2f in wall time  %s\n",
            pwidecpu / ponecpu, pwide / pone, ((pwidecpu / ponecpu <= 1.2) ? "met" : "not met")
}'
echo
echo "decisions per policy (from pcrvm --stats; details in $DIR/*.stats):"
printf "%s" "$MIX"
