#!/bin/sh
# bench/feed.sh: `make bench-feed` (docs/postgres.md, "Where a call's time
# goes"): the library's two readers on the same requests, counted in
# instructions, with no PostgreSQL and no noise.
#
# BENCH_FEED_N (20,000) generated requests, the four payer policies:
# bench/feed.c first checks that every request the fed route takes
# (pcr_engine_feed_members, members as the PostgreSQL extension gives them
# for a jsonb value) gets the text route's line; then callgrind counts the
# instructions of deciding them all twice, through the fed route and
# through the text (pcr_engine_eval), and this prints them per request.
# Needs valgrind (installed from the distribution when missing).
set -eu
cd "$(dirname "$0")/.."
N=${BENCH_FEED_N:-20000}
DIR=build/bench-feed
mkdir -p "$DIR/pcrb"
if ! command -v valgrind > /dev/null 2>&1; then
    . scripts/apt.sh
    apt_install bench-feed valgrind
fi
cc -O2 -o "$DIR/gen" bench/gen.c
cc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 -g -Wall -Wextra -Werror -Iinclude \
    -o "$DIR/feed" bench/feed.c lib/libpcr.a -pthread -lcsv -ljansson
for p in policies/*.pcr; do
    bin/pcrc "$p" -o "$DIR/pcrb/$(basename "$p" .pcr).pcrb"
done
"$DIR/gen" requests "$N" --payers healthlink,cigna,alliant,ibx,other > "$DIR/requests.jsonl"
"$DIR/feed" check "$DIR/requests.jsonl" "$DIR"/pcrb/*.pcrb
for mode in feed text; do
    valgrind --tool=callgrind --callgrind-out-file="$DIR/callgrind.$mode" \
        --toggle-collect="${mode}_pass" --collect-atstart=no \
        "$DIR/feed" "$mode" "$DIR/requests.jsonl" "$DIR"/pcrb/*.pcrb > /dev/null 2> "$DIR/valgrind.$mode"
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$DIR/callgrind.$mode")
    awk -v ir="$ir" -v n="$N" -v m="$mode" 'BEGIN {
        printf "bench-feed: %-4s route: %6.0f instructions per request (%d requests, decided twice)\n",
            m, ir / (2 * n), n }'
done
