#!/bin/sh
# tests/tsan.sh TSAN_BIN_DIR BIN_DIR: the `make tsan` run (in CI).
#
# pcrvm's threads (-j N: N threads, each reading, deciding and writing
# batches in turn, src/run.c) and the server's (`pcrvm serve`) under
# ThreadSanitizer, through real processes: Criterion's test binaries do not
# start under it (Criterion issue #274), so the paths the threaded tests of
# test_harden and test_api_lines take are run here with the CLI.
#
# The input: TSAN_RECORDS (100,000) generated records for the four
# payers, malformed ones among them and an over-long line every 20,000
# (bench/lib.sh, mixed_requests). Each run's decisions must be byte for
# byte the normal build's `pcrvm -j 1`, and --stats count the same
# records, decisions and rule firings:
#   -j 2, -j 3 and -j 16 from a file; -j 2 from a pipe (prompt flushing),
#   all at once and with pauses; -j 2 into a pipe closed after 5 lines;
#   -j 2 stopped by SIGTERM while it waits for input (whole lines kept);
#   then tests/serve/run.sh against the ThreadSanitizer build.
# Every report is written under TSAN_DIR/reports (log_path), so a report
# from any process, even one whose exit status a check ignores, fails the
# run. Prints "tsan: N passed, N failed"; exits 1 on any failure.
#
# Environment: TSAN_RECORDS (100000), TSAN_DIR (build/tsan-run).
set -u
. "$(dirname "$0")/../bench/lib.sh"
TSAN=${1:?usage: tests/tsan.sh TSAN_BIN_DIR BIN_DIR}
BIN=${2:?usage: tests/tsan.sh TSAN_BIN_DIR BIN_DIR}
N=${TSAN_RECORDS:-100000}
DIR=${TSAN_DIR:-build/tsan-run}
fail() {
    echo "tsan: $*" >&2
    exit 1
}
mkdir -p "$DIR" || fail "cannot create $DIR"
REPORTS=$(cd "$DIR" && pwd)/reports
rm -rf "$REPORTS" && mkdir -p "$REPORTS" || fail "cannot create $REPORTS"
TSAN_OPTIONS="log_path=$REPORTS/tsan${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
export TSAN_OPTIONS

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL: $*"
}
# same NAME GOT: GOT holds the decisions of the -j 1 run
same() {
    if cmp -s "$2" "$DIR/want.jsonl"; then ok; else bad "$1: decisions differ from -j 1 ($2)"; fi
}
# counts STATS: what a --stats output counts (records and bytes, each
# decision, each rule's firings, summed over the threads), not its times
counts() { awk '$1 == "records" { print $1, $2, $3, $4; next } $1 == "decision" || $1 == "rule"' "$1"; }

build_gen "$DIR"
POLS=""
for p in alliant cigna healthlink ibx; do
    "$BIN/pcrc" "policies/$p.pcr" -o "$DIR/$p.pcrb" || fail "cannot compile policies/$p.pcr"
    POLS="$POLS $DIR/$p.pcrb"
done
IN=$DIR/in.jsonl
mixed_requests "$DIR/gen" "$N" 20000 > "$IN" || fail "cannot generate the input"
LINES=$(wc -l < "$IN")
# shellcheck disable=SC2086 # POLS is a list of paths without spaces
"$BIN/pcrvm" -j 1 --stats $POLS "$IN" > "$DIR/want.jsonl" 2> "$DIR/want.stats" ||
    fail "the normal build's -j 1 run failed"
counts "$DIR/want.stats" > "$DIR/want.counts"
[ "$(wc -l < "$DIR/want.jsonl")" -eq "$LINES" ] || fail "-j 1 did not decide every line"
echo "tsan: $LINES records through $TSAN/pcrvm"

# From a file, on 2, 3 and 16 threads.
for j in 2 3 16; do
    # shellcheck disable=SC2086
    if "$TSAN/pcrvm" -j "$j" --stats $POLS "$IN" > "$DIR/got.jsonl" 2> "$DIR/got.stats"; then
        same "-j $j from a file" "$DIR/got.jsonl"
        counts "$DIR/got.stats" | cmp -s - "$DIR/want.counts" && ok || bad "-j $j: --stats counts differ"
    else
        bad "-j $j from a file: exit $?"
    fi
done

# From a pipe (not a file: a pipe is what makes pcrvm flush promptly).
# shellcheck disable=SC2086,SC2002
cat "$IN" | "$TSAN/pcrvm" -j 2 $POLS > "$DIR/got.jsonl" && same "-j 2 from a pipe" "$DIR/got.jsonl" ||
    bad "-j 2 from a pipe: exit status"
# shellcheck disable=SC2086
{
    head -n 1000 "$IN"
    sleep 0.3
    sed -n '1001,30000p' "$IN"
    sleep 0.3
    sed -n '30001,$p' "$IN"
} | "$TSAN/pcrvm" -j 2 $POLS > "$DIR/got.jsonl" && same "-j 2 from a pipe with pauses" "$DIR/got.jsonl" ||
    bad "-j 2 from a pipe with pauses: exit status"

# Into a pipe that closes early: the threads drain, the run ends.
# shellcheck disable=SC2086
got=$("$TSAN/pcrvm" -j 2 $POLS "$IN" 2> "$DIR/closed.err" | head -n 5 | wc -l)
[ "$got" -eq 5 ] && ok || bad "-j 2 into a closed pipe: $got lines read"

# SIGTERM while waiting for input, every record read so far decided.
FIFO=$DIR/fifo
rm -f "$FIFO"
mkfifo "$FIFO" || fail "cannot make $FIFO"
: > "$DIR/term.jsonl"
(
    cat "$IN"
    exec sleep 60
) > "$FIFO" &
writer=$!
# shellcheck disable=SC2086
"$TSAN/pcrvm" -j 2 $POLS < "$FIFO" > "$DIR/term.jsonl" 2> "$DIR/term.err" &
vm=$!
i=0
while [ "$(wc -l < "$DIR/term.jsonl")" -lt "$LINES" ] && [ "$i" -lt 1200 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -TERM "$vm"
wait "$vm"
rc=$?
kill "$writer" 2> /dev/null
wait "$writer" 2> /dev/null
rm -f "$FIFO"
[ "$rc" -eq 143 ] && ok || bad "-j 2 stopped by SIGTERM: exit $rc, not 143"
same "-j 2 stopped by SIGTERM" "$DIR/term.jsonl"
grep -q "^pcrvm: stopped by SIGTERM after $LINES records decided\$" "$DIR/term.err" && ok ||
    bad "-j 2 stopped by SIGTERM: $(cat "$DIR/term.err")"

# The server: its test suite against the ThreadSanitizer build.
PCR_BIN=$TSAN PCR_ROOT=$(pwd) bash tests/serve/run.sh > "$DIR/serve.log" 2>&1 && ok ||
    bad "tests/serve/run.sh: $(tail -n 1 "$DIR/serve.log")"
tail -n 1 "$DIR/serve.log" | sed 's/^/tsan: /'

# Any report, from any of the processes above.
for f in "$REPORTS"/*; do
    [ -e "$f" ] || continue
    bad "ThreadSanitizer report in $f"
    head -n 30 "$f"
done
echo "tsan: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || exit 1
rm -f "$IN" "$DIR/want.jsonl" "$DIR/got.jsonl" "$DIR/term.jsonl"
