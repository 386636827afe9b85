#!/bin/sh
# tests/scale/run.sh BIN_DIR: pcrvm as a mapper (docs/scale.md). A batch of
# 200,000 generated requests is split by GNU parallel into blocks decided by
# separate pcrvm processes (--pipe --keep-order), locally and through
# parallel's -S machinery (the sshlogin ":" is this machine, no ssh
# needed); the joined output must be byte-identical to one pcrvm run over
# the whole batch. The same batch with the example requests (malformed
# lines among them) mixed in gives the same output too, except that an
# error message's "record N" counts the lines of its job's block. Also
# checks that the policy checksums pcrvm --stats prints are the files'
# sha256sum, which is how a distributed run compares machines. GNU parallel
# is installed from the distribution when missing.
set -eu
BIN=${1:?usage: tests/scale/run.sh BIN_DIR}
cd "$(dirname "$0")/../.."
if ! command -v parallel > /dev/null 2>&1; then
    . scripts/apt.sh
    apt_install test-scale parallel
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/pcr-scale.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
N=${SCALE_N:-200000}

mkdir -p build/pgt
cc -O2 -o build/pgt/gen bench/gen.c
for p in policies/*.pcr; do "$BIN/pcrc" "$p" -o "$W/$(basename "$p" .pcr).pcrb"; done
build/pgt/gen requests "$N" --payers healthlink,cigna,alliant,ibx,other > "$W/batch.jsonl"
# The mixed batch: the example requests (blank, non-JSON, duplicate key, bad
# dates...) inserted every 20,000 lines, so blocks end near them too.
awk -v ex=policies/examples/requests.jsonl 'NR % 20000 == 0 { while ((getline l < ex) > 0) print l; close(ex) } { print }' \
    "$W/batch.jsonl" > "$W/mixed.jsonl"
lines=$(wc -l < "$W/batch.jsonl")

"$BIN/pcrvm" "$W"/*.pcrb "$W/batch.jsonl" > "$W/one.jsonl"
"$BIN/pcrvm" "$W"/*.pcrb "$W/mixed.jsonl" > "$W/one-mixed.jsonl"
[ "$(wc -l < "$W/one.jsonl")" -eq "$lines" ] || { echo "test-scale: one run lost records" >&2; exit 1; }

# check NAME FILE [ONE]: FILE is byte-identical to the single run ONE.
check() {
    one=${3:-$W/one.jsonl}
    if ! cmp -s "$one" "$2"; then
        echo "test-scale: $1: the joined output differs from one run" >&2
        cmp "$one" "$2" >&2 || true
        exit 1
    fi
    echo "test-scale: $1: $(wc -l < "$2") records, joined output byte-identical to one run"
}

# Local jobs: 4 processes, 1 MB blocks (about 45 blocks), each cut at a newline.
parallel --will-cite --pipe --keep-order -j 4 --block 1M \
    "$BIN/pcrvm" "$W"/*.pcrb < "$W/batch.jsonl" > "$W/par.jsonl"
check "parallel --pipe --keep-order -j 4 --block 1M" "$W/par.jsonl"

# The same through -S (sshlogin ":" = this machine, 3 job slots), blocks of
# uneven size (--block 700k), as a run over hosts would send them.
parallel --will-cite --pipe --keep-order -S 3/: --block 700k \
    "$BIN/pcrvm" "$W"/*.pcrb < "$W/batch.jsonl" > "$W/par-s.jsonl"
check "parallel --pipe --keep-order -S 3/: --block 700k" "$W/par-s.jsonl"

# The mixed batch: identical once "record N: " is taken out of error messages.
parallel --will-cite --pipe --keep-order -j 4 --block 1M \
    "$BIN/pcrvm" "$W"/*.pcrb < "$W/mixed.jsonl" > "$W/par-mixed.jsonl"
cmp -s "$W/one-mixed.jsonl" "$W/par-mixed.jsonl" && {
    echo "test-scale: expected record numbers to differ in the mixed batch's errors" >&2
    exit 1
}
for f in one-mixed par-mixed; do
    sed 's/"error":"record [0-9]*: /"error":"/' "$W/$f.jsonl" > "$W/$f.norec"
done
check "mixed batch, record numbers aside" "$W/par-mixed.norec" "$W/one-mixed.norec"

# Every job's --stats names the same policies with the files' checksums.
parallel --will-cite --pipe --keep-order -j 4 --block 4M \
    "$BIN/pcrvm --stats $W/*.pcrb 2>&1 >/dev/null | grep '^policy '" < "$W/batch.jsonl" > "$W/sums"
jobs=$(sort "$W/sums" | uniq -c | awk '{ print $1 }' | sort -u)
want=$(for f in "$W"/*.pcrb; do sha256sum "$f"; done | awk '{ print $1 }' | sort)
got=$(awk '{ print $4 }' "$W/sums" | sort -u)
if [ "$(echo "$jobs" | wc -l)" -ne 1 ] || [ "$got" != "$want" ]; then
    echo "test-scale: the jobs' policy checksums differ from sha256sum's:" >&2
    sort "$W/sums" | uniq -c >&2
    exit 1
fi
echo "test-scale: every job ($jobs) printed the sha256sum of each of the $(echo "$want" | wc -l) policies"
