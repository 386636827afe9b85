#!/bin/sh
# bench/pg.sh: `make bench-pg` (docs/postgres.md, "Throughput").
#
# In a throwaway PostgreSQL 15 cluster (scripts/pg-cluster.sh) with the four
# payer policies loaded: BENCH_PG_N generated requests (1,000,000) in a
# table, decided by
#   SELECT count(pcr.decide(r)) FROM requests
# with no parallel worker and with 2 (parallel costs set to 0 and the
# leader not participating, so exactly 2 processes decide), and `pcrvm -j 1`
# (one core) over the same records from a file, in the same run. Also the
# two ways of reading the jsonb, side by side: pcr.decide(r) reads the
# binary value; pcr.decide_text(r::text) is the text route (jsonb_out, then
# the text decided); pcr.decide(r) with pcr.direct = off (the request
# written as text from the binary value, then decided); plus decide_text over the records stored as text, the
# scan alone and the jsonb-to-text step alone. count() keeps the client out
# of the measurement: the decisions are made and dropped in the server.
#
# Each figure is the best of BENCH_RUNS (3) rounds; a round runs every
# command once, so that load from other processes falls on all of them
# alike. Beside the wall time, the CPU time the command used: for pcrvm, its
# user + system time; for a query, the backend's own, plus that of the
# parallel workers (children of the postmaster: their time is added to its
# cutime/cstime when they exit; autovacuum is off so no other child exits
# during a query). On a busy shared machine the CPU time is the steadier
# measure of the work done; the wall time says what a user waits.
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
PCR_PG_OPTS="-c shared_buffers=512MB -c max_parallel_workers=4 -c max_worker_processes=8 -c autovacuum=off"
pg_start
createdb bench
psql -X -q -d bench -c "CREATE EXTENSION pcr"
pg_load_policies bench
REQ=$DIR/requests.jsonl
"$DIR/gen" requests "$N" --payers healthlink,cigna,alliant,ibx,other > "$REQ"
chmod a+r "$REQ"
psql -X -q -v ON_ERROR_STOP=1 -d bench <<SQL
CREATE TABLE requests_text (line text NOT NULL);
\copy requests_text FROM '$REQ' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
CREATE TABLE requests (r jsonb NOT NULL);
INSERT INTO requests SELECT line::jsonb FROM requests_text;
ALTER TABLE requests SET (parallel_workers = 2);
ALTER TABLE requests_text SET (parallel_workers = 2);
VACUUM ANALYZE requests;
VACUUM ANALYZE requests_text;
-- CPU seconds used so far by this backend (utime + stime of
-- /proc/self/stat) and by the postmaster's exited children (cutime +
-- cstime of its stat): fields 14-17 of proc(5), counted after the ") "
-- that ends the command name.
CREATE FUNCTION bench_cpu() RETURNS numeric LANGUAGE sql AS \$\$
  WITH s AS (
    SELECT string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') AS me,
           string_to_array(split_part(pg_read_file('/proc/' ||
               split_part(pg_read_file('postmaster.pid'), E'\n', 1) || '/stat'), ') ', 2), ' ') AS pm)
  SELECT (me[12]::bigint + me[13]::bigint + pm[14]::bigint + pm[15]::bigint) / $(getconf CLK_TCK).0
    FROM s \$\$;
SQL

# sql_run WORKERS QUERY: "WALL CPU" (seconds) of one run of QUERY with
# WORKERS parallel workers, both measured in the server.
sql_run() {
    psql -X -q -A -t -v ON_ERROR_STOP=1 -d bench <<SQL
SET max_parallel_workers_per_gather = $1;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SELECT count(*) FROM requests_text \g /dev/null
SELECT bench_cpu() AS c0, clock_timestamp() AS t0 \gset
$2 \g /dev/null
SELECT extract(epoch FROM clock_timestamp() - :'t0') || ' ' || (bench_cpu() - :c0);
SQL
}

# pcrvm_run: "WALL CPU" of pcrvm on one core over the file; CPU from the
# cutime + cstime of the shell that waited for it.
pcrvm_run() {
    sh -c '
        t0=$("$1/gen" clock)
        bin/pcrvm -j 1 "$2"/*.pcrb "$3" < /dev/null > /dev/null
        t1=$("$1/gen" clock)
        read -r stat < /proc/$$/stat
        echo "$t0 $t1 ${stat#*) }"' sh "$DIR" "$PG_TMP/pcrb" "$REQ" |
        awk -v hz="$(getconf CLK_TCK)" '{ print $2 - $1, ($16 + $17) / hz }'
}

# The plan really uses the workers.
psql -X -q -A -t -d bench <<'SQL' | grep -q 'Workers Planned: 2' || { echo "bench-pg: no parallel plan" >&2; exit 1; }
SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
SET parallel_leader_participation = off;
EXPLAIN SELECT count(pcr.decide(r)) FROM requests;
SQL

# The rows of the table: NAME WORKERS QUERY (pcrvm: WORKERS "-").
ROWS="pcrvm|-|
decide|0|SELECT count(pcr.decide(r)) FROM requests
decide2|2|SELECT count(pcr.decide(r)) FROM requests
decideoff|0|SET pcr.direct = off; SELECT count(pcr.decide(r)) FROM requests
textroute|0|SELECT count(pcr.decide_text(r::text)) FROM requests
text|0|SELECT count(pcr.decide_text(line)) FROM requests_text
text2|2|SELECT count(pcr.decide_text(line)) FROM requests_text
scan|0|SELECT count(r) FROM requests
totext|0|SELECT count(r::text) FROM requests"
RES=$DIR/results
: > "$RES"
i=0
while [ "$i" -lt "$RUNS" ]; do
    echo "$ROWS" | while IFS='|' read -r name w q; do
        if [ "$w" = - ]; then r=$(pcrvm_run); else r=$(sql_run "$w" "$q"); fi
        echo "$name $r" >> "$RES"
    done
    i=$((i + 1))
done

# best NAME: "WALL CPU", each the least of the runs.
best() {
    awk -v n="$1" '$1 == n { if (w == "" || $2 < w) w = $2; if (c == "" || $3 < c) c = $3 }
                   END { print w, c }' "$RES"
}
row() { # LABEL NAME [BASE-NAME]: times, rates, and x against BASE (wall, cpu)
    set -- "$1" "$(best "$2")" "$(best "${3:-$2}")"
    awk -v n="$N" -v label="$1" -v t="$2" -v b="$3" 'BEGIN {
        split(t, a, " "); split(b, z, " ")
        printf "%-44s %7.2f s %8.0f/s %7.2f s ", label, a[1], n / a[1], a[2]
        printf (a[2] > 0 ? "%8.0f/s" : "%10s"), (a[2] > 0 ? n / a[2] : "-")
        if (t != b) printf "  %5.2fx %5.2fx", z[1] / a[1], (a[2] > 0 ? z[2] / a[2] : 0)
        printf "\n" }'
}
echo "bench-pg: $N generated requests, 4 payer policies, best of $RUNS rounds; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-44s %10s %10s %10s %10s  %s\n" "" "wall" "rows/s" "cpu" "rows/cpu-s" "x (wall, cpu)"
row "pcrvm -j 1 (one core), from a file" pcrvm
row "pcr.decide(jsonb), 0 workers" decide
row "pcr.decide(jsonb), 2 workers (x: vs 0)" decide2 decide
row "pcr.decide, pcr.direct = off (x: vs on)" decideoff decide
row "text route: decide_text(r::text), 0 workers" textroute
row "pcr.decide_text(text column), 0 workers" text
row "pcr.decide_text(text column), 2 workers" text2 text
row "scan only: count(r)" scan
row "jsonb to text only: count(r::text)" totext
set -- $(best pcrvm) $(best decide) $(best textroute)
awk -v pw="$1" -v pc="$2" -v dw="$3" -v dc="$4" -v tw="$5" -v tc="$6" 'BEGIN {
    printf "pcr.decide, 0 workers: %.0f%% of pcrvm -j 1 by wall time, %.0f%% by CPU time (target 50%%)\n",
        100 * pw / dw, 100 * pc / dc
    printf "reading jsonb directly vs through its text: %.2fx by wall, %.2fx by CPU\n", tw / dw, tc / dc }'
pg_stop
