#!/bin/sh
# tests/pg/run.sh: `make test-pg` (docs/postgres.md). In a throwaway
# PostgreSQL 15 cluster (scripts/pg-cluster.sh):
#   1. pg_regress over ext/postgres/sql/ (load, decide, reload)
#   2. pcr.decide over policies/examples/requests.jsonl and over 100,000
#      generated requests against pcrvm on the same lines: the same JSON
#      object for every line, in order.
# "The same": both sides go through `jq -S -c` (keys sorted, one line), and
# the "record N: " that starts pcrvm's error messages is removed from both
# (a pcr.decide call is one record: it says "record 1"). Lines that are not
# JSON at all cannot be jsonb; pcr.decide_text compares those, and every
# line, from the text.
set -eu
cd "$(dirname "$0")/../.."
. scripts/pg-cluster.sh

N=${PCR_PG_N:-100000}
# PCR_PG_REGRESS_ONLY=1: stop after pg_regress (while editing its tests).
pg_prepare
pg_start
W=$PG_TMP/work
mkdir -p "$W"

echo "== pg_regress (ext/postgres/sql)"
PCR_PCRB_DIR=$PG_TMP/pcrb PCR_EXTRA_DIR=$PG_TMP/extra PCR_EXAMPLES_DIR=$PG_TMP/examples \
    make --no-print-directory -s -C ext/postgres PG_CONFIG="$PG_CONFIG" installcheck ||
    { cat ext/postgres/regression.diffs 2>/dev/null | head -80; exit 1; }

if [ -n "${PCR_PG_REGRESS_ONLY:-}" ]; then
    pg_stop
    echo "test-pg: pg_regress passed (PCR_PG_REGRESS_ONLY: nothing else run)"
    exit 0
fi

echo "== pcr.decide against pcrvm"
createdb pcrcmp
psql -X -q -d pcrcmp -c "CREATE EXTENSION pcr" > /dev/null
pg_load_policies pcrcmp
mkdir -p build/pgt
cc -O2 -o build/pgt/gen bench/gen.c
build/pgt/gen requests "$N" --payers healthlink,cigna,alliant,ibx,other > "$W/gen.jsonl"

# normalise FILE: sorted keys, one line, no record number in errors.
normalise() {
    jq -S -c 'if (.error | type) == "string" then .error |= sub("^record [0-9]+: "; "") else . end' "$1"
}

# compare NAME INPUT: pcr.decide over INPUT's JSON lines, decide_text over
# all its lines, each against pcrvm on the same lines.
compare() {
    name=$1 in=$2
    CSV="WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
    # A byte-preserving COPY: no quote, no delimiter, no escape can occur.
    psql -X -q -v ON_ERROR_STOP=1 -d pcrcmp > /dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS req, req_json;
CREATE TABLE req (n bigserial PRIMARY KEY, line text NOT NULL);
\copy req (line) FROM '$in' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02', FORCE_NOT_NULL (line))
CREATE FUNCTION pg_temp.as_jsonb(t text) RETURNS jsonb LANGUAGE plpgsql AS
\$\$ BEGIN RETURN t::jsonb; EXCEPTION WHEN others THEN RETURN NULL; END \$\$;
-- jsonb keeps the last of duplicate keys: pcrvm reports them as errors,
-- so such lines are left to decide_text (reported as "with duplicate keys").
CREATE FUNCTION pg_temp.dup_keys(t text) RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN
    RETURN json_typeof(t::json) = 'object' AND
           (SELECT count(*) FROM json_object_keys(t::json)) <> (SELECT count(*) FROM jsonb_object_keys(t::jsonb));
EXCEPTION WHEN others THEN RETURN false;
END \$\$;
CREATE TABLE req_json AS SELECT n, line, r FROM (SELECT n, line, pg_temp.as_jsonb(line) AS r FROM req) s
 WHERE r IS NOT NULL AND NOT pg_temp.dup_keys(line);
\copy (SELECT line FROM req_json WHERE r IS NOT NULL ORDER BY n) TO '$W/$name.json.jsonl' $CSV
-- Every decision's jsonb, written directly from the library's line, is
-- also compared with what jsonb_in makes of that line, byte for byte.
SET pcr.check_output = on;
\copy (SELECT pcr.decide(r) FROM req_json WHERE r IS NOT NULL ORDER BY n) TO '$W/$name.decide.jsonl' $CSV
\copy (SELECT pcr.decide_text(line) FROM req ORDER BY n) TO '$W/$name.text.jsonl' $CSV
-- The two routes of pcr.decide(jsonb) row by row: off always writes the
-- request's text; only gives NULL ('-') where the direct route falls back.
SET pcr.direct = off;
\copy (SELECT pcr.decide(r) FROM req_json WHERE r IS NOT NULL ORDER BY n) TO '$W/$name.off.jsonl' $CSV
SET pcr.direct = 'only';
\copy (SELECT coalesce(pcr.decide(r)::text, '-') FROM req_json WHERE r IS NOT NULL ORDER BY n) TO '$W/$name.only.jsonl' $CSV
SQL
    lines=$(wc -l < "$in")
    json=$(wc -l < "$W/$name.json.jsonl")
    bin/pcrvm "$PG_TMP"/pcrb/*.pcrb "$W/$name.json.jsonl" > "$W/$name.pcrvm-json.jsonl"
    bin/pcrvm "$PG_TMP"/pcrb/*.pcrb "$in" > "$W/$name.pcrvm.jsonl"
    normalise "$W/$name.decide.jsonl" > "$W/a" && normalise "$W/$name.pcrvm-json.jsonl" > "$W/b"
    if ! cmp -s "$W/a" "$W/b"; then
        echo "pcr.decide differs from pcrvm on $name:" >&2
        diff "$W/a" "$W/b" | head -20 >&2
        exit 1
    fi
    if ! cmp -s "$W/$name.decide.jsonl" "$W/$name.off.jsonl"; then
        echo "pcr.decide differs between pcr.direct = on and off on $name" >&2
        exit 1
    fi
    # direct: rows the direct route decided (each the same as the text
    # route's); fallback: rows it left to the text route (with a reason).
    counts=$(paste "$W/$name.only.jsonl" "$W/$name.off.jsonl" | awk -F '\t' '
        $1 == "-" { fallback++; if ($2 ~ /"decision": "error"/) errors++; next }
        $1 != $2 { bad++ } { direct++ }
        END { printf "%d %d %d %d\n", direct, fallback, errors, bad }')
    set -- $counts
    if [ "$4" -ne 0 ] || [ "$1" -eq 0 ]; then
        echo "pcr.direct = only on $name: $1 direct, $4 of them differ from the text route" >&2
        exit 1
    fi
    echo "$name: direct route took $1 of $json requests, identical to the text route;" \
        "$2 fell back ($3 of them error decisions)"
    normalise "$W/$name.text.jsonl" > "$W/a" && normalise "$W/$name.pcrvm.jsonl" > "$W/b"
    if ! cmp -s "$W/a" "$W/b"; then
        echo "pcr.decide_text differs from pcrvm on $name:" >&2
        diff "$W/a" "$W/b" | head -20 >&2
        exit 1
    fi
    echo "$name: $lines lines; pcr.decide on the $json that are JSON objects without duplicate keys," \
        "pcr.decide_text on all $lines: identical to pcrvm"
}
compare examples "$PCR_ROOT/policies/examples/requests.jsonl"
compare generated "$W/gen.jsonl"

# 3. No memory kept across calls: one backend's private resident memory
#    (RssAnon) after a first round of 600,000 decisions (over all policies,
#    over a subset, from text), which warms every cache up and sizes the
#    allocator's heap for these plans, then after two more rounds (1,200,000
#    calls). The library allocates with malloc, outside palloc: a leak of
#    4 bytes a call would show as 4.8 MB.
echo "== memory across 1,200,000 calls in one backend"
rss=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -d pcrcmp <<'SQL'
SET max_parallel_workers_per_gather = 0;
CREATE TEMP VIEW rss AS SELECT substring(pg_read_file('/proc/self/status') FROM 'RssAnon:\s*(\d+)') AS kb;
SELECT count(pcr.decide(r)) FROM req_json, generate_series(1, 4) \g /dev/null
SELECT count(pcr.decide(r, ARRAY['cigna', 'ibx'])) FROM req_json \g /dev/null
SELECT count(pcr.decide_text(line)) FROM req_json \g /dev/null
SELECT kb AS before FROM rss \gset
SELECT count(pcr.decide(r)) FROM req_json, generate_series(1, 4) \g /dev/null
SELECT count(pcr.decide(r, ARRAY['cigna', 'ibx'])) FROM req_json \g /dev/null
SELECT count(pcr.decide_text(line)) FROM req_json \g /dev/null
SELECT count(pcr.decide(r)) FROM req_json, generate_series(1, 4) \g /dev/null
SELECT count(pcr.decide(r, ARRAY['cigna', 'ibx'])) FROM req_json \g /dev/null
SELECT count(pcr.decide_text(line)) FROM req_json \g /dev/null
SELECT :before || ' ' || kb FROM rss;
SQL
)
set -- $rss
echo "backend RssAnon (private memory; shared buffers the scans touch are not counted): $1 kB before, $2 kB after ($(($2 - $1)) kB)"
if [ $(($2 - $1)) -gt 4096 ]; then
    echo "test-pg: the backend grew by more than 4 MB over 1,200,000 calls" >&2
    exit 1
fi
# 4. A database that is not UTF8: the decide functions refuse, plainly.
createdb -E LATIN1 -T template0 --locale=C pcrlatin1
msg=$(psql -X -q -d pcrlatin1 -c "CREATE EXTENSION pcr" -c "SELECT pcr.decide('{}')" 2>&1 || true)
case $msg in
*"pcr: the database encoding must be UTF8, not LATIN1"*) echo "LATIN1 database: refused" ;;
*) echo "test-pg: a LATIN1 database was not refused: $msg" >&2; exit 1 ;;
esac

pg_stop
echo "test-pg: passed"
