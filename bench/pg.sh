#!/bin/sh
# bench/pg.sh: `make bench-pg` (docs/postgres.md, "Throughput").
#
# In a throwaway PostgreSQL 15 cluster (scripts/pg-cluster.sh) with the four
# payer policies loaded: BENCH_PG_N generated requests (1,000,000) in a
# table, decided by
#   SELECT count(pcr.decide(r)) FROM requests
# with no parallel worker and with 2 (parallel costs set to 0 and the
# leader not participating, so exactly 2 processes decide), and pcrvm over
# the same records from a file, in the same run. Also, to choose between
# reading jsonb directly and through its text form: the cost of the
# jsonb-to-text step alone (count(r::text)) and pcr.decide_text over the
# records as text. count() keeps the client out of the measurement: the
# decisions are made and dropped in the server. Best of BENCH_RUNS (3).
# Prints one table; exits non-zero only when a command fails.
set -eu
cd "$(dirname "$0")/.."
. scripts/pg-cluster.sh

N=${BENCH_PG_N:-1000000}
RUNS=${BENCH_RUNS:-3}
DIR=build/bench-pg
mkdir -p "$DIR"
cc -O2 -o "$DIR/gen" bench/gen.c
pg_prepare
PCR_PG_OPTS="-c shared_buffers=512MB -c max_parallel_workers=4 -c max_worker_processes=8"
pg_start
createdb bench
psql -X -q -d bench -c "CREATE EXTENSION pcr"
pg_load_policies bench
REQ=$DIR/requests.jsonl
"$DIR/gen" requests "$N" --payers healthlink,cigna,alliant,ibx,other > "$REQ"
psql -X -q -v ON_ERROR_STOP=1 -d bench <<SQL
CREATE TABLE requests_text (line text NOT NULL);
\copy requests_text FROM '$REQ' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
CREATE TABLE requests (r jsonb NOT NULL);
INSERT INTO requests SELECT line::jsonb FROM requests_text;
ALTER TABLE requests SET (parallel_workers = 2);
ALTER TABLE requests_text SET (parallel_workers = 2);
VACUUM ANALYZE requests;
VACUUM ANALYZE requests_text;
SQL

# sql_seconds WORKERS QUERY: the best of RUNS server-side times of QUERY
# (psql's \timing), with WORKERS parallel workers.
sql_seconds() {
    w=$1 q=$2 best=""
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        t=$(psql -X -q -v ON_ERROR_STOP=1 -d bench <<SQL | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1
SET max_parallel_workers_per_gather = $w;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SELECT count(*) FROM requests_text \g /dev/null
\timing on
$q \g /dev/null
SQL
)
        best=$(awk -v a="$t" -v b="$best" 'BEGIN { print ((b == "" || a + 0 < b + 0) ? a : b) }')
        i=$((i + 1))
    done
    awk -v ms="$best" 'BEGIN { printf "%.3f", ms / 1000 }'
}

# The plan really uses the workers.
psql -X -q -A -t -d bench <<'SQL' | grep -q 'Workers Planned: 2' || { echo "bench-pg: no parallel plan" >&2; exit 1; }
SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
SET parallel_leader_participation = off;
EXPLAIN SELECT count(pcr.decide(r)) FROM requests;
SQL

best_pcrvm=""
i=0
while [ "$i" -lt "$RUNS" ]; do
    t0=$("$DIR/gen" clock)
    bin/pcrvm "$PG_TMP"/pcrb/*.pcrb "$REQ" > /dev/null
    t1=$("$DIR/gen" clock)
    best_pcrvm=$(awk -v a="$t0" -v b="$t1" -v c="$best_pcrvm" 'BEGIN { t = b - a; print ((c == "" || t < c + 0) ? t : c) }')
    i=$((i + 1))
done

row() { awk -v n="$N" -v s="$2" -v base="$3" -v label="$1" \
    'BEGIN { printf "%-48s %8.2f s %10.0f rows/s %6.2fx\n", label, s, n / s, (base > 0 ? base / s : 1) }'; }
d0=$(sql_seconds 0 "SELECT count(pcr.decide(r)) FROM requests")
d2=$(sql_seconds 2 "SELECT count(pcr.decide(r)) FROM requests")
t0=$(sql_seconds 0 "SELECT count(pcr.decide_text(line)) FROM requests_text")
t2=$(sql_seconds 2 "SELECT count(pcr.decide_text(line)) FROM requests_text")
j0=$(sql_seconds 0 "SELECT count(r::text) FROM requests")
s0=$(sql_seconds 0 "SELECT count(r) FROM requests")
echo "bench-pg: $N generated requests, 4 payer policies, best of $RUNS; x = against the row above it"
row "pcrvm, one process, from a file" "$best_pcrvm" 0
row "pcr.decide(jsonb), 0 workers" "$d0" 0
row "pcr.decide(jsonb), 2 workers" "$d2" "$d0"
row "pcr.decide_text(text), 0 workers" "$t0" 0
row "pcr.decide_text(text), 2 workers" "$t2" "$t0"
row "scan only: count(r), 0 workers" "$s0" 0
row "jsonb to text only: count(r::text), 0 workers" "$j0" 0
awk -v p="$best_pcrvm" -v d="$d0" 'BEGIN { printf "pcr.decide with 0 workers runs at %.0f%% of pcrvm'"'"'s rate\n", 100 * p / d }'
pg_stop
