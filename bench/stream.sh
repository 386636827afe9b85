#!/bin/sh
# bench/stream.sh BIN_DIR: the `make bench-stream` benchmark
# (docs/benchmarks.md, "Streaming").
#
# Streams a generated batch of about 5 GB (`gen requests N`, piped; no file
# of that size is written) through `pcrvm --stats` and reports records,
# bytes, seconds, records/s, MB/s and pcrvm's peak RSS, with PASS/FAIL for
# peak RSS under 64 MiB and for output lines == input lines (both counted
# by `wc` on pipes). Then checks, on small streams: input that ends
# mid-line, a closed standard output (`| head -1`), SIGPIPE (inherited
# ignored or default, and delivered mid-run), and a write error.
# Exits 1 when any check fails or a command fails, 2 on usage errors.
#
# Environment (all optional): STREAM_RECORDS records in the big stream
# (19300000, about 5 GB at ~260 bytes each), STREAM_DIR scratch directory
# (build/bench-stream; holds only small files), CC for bench/gen.c (cc).
#
# Plain POSIX sh. POSIX sh has no pipefail, so each pipeline stage whose
# exit status matters writes it to a file.
set -u

. "$(dirname "$0")/lib.sh"
take_bin_dir bench/stream.sh "$@"

N=${STREAM_RECORDS:-19300000}
DIR=${STREAM_DIR:-build/bench-stream}
CC=${CC:-cc}
LIMIT_KB=65536 # 64 MiB

fail() {
    echo "bench-stream: $*" >&2
    exit 1
}

case $N in
'' | *[!0-9]*) fail "STREAM_RECORDS must be a whole number" ;;
esac
[ "$N" -ge 1 ] || fail "STREAM_RECORDS must be at least 1"
need_tools "$BIN"
build_gen "$DIR"
GEN=$DIR/gen

# The typical policy of `make bench` (42 rules; every request has payer
# "bench", so every record is routed and decided).
"$GEN" policy-small > "$DIR/small.pcr" || fail "gen policy-small failed"
"$BIN/pcrc" -I policies "$DIR/small.pcr" -o "$DIR/small.pcrb" 2> "$DIR/pcrc.err" ||
    { cat "$DIR/pcrc.err" >&2; fail "pcrc could not compile $DIR/small.pcr"; }
POL=$DIR/small.pcrb
VM="$BIN/pcrvm"

FAILED=0
# check NAME OK DETAIL: prints one PASS/FAIL line; OK is 0 for a pass.
check() {
    if [ "$2" -eq 0 ]; then
        printf 'PASS  %s (%s)\n' "$1" "$3"
    else
        printf 'FAIL  %s (%s)\n' "$1" "$3"
        FAILED=1
    fi
}

# status FILE: the exit status a pipeline stage wrote to FILE, or "none".
status() { cat "$1" 2> /dev/null || echo none; }

# ---- the big stream --------------------------------------------------------
#
#   gen requests N | tee FIFO | pcrvm --stats small.pcrb | wc -l
#                          FIFO -> wc -lc   (input lines and bytes)
#
# tee and the two wc processes share the machine with pcrvm, so the
# pipeline's rate is a lower bound of pcrvm's; pcrvm's own rate over its
# run loop (the "throughput" line of --stats) is printed too.

FIFO=$DIR/in.fifo
rm -f "$FIFO"
mkfifo "$FIFO" || fail "cannot make the fifo $FIFO"
rm -f "$DIR"/big.*
wc -lc < "$FIFO" > "$DIR/big.in" &
WCPID=$!
echo "streaming $N records: gen requests $N | pcrvm --stats $POL | wc -l" >&2
T0=$("$GEN" clock) || fail "gen clock failed"
{
    { "$GEN" requests "$N"; echo $? > "$DIR/big.gen.rc"; } | tee "$FIFO" |
        { "$VM" --stats "$POL" 2> "$DIR/big.stats"; echo $? > "$DIR/big.vm.rc"; }
} | wc -l > "$DIR/big.out"
T1=$("$GEN" clock) || fail "gen clock failed"
wait "$WCPID"
rm -f "$FIFO"

IN_LINES=$(awk '{ print $1 }' "$DIR/big.in")
IN_BYTES=$(awk '{ print $2 }' "$DIR/big.in")
OUT_LINES=$(tr -d ' ' < "$DIR/big.out")
RSS_KB=$(sed -n 's/^peak_rss_kb[:= ]*\([0-9][0-9]*\).*/\1/p' "$DIR/big.stats" | tail -n 1)
VM_RATE=$(sed -n 's/^throughput *//p' "$DIR/big.stats" | tail -n 1)
[ "$(status "$DIR/big.gen.rc")" = 0 ] || fail "gen failed (status $(status "$DIR/big.gen.rc"))"
VM_RC=$(status "$DIR/big.vm.rc")
[ "$VM_RC" = 0 ] || { head -n 20 "$DIR/big.stats" >&2; fail "pcrvm failed (status $VM_RC)"; }
[ -n "$RSS_KB" ] || fail "no peak_rss_kb line in pcrvm --stats ($DIR/big.stats)"

echo
echo "PCR streaming benchmark: $(getconf _NPROCESSORS_ONLN 2> /dev/null || echo '?') CPU(s), $(uname -sm)"
awk -v n="$IN_LINES" -v b="$IN_BYTES" -v t0="$T0" -v t1="$T1" -v kb="$RSS_KB" -v vm="$VM_RATE" 'BEGIN {
    t = t1 - t0
    # %.0f, not %d: some awks (mawk) clamp %d to 2^31 - 1.
    printf "records      %.0f\n", n
    printf "bytes        %.0f (%.2f GB)\n", b, b / 1e9
    printf "seconds      %.1f (the whole pipeline, wall clock)\n", t
    if (t > 0) printf "records/s    %.0f\n", n / t
    if (t > 0) printf "MB/s         %.1f\n", b / t / 1e6
    printf "peak RSS     %d KiB (%.1f MiB, pcrvm --stats)\n", kb, kb / 1024
    if (vm != "") printf "pcrvm alone  %s (its run loop, from --stats)\n", vm
}'
echo "decisions    $(awk '$1 == "decision" { s = s sep $2 " " $3; sep = ", " } END { print s }' "$DIR/big.stats")"
echo
check "peak RSS under 64 MiB" "$([ "$RSS_KB" -lt "$LIMIT_KB" ] && echo 0 || echo 1)" \
    "$RSS_KB KiB < $LIMIT_KB KiB"
check "output lines == input lines" "$([ "$OUT_LINES" = "$IN_LINES" ] && echo 0 || echo 1)" \
    "$OUT_LINES == $IN_LINES"
check "input lines == records generated" "$([ "$IN_LINES" = "$N" ] && echo 0 || echo 1)" \
    "$IN_LINES == $N"
if grep -q '^decision error' "$DIR/big.stats"; then
    echo "warning: some records got error decisions: gen and the decoder disagree" >&2
fi

# ---- the edge cases (small streams) ---------------------------------------

# The reference: decisions for the first K records, with every line whole.
K=2000
"$GEN" requests "$K" | "$VM" "$POL" > "$DIR/ref.out" 2> "$DIR/ref.err" ||
    fail "pcrvm failed on $K records"

# 1. The last record has no newline: its decision is still printed, and the
#    output equals the reference byte for byte.
REQS=$("$GEN" requests "$K") || fail "gen failed" # $(...) drops the final newline
printf '%s' "$REQS" | "$VM" "$POL" > "$DIR/mid.out" 2> "$DIR/mid.err"
rc=$?
cmp -s "$DIR/mid.out" "$DIR/ref.out"
check "input ends after a whole record without newline" "$(( $? + rc ))" \
    "exit $rc, $(wc -l < "$DIR/mid.out" | tr -d ' ') of $K decisions, same bytes as with the newline"

# 2. The input stops in the middle of a record: every whole line keeps its
#    decision, and the cut-off tail gets one error decision, last.
CUT=$((K * 130)) # about halfway into the batch, at no particular boundary
"$GEN" requests "$K" | head -c "$CUT" > "$DIR/cut.in"
WHOLE=$(wc -l < "$DIR/cut.in" | tr -d ' ')
"$VM" "$POL" < "$DIR/cut.in" > "$DIR/cut.out" 2> "$DIR/cut.err"
rc=$?
GOT=$(wc -l < "$DIR/cut.out" | tr -d ' ')
head -n "$WHOLE" "$DIR/ref.out" > "$DIR/cut.ref"
head -n "$WHOLE" "$DIR/cut.out" | cmp -s - "$DIR/cut.ref"
same=$?
tail -n 1 "$DIR/cut.out" | grep -q '"decision":"error"'
last=$?
check "input ends mid-record" "$(( rc + same + last + (GOT != WHOLE + 1) ))" \
    "exit $rc, $GOT decisions for $WHOLE whole lines + 1 cut; last is an error"

# 3. A closed standard output: `pcrvm ... | head -1` ends pcrvm with status
#    0, nothing on stderr, and the first decision intact.
{
    { "$GEN" requests 1000000 2> /dev/null; } |
        { "$VM" "$POL" 2> "$DIR/head.err"; echo $? > "$DIR/head.rc"; }
} | head -n 1 > "$DIR/head.out"
rc=$(status "$DIR/head.rc")
head -n 1 "$DIR/ref.out" | cmp -s - "$DIR/head.out"
same=$?
check "closed stdout (| head -1)" "$(( (rc != 0) + same + $([ -s "$DIR/head.err" ] && echo 1 || echo 0) ))" \
    "exit $rc, $(wc -c < "$DIR/head.err" | tr -d ' ') bytes on stderr, first decision intact"

# 4. SIGPIPE, inherited as ignored (as from a shell with `trap '' PIPE`) and
#    as default: either way pcrvm sees EPIPE, stops quietly with status 0,
#    and the reader got the first 1000 decisions intact.
head -n 1000 "$DIR/ref.out" > "$DIR/ref1000.out"
for how in ignored default; do
    (
        [ "$how" = ignored ] && trap '' PIPE
        { "$GEN" requests 1000000 2> /dev/null; } |
            { "$VM" "$POL" 2> "$DIR/pipe.err"; echo $? > "$DIR/pipe.rc"; }
    ) | head -n 1000 > "$DIR/pipe.out"
    rc=$(status "$DIR/pipe.rc")
    cmp -s "$DIR/pipe.out" "$DIR/ref1000.out"
    same=$?
    check "SIGPIPE $how, reader stops after 1000 lines" \
        "$(( (rc != 0) + same + $([ -s "$DIR/pipe.err" ] && echo 1 || echo 0) ))" \
        "exit $rc, $(wc -c < "$DIR/pipe.err" | tr -d ' ') bytes on stderr, 1000 decisions intact"
done

# 5. A SIGPIPE sent to pcrvm mid-run (no broken pipe behind it) is ignored:
#    the run finishes with every decision.
FIFO2=$DIR/sig.fifo
rm -f "$FIFO2"
mkfifo "$FIFO2" || fail "cannot make the fifo $FIFO2"
"$VM" "$POL" < "$FIFO2" > "$DIR/sig.out" 2> "$DIR/sig.err" &
VMPID=$!
{
    "$GEN" requests "$K"
    sleep 1
    kill -s PIPE "$VMPID"
    sleep 1
    "$GEN" requests "$K"
} > "$FIFO2"
wait "$VMPID"
rc=$?
rm -f "$FIFO2"
cat "$DIR/ref.out" "$DIR/ref.out" | cmp -s - "$DIR/sig.out"
same=$?
check "SIGPIPE delivered mid-run" "$(( rc + same + $([ -s "$DIR/sig.err" ] && echo 1 || echo 0) ))" \
    "exit $rc, $(wc -c < "$DIR/sig.err" | tr -d ' ') bytes on stderr, $(wc -l < "$DIR/sig.out" | tr -d ' ') of $((K * 2)) decisions, same bytes as without the signal"

# 6. A write error that is not a closed pipe (a full disk) is reported:
#    status 2 and a message from pcrvm.
"$GEN" requests 10 | "$VM" "$POL" > /dev/full 2> "$DIR/full.err"
rc=$?
check "write error (> /dev/full)" "$(( (rc != 2) + $(grep -q "^pcrvm: " "$DIR/full.err" && echo 0 || echo 1) ))" \
    "exit $rc: $(head -n 1 "$DIR/full.err")"

echo
if [ "$FAILED" -ne 0 ]; then
    echo "bench-stream: FAILED" >&2
    exit 1
fi
echo "bench-stream: all checks passed"
