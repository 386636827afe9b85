#!/bin/sh
# bench/check.sh [BIN_DIR]: tests of the benchmark inputs (docs/benchmarks.md).
#
# Checks bench/gen.c: it builds warning-free; its requests are valid JSON
# records of the standard schema (bench/check_gen.py, which reads
# policies/std/request.pcr), deterministic, and a prefix of each other;
# its policies have the asked-for rule and code counts; `--unmatched` codes
# never occur in requests; bad arguments are refused. With BIN_DIR holding
# pcrc and pcrvm, every generated policy must compile and decide the whole
# batch without an error decision, every rule of the typical policy must
# fire on some request, and the 1-rule and 10,000-rule unmatched policies
# must give byte-identical decisions. bench/run.sh is run against stub
# tools (errors, fallbacks, input reuse) and, with BIN_DIR, for real.
#
# CHECK_N records (default 1000000); CHECK_DIR scratch (build/bench-check;
# its large files are removed after a clean run).
# Needs python3. Exits 1 when any check fails.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd) || exit 1
BIN=
if [ $# -ge 1 ]; then
    case $1 in
    /*) BIN=$1 ;;
    *) BIN=$(pwd)/$1 ;;
    esac
fi
cd "$ROOT" || exit 1
N=${CHECK_N:-1000000}
DIR=${CHECK_DIR:-build/bench-check}
CC=${CC:-cc}
PY=python3
SCHEMA=policies/std/request.pcr
mkdir -p "$DIR" || exit 1

PASS=0 FAIL=0
ok() {
    PASS=$((PASS + 1))
    echo "ok   $*"
}
bad() {
    FAIL=$((FAIL + 1))
    echo "FAIL $*"
}
# check NAME CMD...: CMD must succeed.
check() {
    c_name=$1
    shift
    if "$@" > "$DIR/last.out" 2>&1; then ok "$c_name"; else
        bad "$c_name"
        sed 's/^/     /' "$DIR/last.out" | head -n 20
    fi
}
# refuse NAME STATUS CMD...: CMD must exit with STATUS (and say something on stderr).
refuse() {
    r_name=$1 r_want=$2
    shift 2
    "$@" > "$DIR/last.out" 2> "$DIR/last.err"
    r_rc=$?
    if [ "$r_rc" -eq "$r_want" ] && [ -s "$DIR/last.err" ] && [ ! -s "$DIR/last.out" ]; then
        ok "$r_name"
    else
        bad "$r_name (exit $r_rc, want $r_want)"
        head -n 5 "$DIR/last.err" | sed 's/^/     /'
    fi
}
same() { cmp -s "$1" "$2"; }

command -v "$PY" > /dev/null 2>&1 || {
    echo "check: python3 is needed" >&2
    exit 2
}

# ---- build ---------------------------------------------------------------
WARN="-std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
GEN=$DIR/gen
check "gen.c builds warning-free ($CC -O2, house warnings)" $CC -O2 $WARN bench/gen.c -o "$GEN"
check "gen.c builds with plain $CC -O2 (as run.sh does)" $CC -O2 bench/gen.c -o "$DIR/gen-plain"
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
check "gen.c builds with ASan+UBSan" $CC -O1 -g $WARN $SAN bench/gen.c -o "$DIR/gen-san"
[ -x "$GEN" ] || {
    echo "check: cannot go on without gen" >&2
    exit 1
}

# ---- requests --------------------------------------------------------------
REQ=$DIR/requests.jsonl
T0=$("$GEN" clock)
"$GEN" requests "$N" > "$REQ"
RC=$?
T1=$("$GEN" clock)
[ "$RC" -eq 0 ] && ok "gen requests $N" || bad "gen requests $N (exit $RC)"
awk -v a="$T0" -v b="$T1" -v n="$N" -v f="$REQ" 'BEGIN {
    printf "     (%d records in %.2f s; not asserted: timings are noisy)\n", n, b - a }'
LINES=$(wc -l < "$REQ" | tr -d ' ')
[ "$LINES" = "$N" ] && ok "requests: $N lines" || bad "requests: $LINES lines, want $N"
check "requests: every line a schema-valid JSON record" $PY bench/check_gen.py requests "$SCHEMA" "$REQ"
"$GEN" requests "$N" | cmp -s - "$REQ" && ok "requests: a second run gives identical bytes" ||
    bad "requests: a second run differs"
"$DIR/gen-plain" requests 1000 > "$DIR/r1000.jsonl"
head -n 1000 "$REQ" | cmp -s - "$DIR/r1000.jsonl" && ok "requests: N=1000 is a prefix of N=$N" ||
    bad "requests: N=1000 is not a prefix of N=$N"
SAN_N=$((N < 20000 ? N : 20000))
"$DIR/gen-san" requests "$SAN_N" > "$DIR/r-san.jsonl" 2> "$DIR/san.err" && [ ! -s "$DIR/san.err" ] &&
    head -n "$SAN_N" "$REQ" | cmp -s - "$DIR/r-san.jsonl" && ok "requests: sanitized build, same bytes, no reports" ||
    bad "requests: sanitized build differs or reported (see $DIR/san.err)"

"$GEN" requests 3000 --payers alpha,beta.2,gamma-3 > "$DIR/payers.jsonl"
check "requests --payers: valid records, payers from the list" \
    $PY bench/check_gen.py requests "$SCHEMA" "$DIR/payers.jsonl" alpha,beta.2,gamma-3
P=$(sed 's/.*"payer":"\([^"]*\)".*/\1/' "$DIR/payers.jsonl" | sort -u | tr '\n' ' ')
[ "$P" = "alpha beta.2 gamma-3 " ] && ok "requests --payers: every payer used" || bad "requests --payers: payers used: $P"
"$GEN" requests 0 > "$DIR/empty.jsonl" && [ ! -s "$DIR/empty.jsonl" ] && ok "requests 0: empty output" ||
    bad "requests 0"

# The validator must be able to fail: corrupt one record of each kind.
head -n 200 "$REQ" > "$DIR/good.jsonl"
for mutation in 's/"service_date":"\([0-9-]*\)"/"service_date":"2024-02-30"/' \
    's/"setting":"[a-z_]*"/"setting":"outpt"/' 's/"code":"[^"]*"/"code":"70A5"/' \
    's/"code":"[^"]*"/"code":"70551","code_system":"HCPCS"/' 's/}$/,"payer":"x"}/' \
    's/"id":"[^"]*",//' 's/}$/,"units":1.5}/' 's/}$/,"bogus":1}/' 's/^{/[/'; do
    sed "100$mutation" "$DIR/good.jsonl" > "$DIR/bad.jsonl"
    if cmp -s "$DIR/good.jsonl" "$DIR/bad.jsonl"; then
        bad "validator control: mutation $mutation did not apply"
    elif $PY bench/check_gen.py requests "$SCHEMA" "$DIR/bad.jsonl" > /dev/null 2>&1; then
        bad "validator control: accepted a record mutated by $mutation"
    else
        ok "validator control: rejects $mutation"
    fi
done

# ---- policies -------------------------------------------------------------
"$GEN" policy-small > "$DIR/small.pcr" && ok "gen policy-small" || bad "gen policy-small"
SMALL_RULES=$(grep -c '^rule ' "$DIR/small.pcr")
[ "$SMALL_RULES" -ge 35 ] && [ "$SMALL_RULES" -le 45 ] && ok "policy-small: $SMALL_RULES rules (about 40)" ||
    bad "policy-small: $SMALL_RULES rules"
check "policy-small: well-formed" $PY bench/check_gen.py policy "$DIR/small.pcr" "$SMALL_RULES" -

for args in "10000 100000" "10000 100000 --unmatched" "1 10 --unmatched" "1 1" "40 40" "20 5000" "3 100000"; do
    # shellcheck disable=SC2086
    set -- $args
    f="$DIR/policy-$1-$2${3:+-u}.pcr"
    "$GEN" policy "$@" > "$f" && ok "gen policy $args" || bad "gen policy $args"
    check "policy $args: $1 rules, $2 distinct codes, well-formed" $PY bench/check_gen.py policy "$f" "$@"
    "$GEN" policy "$@" | cmp -s - "$f" && ok "policy $args: deterministic" || bad "policy $args: differs between runs"
    "$DIR/gen-san" policy "$@" > "$DIR/p-san.pcr" 2> "$DIR/san.err" && [ ! -s "$DIR/san.err" ] &&
        cmp -s "$DIR/p-san.pcr" "$f" && ok "policy $args: sanitized build, same bytes" ||
        bad "policy $args: sanitized build differs or reported"
done
check "policy --unmatched: no request code is in its sets" \
    $PY bench/check_gen.py disjoint "$DIR/policy-10000-100000-u.pcr" "$REQ"
"$DIR/gen-san" policy-small 2> "$DIR/san.err" | cmp -s - "$DIR/small.pcr" && [ ! -s "$DIR/san.err" ] &&
    ok "policy-small: sanitized build, same bytes" || bad "policy-small: sanitized build"
# The validator must be able to fail here too.
$PY bench/check_gen.py policy "$DIR/policy-40-40.pcr" 41 40 > /dev/null 2>&1 &&
    bad "validator control: accepted a wrong rule count" || ok "validator control: rejects a wrong rule count"
$PY bench/check_gen.py policy "$DIR/policy-40-40.pcr" 40 41 > /dev/null 2>&1 &&
    bad "validator control: accepted a wrong code count" || ok "validator control: rejects a wrong code count"
$PY bench/check_gen.py disjoint "$DIR/policy-10000-100000.pcr" "$DIR/good.jsonl" > /dev/null 2>&1 &&
    bad "validator control: live policy disjoint from requests" || ok "validator control: live policy meets requests"

# ---- bad arguments ----------------------------------------------------------
refuse "no arguments" 2 "$GEN"
refuse "unknown mode" 2 "$GEN" frobnicate
refuse "requests without N" 2 "$GEN" requests
refuse "requests N not a number" 2 "$GEN" requests 12x
refuse "requests N negative" 2 "$GEN" requests -5
refuse "requests bad payer" 2 "$GEN" requests 5 --payers 'a"b'
refuse "requests empty payer" 2 "$GEN" requests 5 --payers 'a,,b'
refuse "requests unknown option" 2 "$GEN" requests 5 --payer a
refuse "policy 0 rules" 2 "$GEN" policy 0 10
refuse "policy too many codes" 2 "$GEN" policy 10 999999999
refuse "policy --unmatched too many codes" 2 "$GEN" policy 10 200000 --unmatched
refuse "policy fewer codes than sets" 1 "$GEN" policy 100 5
refuse "policy-small with arguments" 2 "$GEN" policy-small 3
refuse "policy --peers without --unmatched" 1 "$GEN" policy 10 100 --peers
refuse "policy --unmatched twice" 2 "$GEN" policy 10 100 --unmatched --unmatched
refuse "requests-peers without N" 2 "$GEN" requests-peers
refuse "requests-peers with an option" 2 "$GEN" requests-peers 5 --payers a
refuse "clock with arguments" 2 "$GEN" clock x

# ---- with the tools -------------------------------------------------------
if [ -n "$BIN" ] && [ -x "$BIN/pcrc" ] && [ -x "$BIN/pcrvm" ]; then
    for p in small policy-10000-100000 policy-10000-100000-u policy-1-10-u policy-1-1 policy-40-40 policy-20-5000 policy-3-100000; do
        check "pcrc compiles $p.pcr" "$BIN/pcrc" -I policies "$DIR/$p.pcr" -o "$DIR/$p.pcrb"
    done
    check "pcrc: policy-small compiles without warnings" sh -c \
        "'$BIN/pcrc' --Werror -I policies '$DIR/small.pcr' -o '$DIR/small-w.pcrb'"
    # The list-of-codes scale pair (bench/peers/peers_request.pcr) on records of that shape.
    "$GEN" requests-peers "$N" > "$DIR/peers.jsonl" && ok "gen requests-peers $N" || bad "gen requests-peers $N"
    "$GEN" requests-peers "$N" | cmp -s - "$DIR/peers.jsonl" && ok "requests-peers: deterministic" ||
        bad "requests-peers: differs between runs"
    for args in "1 10" "10000 100000"; do
        # shellcheck disable=SC2086
        set -- $args
        f="$DIR/peers-$1"
        "$GEN" policy "$1" "$2" --unmatched --peers > "$f.pcr" && ok "gen policy $args --unmatched --peers" ||
            bad "gen policy $args --unmatched --peers"
        [ "$(grep -c '^rule ' "$f.pcr")" = "$1" ] && ok "policy $args --peers: $1 rules" || bad "policy $args --peers: rule count"
        check "pcrc compiles policy $args --unmatched --peers" \
            "$BIN/pcrc" -I policies -I bench/peers "$f.pcr" -o "$f.pcrb"
        "$BIN/pcrvm" -j 1 --strict "$f.pcrb" "$DIR/peers.jsonl" > "$f.out" 2> "$f.err" &&
            ok "pcrvm --strict peers-$1: no malformed record" || bad "pcrvm --strict peers-$1: $(head -n 1 "$f.err")"
    done
    same "$DIR/peers-1.out" "$DIR/peers-10000.out" && [ "$(wc -l < "$DIR/peers-1.out" | tr -d ' ')" = "$N" ] &&
        ! grep -v '"decision":"none"' "$DIR/peers-1.out" | grep -q . &&
        ok "pcrvm: 1 and 10000 unmatched --peers rules decide none for every record, alike" ||
        bad "pcrvm: the unmatched --peers policies decide differently or not none"
    for p in small policy-10000-100000 policy-1-10-u policy-10000-100000-u; do
        [ -f "$DIR/$p.pcrb" ] || continue
        "$BIN/pcrvm" --strict --stats "$DIR/$p.pcrb" "$REQ" > "$DIR/$p.out" 2> "$DIR/$p.err" &&
            ok "pcrvm --strict $p: no malformed record" || bad "pcrvm --strict $p: $(head -n 1 "$DIR/$p.err")"
        L=$(wc -l < "$DIR/$p.out" | tr -d ' ')
        [ "$L" = "$N" ] && ok "pcrvm $p: $N decisions" || bad "pcrvm $p: $L decisions, want $N"
        sed 's/.*"decision":"\([a-z_]*\)".*/\1/' "$DIR/$p.out" | sort | uniq -c | sort -rn |
            awk -v p="$p" '{ s = s sep $2 " " $1; sep = ", " } END { print "     " p ": " s }'
    done
    if [ -f "$DIR/policy-1-10-u.out" ] && [ -f "$DIR/policy-10000-100000-u.out" ]; then
        same "$DIR/policy-1-10-u.out" "$DIR/policy-10000-100000-u.out" &&
            ok "pcrvm: 1 and 10000 unmatched rules give identical decisions" ||
            bad "pcrvm: 1 and 10000 unmatched rules decide differently"
        grep -v '"decision":"none"' "$DIR/policy-1-10-u.out" | head -n 1 | grep -q . &&
            bad "pcrvm: an unmatched policy decided something other than none" ||
            ok "pcrvm: unmatched policies decide none for every record"
    fi
    # The rarest rules fire about once in 15,000 records: a full batch only.
    FIRED=$(grep -c '^rule ' "$DIR/small.err")
    if [ "$N" -ge 1000000 ]; then
        [ "$FIRED" = "$SMALL_RULES" ] && ok "pcrvm small: each of its $SMALL_RULES rules fires on some request" ||
            bad "pcrvm small: only $FIRED of $SMALL_RULES rules ever fire"
    else
        echo "skip pcrvm small: every rule fires (needs CHECK_N >= 1000000; $FIRED of $SMALL_RULES fired)"
    fi
    for p in small policy-10000-100000; do
        K=$(sed 's/.*"decision":"\([a-z_]*\)".*/\1/' "$DIR/$p.out" | sort -u | wc -l | tr -d ' ')
        [ "$K" -ge 4 ] && ok "pcrvm $p: $K kinds of decision (a realistic mix)" ||
            bad "pcrvm $p: only $K kinds of decision"
    done
else
    echo "skip pcrc/pcrvm checks (no BIN_DIR with pcrc and pcrvm given)"
fi

# ---- run.sh -------------------------------------------------------------------
# Stub tools: a pcrc that fails, and a pcrvm that prints no peak_rss_kb.
STUB=$DIR/stub
mkdir -p "$STUB/fail" "$STUB/ok"
printf '#!/bin/sh\necho "x.pcr:1:1: error[E001]: stub failure" >&2\nexit 1\n' > "$STUB/fail/pcrc"
printf '#!/bin/sh\nfor a; do o=$a; done\n: > "$o"\n' > "$STUB/ok/pcrc"
printf '#!/bin/sh\nfor a; do in=$a; done\nwhile read -r l; do echo "{}"; done < "$in"\necho "decision none 1" >&2\n' > "$STUB/ok/pcrvm"
cp "$STUB/ok/pcrvm" "$STUB/fail/pcrvm"
chmod +x "$STUB"/*/*
QUICK="BENCH_N=300 BENCH_RULES=20 BENCH_CODES=400 BENCH_RUNS=1 BENCH_DIR=$DIR/run"
rm -rf "$DIR/run" "$DIR/run-fail"
# Table rows: compile, 6 policies, the four payers with -j 1, -j 2 and -j 2
# from a pipe, and jq -c . when jq is installed.
ROWS=10
command -v jq > /dev/null 2>&1 && ROWS=11
refuse "run.sh without BIN_DIR" 2 sh bench/run.sh
refuse "run.sh with a BIN_DIR lacking the tools" 1 sh bench/run.sh "$DIR/nowhere"
refuse "run.sh with a bad BENCH_N" 1 env BENCH_N=12x sh bench/run.sh "$STUB/ok"
refuse "run.sh with BENCH_RULES=1" 1 env BENCH_RULES=1 sh bench/run.sh "$STUB/ok"
refuse "run.sh when pcrc fails" 1 env $QUICK BENCH_DIR="$DIR/run-fail" sh bench/run.sh "$STUB/fail"
env $QUICK BENCH_TIME= sh bench/run.sh "$STUB/ok" > "$DIR/run.out" 2> "$DIR/run.err" &&
    [ "$(grep -c ' n/a$' "$DIR/run.out")" = "$ROWS" ] && [ "$(grep -c '^generating' "$DIR/run.err")" = 9 ] &&
    ok "run.sh without RSS sources: generates 9 inputs, runs, shows n/a" ||
    bad "run.sh without RSS sources (see $DIR/run.out, $DIR/run.err)"
RSS_END=' n/a$'
/usr/bin/time -o /dev/null -v true > /dev/null 2>&1 && RSS_END=' MiB$' # GNU time present
env $QUICK sh bench/run.sh "$STUB/ok" > "$DIR/run.out" 2> "$DIR/run.err" &&
    ! grep -q '^generating' "$DIR/run.err" && [ "$(grep -c "$RSS_END" "$DIR/run.out")" = "$ROWS" ] &&
    ok "run.sh: reuses inputs with unchanged parameters; RSS from GNU time if any" ||
    bad "run.sh: second run (see $DIR/run.out, $DIR/run.err)"
if [ -n "$BIN" ] && [ -x "$BIN/pcrc" ] && [ -x "$BIN/pcrvm" ]; then
    env $QUICK BENCH_RUNS=2 sh bench/run.sh "$BIN" > "$DIR/run.out" 2> "$DIR/run.err" &&
        [ "$(grep -c '^pcrvm .* MiB$' "$DIR/run.out")" = 9 ] && grep -q '^scale: 20 rules' "$DIR/run.out" &&
        grep -q '^scale, list of codes' "$DIR/run.out" &&
        grep -q -E '^    each round \(-j 1 / -j 2\): [0-9]+\.[0-9]{2}x [0-9]+\.[0-9]{2}x$' "$DIR/run.out" &&
        { [ "$ROWS" = 10 ] || grep -q -E '^    each round \(jq / pcrvm\): [0-9]+\.[0-9]x [0-9]+\.[0-9]x$' "$DIR/run.out"; } &&
        ! grep -q . "$DIR/run.err" && ok "run.sh with the tools: table, scale line, each round's ratios, nothing on stderr" ||
        bad "run.sh with the tools (see $DIR/run.out, $DIR/run.err)"
fi

# ---- compare.sh ---------------------------------------------------------------
# The stubs again, and one whose pcrvm decides otherwise.
mkdir -p "$STUB/other"
cp "$STUB/ok/pcrc" "$STUB/other/pcrc"
printf '#!/bin/sh\nfor a; do in=$a; done\nwhile read -r l; do echo "{\\"x\\":1}"; done < "$in"\n' > "$STUB/other/pcrvm"
chmod +x "$STUB/other/pcrvm"
CQ="COMPARE_N=300 COMPARE_ROUNDS=2 COMPARE_DIR=$DIR/compare"
# compare_rows FILE COUNT: the table has COUNT rows, one a batch.
compare_rows() {
    [ "$(grep -c -E '^(payers|typical|large|scale-peers|peers) +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$' "$1")" = "$2" ]
}
# the batches without the peers one, which needs ../shared/peers
FOUR="payers typical large scale-peers"
FIVE=4
[ -f ../shared/peers/gen_requests.py ] && command -v python3 > /dev/null 2>&1 && FIVE=5
refuse "compare.sh without arguments" 2 sh bench/compare.sh
refuse "compare.sh with a BASE that is no revision" 2 env $CQ sh bench/compare.sh no-such-revision "$STUB/ok"
refuse "compare.sh with a bad COMPARE_ROUNDS" 1 env $CQ COMPARE_ROUNDS=2x sh bench/compare.sh HEAD "$STUB/ok"
refuse "compare.sh with an unknown batch" 1 env $CQ COMPARE_BATCHES="payers nope" sh bench/compare.sh HEAD "$STUB/ok"
refuse "compare.sh with the peers batch but no peer benchmark" 1 \
    env $CQ COMPARE_BATCHES=peers COMPARE_PEERS="$DIR/nowhere" sh bench/compare.sh HEAD "$STUB/ok"
refuse "compare.sh when the builds decide differently" 1 \
    env $CQ COMPARE_BATCHES="$FOUR" COMPARE_BASE_BIN="$STUB/other" sh bench/compare.sh other "$STUB/ok"
grep -q 'decide the payers batch differently' "$DIR/last.err" && ok "compare.sh names the batch that differs" ||
    bad "compare.sh's message for builds that differ: $(head -n 1 "$DIR/last.err")"
env $CQ COMPARE_BATCHES="$FOUR" COMPARE_BASE_BIN="$STUB/other" COMPARE_DIFF_OK=1 \
    sh bench/compare.sh other "$STUB/ok" > "$DIR/compare.out" 2> "$DIR/compare.err" &&
    compare_rows "$DIR/compare.out" 4 &&
    [ "$(grep -c 'differently' "$DIR/compare.err")" = 4 ] &&
    ok "compare.sh with COMPARE_DIFF_OK=1: says so for each batch and compares" ||
    bad "compare.sh with COMPARE_DIFF_OK=1 (see $DIR/compare.out, $DIR/compare.err)"
if [ -n "$BIN" ] && [ -x "$BIN/pcrc" ] && [ -x "$BIN/pcrvm" ]; then
    env $CQ COMPARE_BASE_BIN="$BIN" sh bench/compare.sh self "$BIN" > "$DIR/compare.out" 2> "$DIR/compare.err" &&
        compare_rows "$DIR/compare.out" "$FIVE" && ! grep -q 'differently' "$DIR/compare.err" &&
        ok "compare.sh, a build against itself: a row for each of its $FIVE batches" ||
        bad "compare.sh, a build against itself (see $DIR/compare.out, $DIR/compare.err)"
    # the base built from a revision of this repository, in COMPARE_DIR
    env $CQ COMPARE_ROUNDS=1 COMPARE_BATCHES=payers sh bench/compare.sh HEAD "$BIN" \
        > "$DIR/compare.out" 2> "$DIR/compare.err" &&
        grep -q '^  base  HEAD ([0-9a-f]\{12\}): ' "$DIR/compare.out" &&
        [ "$(grep -c -E '^payers +[0-9.]+' "$DIR/compare.out")" = 1 ] &&
        ok "compare.sh HEAD: builds the revision and compares" ||
        bad "compare.sh HEAD (see $DIR/compare.out, $DIR/compare.err)"
fi

echo "$PASS passed, $FAIL failed"
# The batch and the decisions take about 1 GB: kept only to look into a failure.
[ "$FAIL" -eq 0 ] && rm -rf "$DIR"/*.jsonl "$DIR"/*.out "$DIR"/run/requests.jsonl "$DIR"/compare
[ "$FAIL" -eq 0 ]
