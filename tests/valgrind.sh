#!/bin/sh
# Runs pcrc and pcrvm end to end under valgrind's memcheck: every command
# path on the shipped policies, the example batches, and hostile inputs
# (truncated and corrupted bytecode, garbage source, garbage records).
# Any memcheck report (invalid access, uninitialised use, definite or
# indirect leak), a crash, or an unexpected exit status fails the run.
#
#   sh tests/valgrind.sh [BIN_DIR]      (default: bin; run from the repo root)
#
# The last line is "valgrind: N passed, N failed"; exit 1 when any failed.
# Set VALGRIND_KEEP=1 to keep the work directory with every log (its file
# "times" has each run's seconds), and VALGRIND_FLAGS=--track-origins=yes
# to see where an uninitialised value came from (left out by default: it
# doubles the run time).
#
# Lists of files ($PAYERS, $PAYER_PCRB) are split on purpose: the repo's
# names and mktemp's have no blanks.
# shellcheck disable=SC2086
set -u
# BIN_DIR is relative to the caller's directory; the default to the repo's.
if [ $# -gt 0 ]; then
    BIN=$(cd "$1" 2>/dev/null && pwd) || { echo "valgrind.sh: no directory $1" >&2; exit 2; }
fi
cd "$(dirname "$0")/.." || exit 2
BIN=${BIN:-$(pwd)/bin}
PCRC=$BIN/pcrc
PCRVM=$BIN/pcrvm
for t in "$PCRC" "$PCRVM"; do
    [ -x "$t" ] || { echo "valgrind.sh: no executable $t (build first)" >&2; exit 2; }
done

# ---- valgrind itself, installed like scripts/ensure-deps.sh does ----------
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind.sh: installing valgrind"
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "valgrind.sh: valgrind missing; install it (apt-get install valgrind) and re-run" >&2
        exit 2
    fi
    command -v apt-get >/dev/null 2>&1 || { echo "valgrind.sh: no apt-get here; install valgrind" >&2; exit 2; }
    export DEBIAN_FRONTEND=noninteractive
    if ! { $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq valgrind >/dev/null; }; then
        echo "valgrind.sh: apt-get install valgrind failed" >&2
        exit 2
    fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pcr-valgrind.XXXXXX") || exit 2
if [ "${VALGRIND_KEEP:-0}" = 1 ]; then
    echo "valgrind.sh: logs kept in $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi
trap 'exit 130' INT TERM

VG="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
    --num-callers=30 ${VALGRIND_FLAGS:-}"
passed=0
failed=0
n=0

# check NAME STATUSES [<IN] -- CMD...: runs CMD under memcheck, with standard
# input from IN when given (else /dev/null). Passes when memcheck reports
# nothing and CMD's exit status is one of STATUSES ("0", "1|2", ...).
# The program's own output goes to the work directory; on failure the
# memcheck log and the end of stderr are shown.
check() {
    name=$1; want=$2; shift 2
    input=/dev/null
    case $1 in "<"*) input=${1#<}; shift;; esac
    [ "$1" = "--" ] && shift
    n=$((n + 1))
    log=$WORK/$n.vg
    # shellcheck disable=SC2086
    t0=$(date +%s.%N)
    $VG --log-file="$log" "$@" <"$input" >"$WORK/$n.out" 2>"$WORK/$n.err"
    st=$?
    awk -v t0="$t0" -v t1="$(date +%s.%N)" -v name="$name" \
        'BEGIN { printf "%6.2f s  %s\n", t1 - t0, name }' >>"$WORK/times"
    why=""
    if [ "$st" = 99 ] || grep -q 'ERROR SUMMARY: [1-9]' "$log"; then
        why="memcheck errors"
    elif ! grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
        why="no memcheck summary (killed? exit $st)"
    else
        case "|$want|" in *"|$st|"*) ;; *) why="exit $st, expected $want";; esac
    fi
    if [ -z "$why" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name: $why"
        echo "  command: $*"
        # The reports: what lies between valgrind's banner and the summary.
        case $why in memcheck*)
            sed -e '1,/^==[0-9]*== Parent PID/d' -e '/ERROR SUMMARY/,$d' "$log" |
                grep -v '^==[0-9]*== *$' | head -80 | sed 's/^/  /';;
        esac
        tail -5 "$WORK/$n.err" | sed 's/^/  stderr: /'
    fi
}

start=$(date +%s)
PAYERS=$(ls policies/*.pcr)
DEMO=policies/examples/demo.pcr
REQS=policies/examples/requests.jsonl
DEMO_REQS=policies/examples/demo-requests.jsonl

# ---- pcrc on every shipped policy ----------------------------------------
for p in $PAYERS $DEMO; do
    b=$(basename "$p" .pcr)
    check "check $b" 0 -- "$PCRC" --check --Werror "$p"
    check "compile $b" 0 -- "$PCRC" "$p" -o "$WORK/$b.pcrb"
    check "test $b" 0 -- "$PCRC" test -v "$p"
    check "disasm $b.pcrb" 0 -- "$PCRC" --disasm "$WORK/$b.pcrb"
done
# The source-side paths that do not depend on the policy's size: one each
# on the demo, and on the largest payer policy for the AST dump.
check "disasm demo.pcr" 0 -- "$PCRC" --disasm "$DEMO"
check "dump-ast demo" 0 -- "$PCRC" --dump-ast "$DEMO"
check "fmt --check demo" 0 -- "$PCRC" fmt --check "$DEMO"
check "fmt - demo" 0 "<$DEMO" -- "$PCRC" fmt -
check "fmt - malformed" 1 "<tests/golden/malformed/sources/11-truncated-in-string.pcr" -- "$PCRC" fmt -
check "dump-ast healthlink" 0 -- "$PCRC" --dump-ast policies/healthlink.pcr
check "test all" 0 -- "$PCRC" test $PAYERS "$DEMO"
check "check all" 0 -- "$PCRC" --check $PAYERS "$DEMO"
check "lint all" 0 -- "$PCRC" lint --Werror $PAYERS "$DEMO"
check "test --coverage --json all" 0 -- "$PCRC" test --coverage --json --threshold 95 $PAYERS
check "diff demo demo" 0 -- "$PCRC" diff "$DEMO" "$DEMO"
check "diff ibx healthlink" 1 -- "$PCRC" diff policies/ibx.pcr policies/healthlink.pcr
# pcrc list: each payer on the day its reviewed listing is for, a day
# the policy is not in effect, and the demo.
for l in docs/listings/*.txt; do
    f=$(basename "$l" .txt)
    payer=${f%-????-??-??}
    day=${f#"$payer"-}
    check "list $payer $day" 0 -- "$PCRC" list "policies/$payer.pcr" --date "$day"
done
check "list healthlink 1990-01-01" 0 -- "$PCRC" list policies/healthlink.pcr --date=1990-01-01
check "list demo" 0 -- "$PCRC" list "$DEMO" --date 2026-03-02
check "pcrc --help" 0 -- "$PCRC" --help
check "pcrc --version" 0 -- "$PCRC" --version

# ---- pcrvm over the example batches ---------------------------------------
PAYER_PCRB=""
for p in $PAYERS; do PAYER_PCRB="$PAYER_PCRB $WORK/$(basename "$p" .pcr).pcrb"; done
check "pcrvm payers .pcr --stats" 0 -- "$PCRVM" --stats $PAYERS "$REQS"
check "pcrvm payers .pcrb --stats" 0 -- "$PCRVM" --stats $PAYER_PCRB "$REQS"
check "pcrvm payers .pcrb -o" 0 -- "$PCRVM" $PAYER_PCRB "$REQS" -o "$WORK/decisions.jsonl"
# threads: each engine clone shares its policies' index (built once, freed once)
check "pcrvm payers .pcrb -j 3 --stats" 0 -- "$PCRVM" -j 3 --stats $PAYER_PCRB "$REQS"
check "pcrvm demo .pcr --stats" 0 -- "$PCRVM" --stats "$DEMO" "$DEMO_REQS"
check "pcrvm demo .pcrb stdin" 0 "<$DEMO_REQS" -- "$PCRVM" "$WORK/demo.pcrb"
check "pcrvm demo .pcrb -" 0 "<$DEMO_REQS" -- "$PCRVM" --stats "$WORK/demo.pcrb" -
check "pcrvm demo --strict" 1 -- "$PCRVM" --strict "$WORK/demo.pcrb" "$DEMO_REQS"
check "pcrvm demo+payers" 0 -- "$PCRVM" --stats "$WORK/demo.pcrb" $PAYER_PCRB "$DEMO_REQS"
check "pcrvm --help" 0 -- "$PCRVM" --help

# ---- hostile inputs -------------------------------------------------------
H=$WORK/hostile
mkdir -p "$H"
# Bytecode cut short at several points: empty, inside the header, half, one
# byte short.
size=$(wc -c <"$WORK/demo.pcrb")
for len in 0 5 16 40 $((size / 2)) $((size - 1)); do
    head -c "$len" "$WORK/demo.pcrb" >"$H/cut-$len.pcrb"
    check "pcrvm truncated .pcrb ($len of $size bytes)" "1|2" -- "$PCRVM" "$H/cut-$len.pcrb" "$DEMO_REQS"
    check "disasm truncated .pcrb ($len of $size bytes)" "1|2" -- "$PCRC" --disasm "$H/cut-$len.pcrb"
done
# Bytecode with one byte changed at fixed offsets through the file: the
# verifier may accept a change in a string, so any non-crashing exit passes.
for off in 8 24 64 $((size / 3)) $((size / 2)) $((size * 3 / 4)) $((size - 8)); do
    cp "$WORK/demo.pcrb" "$H/flip-$off.pcrb"
    printf '\377' | dd of="$H/flip-$off.pcrb" bs=1 seek="$off" conv=notrunc 2>/dev/null
    check "pcrvm corrupted .pcrb (byte $off)" "0|1|2" -- "$PCRVM" "$H/flip-$off.pcrb" "$DEMO_REQS"
    check "disasm corrupted .pcrb (byte $off)" "0|1|2" -- "$PCRC" --disasm "$H/flip-$off.pcrb"
done

# Garbage source: pseudo-random bytes (fixed seed, so every run is the
# same), bytecode read as source, a policy cut in the middle of a rule, and
# unbalanced braces and strings.
LC_ALL=C awk 'BEGIN { srand(7); for (i = 0; i < 6000; i++) printf "%c", int(rand() * 256) }' \
    >"$H/random.pcr" 2>/dev/null
cp "$WORK/demo.pcrb" "$H/bytecode.pcr"
lines=$(wc -l <"$DEMO")
head -n $((lines / 2)) "$DEMO" >"$H/cut.pcr"
head -c 2500 policies/healthlink.pcr >"$H/cut-mid-token.pcr"
printf 'use std.request\npolicy p {\n  payer "x\n  title {{{{ ((( "\nrule r "t" { when code in { CPT 1..\n' >"$H/unbalanced.pcr"
printf 'use no.such.module\nuse std.request\nrule r "t" { when nosuch > 3 and code in undefined require prior_auth }\n' \
    >"$H/undefined.pcr"
for g in random bytecode cut cut-mid-token unbalanced undefined; do
    check "check garbage $g.pcr" "1|2" -- "$PCRC" --check "$H/$g.pcr"
    check "compile garbage $g.pcr" "1|2" -- "$PCRC" "$H/$g.pcr" -o "$H/$g.pcrb"
    check "test garbage $g.pcr" "1|2" -- "$PCRC" test "$H/$g.pcr"
done
check "dump-ast garbage cut.pcr" "1|2" -- "$PCRC" --dump-ast "$H/cut.pcr"
check "list garbage cut.pcr" "1|2" -- "$PCRC" list "$H/cut.pcr" --date 2026-03-02
check "pcrvm garbage random.pcr" "1|2" -- "$PCRVM" "$H/random.pcr" "$DEMO_REQS"
check "pcrc missing file" "1|2" -- "$PCRC" --check "$H/no-such.pcr"
check "pcrc bad option" 2 -- "$PCRC" --no-such-option "$DEMO"
check "pcrc list .pcrb" 2 -- "$PCRC" list "$WORK/demo.pcrb" --date 2026-03-02
check "pcrc list bad date" 2 -- "$PCRC" list "$DEMO" --date 2026-02-30
check "pcrvm missing input" "1|2" -- "$PCRVM" "$WORK/demo.pcrb" "$H/no-such.jsonl"
check "pcrvm bad option" 2 -- "$PCRVM" --no-such-option "$WORK/demo.pcrb"

# Garbage records: broken JSON, wrong types, bad dates and codes, NUL and
# invalid UTF-8, deep nesting, huge numbers, duplicate keys, a line over
# the 1 MiB limit, and no final newline. Every line must get a decision.
{
    printf '\n'
    printf '{\n'
    printf '}\n'
    printf 'not json at all\n'
    printf '[1,2,3]\n'
    printf '"just a string"\n'
    printf '{"id":"a","payer":"demo","code":70551,"setting":"outpatient","service_date":"2026-03-02"}\n'
    printf '{"id":"b","payer":"demo","code":"70551","setting":"moon","service_date":"2026-13-45"}\n'
    printf '{"id":"c","payer":"demo","code":"70551","setting":"outpatient","service_date":"2026-03-02","requested_at":"yesterday"}\n'
    printf '{"id":"d","payer":"demo","code":"","setting":"outpatient","service_date":"2026-03-02"}\n'
    printf '{"id":"e","payer":"demo","code":"70551","code":"70552","setting":"outpatient","service_date":"2026-03-02"}\n'
    printf '{"id":"f","payer":"demo","code":"7055\000\001","setting":"outpatient","service_date":"2026-03-02"}\n'
    printf '{"id":"g\377\376\300","payer":"demo\355\240\200","code":"\\ud800","service_date":"2026-03-02"}\n'
    printf '{"id":"h","payer":"demo","code":"70551","service_date":"2026-03-02","units":1e999999,"price":-0.0000000000000000000001}\n'
    printf '{"id":"i","payer":"demo","code":"70551","service_date":"2026-03-02","diagnoses":[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]}\n'
    printf '{"id":"j","payer":"demo","code":"70551","service_date":"2026-03-02","emergent":"yes","diagnoses":"C50.1"}\n'
    printf '{"id":"k","payer":"demo","code":"70551","service_date":"2026-03-02","unknown":{"a":[1,{"b":null}]}}\n'
    printf '{"id":"l","payer":"demo","code":"70551","setting":"outpatient","service_date":"2026-03-02"'
    printf '\n{"id":"m","payer":"demo","code":"70551","setting":"outpatient","service_date":"2026-03-02"} trailing\n'
    printf '{"id":"n\\u0000x","payer":"demo","code":"\\"\\\\\\/\\b\\f\\n\\r\\t","service_date":"2026-03-02"}\n'
    printf '{"id":"o","payer":null,"code":null,"setting":null,"service_date":null}\n'
    printf '{"id":'
    printf '"'; head -c 1100000 /dev/zero | tr '\000' x; printf '"}\n'
    printf '{"id":"deep","payer":"demo","x":'; head -c 5000 /dev/zero | tr '\000' '['; printf '\n'
    printf '{"id":"deep2","payer":"demo","x":'; head -c 3000 /dev/zero | sed 's/\x0/{"a":/g'; printf '\n'
    LC_ALL=C awk 'BEGIN { srand(11); for (i = 0; i < 3000; i++) printf "%c", int(rand() * 256) }'
    printf '\n{"id":"z","payer":"demo","code":"70551","setting":"outpatient","service_date":"2026-03-02"}'
} >"$H/garbage.jsonl"
check "pcrvm garbage records .pcrb" 0 -- "$PCRVM" --stats "$WORK/demo.pcrb" "$H/garbage.jsonl"
check "pcrvm garbage records .pcr" 0 "<$H/garbage.jsonl" -- "$PCRVM" "$DEMO" $PAYERS
check "pcrvm garbage records --strict" 1 -- "$PCRVM" --strict "$WORK/demo.pcrb" "$H/garbage.jsonl"
# Input files are whatever does not end in .pcr or .pcrb.
cp "$H/random.pcr" "$H/random.bin"
cp "$WORK/demo.pcrb" "$H/bytecode.bin"
check "pcrvm random bytes as records" 0 -- "$PCRVM" "$WORK/demo.pcrb" "$H/random.bin"
check "pcrvm bytecode as records" 0 -- "$PCRVM" "$WORK/demo.pcrb" "$H/bytecode.bin"

# ---- CSV in and out (docs/cli.md, "CSV") -----------------------------------
for f in tests/fuzz/corpus/csv/*.csv tests/fuzz/regressions/csv/*; do
    [ -f "$f" ] || continue
    check "pcrvm --input csv $(basename "$f")" "0|2" -- "$PCRVM" --stats --input csv --output csv \
        $PAYER_PCRB "$WORK/demo.pcrb" "$f"
done
check "pcrvm --output csv" 0 -- "$PCRVM" --output csv $PAYER_PCRB "$REQS"
check "pcrvm --input csv random bytes" "0|2" -- "$PCRVM" --input csv "$WORK/demo.pcrb" "$H/random.bin"
check "pcrvm --input csv --strict" "0|1|2" -- "$PCRVM" --strict --input csv "$WORK/demo.pcrb" \
    tests/fuzz/corpus/csv/unknown.csv

echo "valgrind: $n runs in $(($(date +%s) - start)) s"
echo "valgrind: $passed passed, $failed failed"
[ "$failed" = 0 ]
