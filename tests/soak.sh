#!/bin/sh
# tests/soak.sh SAN_BIN_DIR BIN_DIR: the `make test-soak` run (not in CI).
#
# Streams about SOAK_BYTES (1 GB) of generated records, one in every 97
# malformed (bad JSON, a wrong type, an over-long line every 250,000),
# through `pcrvm -j 2` of the sanitizer build (ASan + UBSan: any report
# ends it with an error), and checks that the output has one line per
# input line and the ids in input order. Then streams the same records
# through the normal build's `pcrvm -j 2 --stats` and checks its peak RSS
# stays under 64 MiB. Prints the numbers; exits 1 when a check fails.
#
# Environment: SOAK_BYTES (1000000000), SOAK_DIR (build/soak).
set -u
. "$(dirname "$0")/../bench/lib.sh"
SAN=${1:?usage: tests/soak.sh SAN_BIN_DIR BIN_DIR}
BIN=${2:?usage: tests/soak.sh SAN_BIN_DIR BIN_DIR}
BYTES=${SOAK_BYTES:-1000000000}
DIR=${SOAK_DIR:-build/soak}
fail() {
    echo "soak: $*" >&2
    exit 1
}
build_gen "$DIR"
# About 260 bytes a record.
N=$((BYTES / 260))
POLS=""
for p in alliant cigna healthlink ibx; do
    "$BIN/pcrc" "policies/$p.pcr" -o "$DIR/$p.pcrb" || fail "cannot compile policies/$p.pcr"
    POLS="$POLS $DIR/$p.pcrb"
done
ids() { sed -n 's/^{"id":\("[^"]*"\|null\).*/\1/p'; }
echo "soak: $N records (about $BYTES bytes) through $SAN/pcrvm -j 2 (sanitizers)"
t0=$(date +%s)
# The input is kept on disk once (about 1 GB) so both runs read the same bytes.
INPUT=$DIR/in.jsonl
mixed_requests "$DIR/gen" "$N" 250000 > "$INPUT" || fail "cannot generate the input"
IN_LINES=$(wc -l < "$INPUT")
IN_BYTES=$(wc -c < "$INPUT")
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$SAN/pcrvm" -j 2 --stats $POLS < "$INPUT" > "$DIR/out.jsonl" 2> "$DIR/san.stats" ||
    fail "the sanitizer run failed (see $DIR/san.stats)"
t1=$(date +%s)
OUT_LINES=$(wc -l < "$DIR/out.jsonl")
# Every output line's id against the input's: long and broken lines have
# a null id or the id they carry, in the same order.
awk '{ if (length($0) > 1048576) print "null"; else if (match($0, /^\{"id":"[^"]*"/)) print substr($0, 8, RLENGTH - 8); else print "?" }' "$INPUT" > "$DIR/in.ids"
awk '{ if (match($0, /^\{"id":"[^"]*"/)) print substr($0, 8, RLENGTH - 8); else print "null" }' "$DIR/out.jsonl" > "$DIR/out.ids"
paste -d ' ' "$DIR/in.ids" "$DIR/out.ids" | awk '$1 != "?" && $1 != $2 { bad++; if (bad < 5) print "soak: id mismatch at line " NR ": " $1 " vs " $2 } END { exit bad > 0 }' ||
    fail "ids out of order"
ERRORS=$(grep -c '"decision":"error"' "$DIR/out.jsonl")
echo "soak: input $IN_LINES lines, $IN_BYTES bytes; output $OUT_LINES lines, $ERRORS error decisions; $((t1 - t0)) s"
[ "$IN_LINES" -eq "$OUT_LINES" ] || fail "line counts differ"
"$BIN/pcrvm" -j 2 --stats $POLS < "$INPUT" 2> "$DIR/plain.stats" | cmp -s - "$DIR/out.jsonl" ||
    fail "the normal build's output differs from the sanitizer build's"
RSS=$(sed -n 's/^peak_rss_kb //p' "$DIR/plain.stats")
SAN_RSS=$(sed -n 's/^peak_rss_kb //p' "$DIR/san.stats")
echo "soak: peak RSS $RSS KiB (normal build), $SAN_RSS KiB (sanitizers, not bounded: shadow memory and quarantine)"
grep -E '^(records|throughput)' "$DIR/plain.stats" | sed 's/^/soak: normal build: /'
[ "$RSS" -lt 65536 ] || fail "peak RSS $RSS KiB is over 64 MiB"
rm -f "$INPUT" "$DIR/out.jsonl" "$DIR/in.ids" "$DIR/out.ids"
echo "soak: PASS"
