#!/bin/sh
# bench/compare.sh BASE BIN_DIR: `make bench-compare BASE=REV`, the
# side-by-side comparison behind docs/benchmarks.md's "before / after"
# tables: the pcrvm of BIN_DIR (this tree's build) against the pcrvm of
# git revision BASE, alternated on the same batches, in CPU time.
#
# The base is built from `git archive BASE` in build/compare/base-SHA
# (`make all`, its log beside it; kept, so a second comparison with the
# same BASE reuses it), or is COMPARE_BASE_BIN, a directory holding
# another build's pcrc and pcrvm (BASE is then only its label). The
# batches (below) have COMPARE_N records each (300000); each build
# compiles this tree's policies with its own pcrc, since their bytecode
# may differ. Both builds must decide each batch byte for byte alike
# (COMPARE_DIFF_OK=1 compares builds that do not). Then, COMPARE_ROUNDS
# times (15), each batch runs `pcrvm -j 1` of both builds, the one that
# goes first alternating, pinned to one CPU with taskset when there is
# one (COMPARE_CPU, default the last), and the least and median CPU time
# (user + system, from getrusage: `gen time`) of each are printed, with
# new / base. On a noisy machine the least times compare best; numbers
# from different runs do not compare.
#
# COMPARE_BATCHES (default: all five; peers only when ../shared/peers
# and python3 are there, as make bench-peers needs them):
#   payers       the four shipped payer policies on records routed to them
#   typical      gen's typical ~40-rule policy (small.pcrb of make bench)
#   large        10,000 rules over 100,000 codes (big.pcrb)
#   scale-peers  10,000 rules that cannot match, over the peer benchmark's
#                list-of-codes schema (scale-peers-10000.pcrb)
#   peers        the peer benchmark's 42-rule policy (bench/peers/policy.pcr)
#                on its own records (../shared/peers/gen_requests.py), whose
#                few hundred codes recur
# COMPARE_DIR: scratch (build/compare), and COMPARE_PEERS, the peer
# benchmark's directory (../shared/peers): relative ones are taken from
# the project's root.
set -u

usage() {
    echo "usage: sh bench/compare.sh BASE BIN_DIR   (BASE: a git revision, or a label with COMPARE_BASE_BIN)" >&2
    exit 2
}
fail() {
    echo "compare: $*" >&2
    exit 1
}
[ $# -eq 2 ] || usage
BASE=$1
# abs DIR: DIR from the directory the script was started in, absolute.
abs() { (cd "$1" 2> /dev/null && pwd) || echo "$1"; }
BIN=$(abs "$2")
START=$(pwd)
cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh

N=${COMPARE_N:-300000}
ROUNDS=${COMPARE_ROUNDS:-15}
DIR=${COMPARE_DIR:-build/compare}
PEERS=${COMPARE_PEERS:-../shared/peers}
PEERS_OK=
[ -f "$PEERS/gen_requests.py" ] && command -v python3 > /dev/null 2>&1 && PEERS_OK=1
if [ -n "${COMPARE_BATCHES:-}" ]; then
    BATCHES=$COMPARE_BATCHES
elif [ -n "$PEERS_OK" ]; then
    BATCHES="payers typical large scale-peers peers"
else
    echo "compare: no peers batch ($PEERS/gen_requests.py or python3 missing)" >&2
    BATCHES="payers typical large scale-peers"
fi
for v in "$N" "$ROUNDS"; do
    case $v in
    '' | *[!0-9]*) fail "COMPARE_N and COMPARE_ROUNDS must be whole numbers" ;;
    esac
done
if [ "$N" -lt 1 ] || [ "$ROUNDS" -lt 1 ]; then fail "COMPARE_N and COMPARE_ROUNDS must be at least 1"; fi
for b in $BATCHES; do
    case $b in
    payers | typical | large | scale-peers) ;;
    peers) [ -n "$PEERS_OK" ] || fail "the peers batch needs $PEERS/gen_requests.py and python3" ;;
    *) fail "unknown batch '$b' in COMPARE_BATCHES (payers, typical, large, scale-peers, peers)" ;;
    esac
done
need_tools "$BIN"
mkdir -p "$DIR" || fail "cannot create $DIR"

# ---- the base build ----------------------------------------------------------

if [ -n "${COMPARE_BASE_BIN:-}" ]; then
    BASE_BIN=$(cd "$START" && abs "$COMPARE_BASE_BIN")
    need_tools "$BASE_BIN"
    BASE_WHAT="$BASE: $BASE_BIN"
else
    SHA=$(git rev-parse --verify --quiet "$BASE^{commit}" 2> /dev/null) || {
        echo "compare: '$BASE' is not a revision of this repository" >&2
        exit 2
    }
    SRC=$DIR/base-$(printf '%.12s' "$SHA")
    if [ ! -x "$SRC/bin/pcrc" ] || [ ! -x "$SRC/bin/pcrvm" ]; then
        echo "building $BASE ($SHA) in $SRC (log: $SRC.log)" >&2
        rm -rf "$SRC"
        mkdir -p "$SRC" || fail "cannot create $SRC"
        git archive "$SHA" | tar -x -C "$SRC" || fail "cannot unpack $BASE into $SRC"
        jobs=$(getconf _NPROCESSORS_ONLN 2> /dev/null || echo 2)
        make -C "$SRC" -j "$jobs" all > "$SRC.log" 2>&1 || {
            rm -f "$SRC/bin/pcrvm"
            fail "building $BASE failed (see $SRC.log)"
        }
    fi
    BASE_BIN=$(abs "$SRC/bin")
    BASE_WHAT="$BASE ($(printf '%.12s' "$SHA")): $BASE_BIN"
fi

# ---- the batches ---------------------------------------------------------------

build_gen "$DIR"
GEN=$DIR/gen
gen_file "$DIR/requests-payers.jsonl" requests "$N" --payers alliant,cigna,healthlink,ibx
gen_file "$DIR/requests.jsonl" requests "$N"
gen_file "$DIR/requests-peers.jsonl" requests-peers "$N"
gen_file "$DIR/small.pcr" policy-small
gen_file "$DIR/big.pcr" policy 10000 100000
gen_file "$DIR/scale-peers.pcr" policy 10000 100000 --unmatched --peers
case " $BATCHES " in
*" peers "*)
    # as bench/peers.sh makes its batch, remade when N or the generator changes
    want="gen_requests.py $N | $(cksum < "$PEERS/gen_requests.py") $(cksum < "$PEERS/codesets.json")"
    if [ "$(cat "$DIR/peers.jsonl.params" 2> /dev/null)" != "$want" ]; then
        echo "generating $DIR/peers.jsonl ($PEERS/gen_requests.py $N)" >&2
        rm -f "$DIR/peers.jsonl.params"
        python3 "$PEERS/gen_requests.py" "$N" -o "$DIR/peers.jsonl.tmp" > /dev/null ||
            fail "gen_requests.py failed"
        mv "$DIR/peers.jsonl.tmp" "$DIR/peers.jsonl" || fail "cannot write $DIR/peers.jsonl"
        echo "$want" > "$DIR/peers.jsonl.params"
    fi
    ;;
esac

# sources BATCH: the batch's policy sources; input BATCH: its records.
sources() {
    case $1 in
    payers) echo policies/alliant.pcr policies/cigna.pcr policies/healthlink.pcr policies/ibx.pcr ;;
    typical) echo "$DIR/small.pcr" ;;
    large) echo "$DIR/big.pcr" ;;
    scale-peers) echo "$DIR/scale-peers.pcr" ;;
    peers) echo bench/peers/policy.pcr ;;
    esac
}
input() {
    case $1 in
    payers) echo "$DIR/requests-payers.jsonl" ;;
    typical | large) echo "$DIR/requests.jsonl" ;;
    scale-peers) echo "$DIR/requests-peers.jsonl" ;;
    peers) echo "$DIR/peers.jsonl" ;;
    esac
}

# Each build compiles every source into DIR/SIDE/; the variable
# $(pols_var SIDE BATCH) lists them.
pols_var() { echo "POL_$1_$2" | tr - _; }
# side_bin SIDE: bin, the tools' directory of build SIDE (base or new).
side_bin() { if [ "$1" = base ]; then bin=$BASE_BIN; else bin=$BIN; fi; }
# take SIDE BATCH: bin, and pols, the batch's policies as that build compiled them.
take() {
    side_bin "$1"
    eval "pols=\$$(pols_var "$1" "$2")"
}
for side in base new; do
    side_bin "$side"
    mkdir -p "$DIR/$side" || fail "cannot create $DIR/$side"
    for b in $BATCHES; do
        list=
        for s in $(sources "$b"); do
            out=$DIR/$side/$(basename "$s" .pcr).pcrb
            "$bin/pcrc" -I policies -I bench/peers "$s" -o "$out" > /dev/null 2> "$DIR/pcrc.err" ||
                fail "the $side build's pcrc cannot compile $s: $(head -n 1 "$DIR/pcrc.err")"
            list="$list $out"
        done
        eval "$(pols_var "$side" "$b")=\$list"
    done
done

# ---- same decisions --------------------------------------------------------------

pols= # set by take

for b in $BATCHES; do
    for side in base new; do
        take "$side" "$b"
        # shellcheck disable=SC2086 # pols: paths without spaces
        "$bin/pcrvm" -j 1 $pols "$(input "$b")" > "$DIR/$b.$side.out" 2> "$DIR/$b.$side.err"
        rc=$?
        [ "$rc" -eq 0 ] || fail "the $side build's pcrvm failed on the $b batch (exit $rc): $(head -n 1 "$DIR/$b.$side.err")"
    done
    if ! cmp -s "$DIR/$b.base.out" "$DIR/$b.new.out"; then
        line=$(cmp "$DIR/$b.base.out" "$DIR/$b.new.out" 2> /dev/null | sed -n 's/.* line \([0-9]*\).*/\1/p')
        msg="the two builds decide the $b batch differently (first at line ${line:-?} of $DIR/$b.base.out and $DIR/$b.new.out)"
        [ "${COMPARE_DIFF_OK:-}" = 1 ] || fail "$msg; COMPARE_DIFF_OK=1 compares them anyway"
        echo "compare: $msg" >&2
    fi
    rm -f "$DIR/$b.base.out" "$DIR/$b.new.out"
done

# ---- the rounds --------------------------------------------------------------------

PIN=
if command -v taskset > /dev/null 2>&1; then
    cpu=${COMPARE_CPU:-$(($(getconf _NPROCESSORS_ONLN 2> /dev/null || echo 1) - 1))}
    taskset -c "$cpu" true 2> /dev/null && PIN="taskset -c $cpu"
fi
for b in $BATCHES; do
    for side in base new; do : > "$DIR/$b.$side.cpu" || fail "cannot write $DIR"; done
done
r=0
while [ "$r" -lt "$ROUNDS" ]; do
    if [ $((r % 2)) -eq 0 ]; then order="base new"; else order="new base"; fi
    for b in $BATCHES; do
        for side in $order; do
            take "$side" "$b"
            # shellcheck disable=SC2086 # PIN and pols: words without spaces
            $PIN "$GEN" time "$DIR/time" "$bin/pcrvm" -j 1 $pols "$(input "$b")" > /dev/null 2> "$DIR/run.err" ||
                fail "the $side build's pcrvm failed on the $b batch: $(head -n 1 "$DIR/run.err")"
            awk '{ print $2 }' "$DIR/time" >> "$DIR/$b.$side.cpu"
        done
    done
    r=$((r + 1))
done

# ---- the report ----------------------------------------------------------------------

# least_median FILE: "LEAST MEDIAN" of the seconds in FILE, in ms.
least_median() {
    sort -n "$1" | awk '{ t[NR] = $1 * 1000 } END { printf "%.1f %.1f", t[1], t[int((NR + 1) / 2)] }'
}
echo "pcrvm -j 1 side by side: $ROUNDS rounds of $N records a batch, CPU time (user + system) in ms"
echo "  base  $BASE_WHAT"
echo "  new   $BIN"
echo "  ${PIN:-not pinned (no taskset)}"
printf "%-11s %11s %8s %11s %8s %16s %8s\n" batch "base least" median "new least" median "new/base least" median
for b in $BATCHES; do
    # shellcheck disable=SC2046 # two numbers each
    set -- $(least_median "$DIR/$b.base.cpu") $(least_median "$DIR/$b.new.cpu")
    awk -v b="$b" -v bl="$1" -v bm="$2" -v nl="$3" -v nm="$4" 'BEGIN {
        printf "%-11s %11.1f %8.1f %11.1f %8.1f %16.3f %8.3f\n", b, bl, bm, nl, nm,
            (bl > 0 ? nl / bl : 0), (bm > 0 ? nm / bm : 0) }'
done
