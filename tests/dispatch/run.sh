#!/bin/sh
# tests/dispatch/run.sh BIN_DIR SWITCH_PCRVM: the two dispatch builds of
# the VM and of the record reader's fast path (src/vm.c, src/rec.c:
# computed goto by default where the compiler has labels as values, the
# switch with -DPCR_DISPATCH_SWITCH) decide alike. Both pcrvm
# binaries run on the same inputs and must write byte-identical decisions
# and explanations (--explain):
#   - the four payers' policies over policies/examples/requests.jsonl (the
#     reviewed batch, malformed records included) and over 20,000 records of
#     the benchmark generator (`gen requests 20000 --payers ...`), as JSON
#     and as CSV decisions, with --explain on the examples;
#   - bench/peers/policy.pcr over 20,000 records of the peer benchmark's
#     generator (../shared/peers/gen_requests.py), when ../shared/peers and
#     python3 are there (else that part is skipped, with a message).
# First it checks that the binaries are what they claim: the default one
# dispatches by computed goto when $CC defines __GNUC__, the other by switch.
set -eu
BIN=${1:?usage: tests/dispatch/run.sh BIN_DIR SWITCH_PCRVM}
SW=${2:?usage: tests/dispatch/run.sh BIN_DIR SWITCH_PCRVM}
cd "$(dirname "$0")/../.."
W=$(mktemp -d "${TMPDIR:-/tmp}/pcr-dispatch.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
N=${DISPATCH_N:-20000}

fail() {
    echo "test-dispatch: $*" >&2
    exit 1
}

# The dispatch each binary was built with, by the VM and by the reader:
# the "dispatch vm KIND reader KIND" line of --stats (on no records).
kind() {
    "$1" -j 1 --stats -I policies policies/examples/demo.pcr /dev/null 2>&1 > /dev/null |
        grep '^dispatch '
}
if echo | ${CC:-cc} -dM -E - 2> /dev/null | grep -q '__GNUC__'; then
    want="computed-goto"
else
    want="switch"
fi
got=$(kind "$BIN/pcrvm")
[ "$got" = "dispatch vm $want reader $want" ] || fail "$BIN/pcrvm --stats: '$got', expected 'dispatch vm $want reader $want'"
got=$(kind "$SW")
[ "$got" = "dispatch vm switch reader switch" ] || fail "$SW --stats: '$got', expected 'dispatch vm switch reader switch'"
echo "test-dispatch: $BIN/pcrvm: $want (VM and reader); $SW: switch"

# same NAME ARGS...: both binaries, the same arguments; outputs and exit
# statuses must be identical.
same() {
    name=$1
    shift
    st1=0
    st2=0
    "$BIN/pcrvm" -j 1 "$@" > "$W/$name.1.out" 2> "$W/$name.1.err" || st1=$?
    "$SW" -j 1 "$@" > "$W/$name.2.out" 2> "$W/$name.2.err" || st2=$?
    [ "$st1" = "$st2" ] || fail "$name: exit $st1 (goto) vs $st2 (switch)"
    cmp -s "$W/$name.1.out" "$W/$name.2.out" || fail "$name: the decisions differ: $(cmp "$W/$name.1.out" "$W/$name.2.out")"
    lines=$(wc -l < "$W/$name.1.out")
    [ "$lines" -gt 0 ] || fail "$name: no decisions"
    echo "test-dispatch: $name: $lines decisions, byte-identical"
}

PAYERS=
for p in healthlink cigna alliant ibx; do
    "$BIN/pcrc" "policies/$p.pcr" -o "$W/$p.pcrb"
    PAYERS="$PAYERS $W/$p.pcrb"
done
mkdir -p build/pgt
cc -O2 -o build/pgt/gen-dispatch bench/gen.c
build/pgt/gen-dispatch requests "$N" --payers healthlink,cigna,alliant,ibx > "$W/batch.jsonl"

# shellcheck disable=SC2086
{
    same examples $PAYERS policies/examples/requests.jsonl
    "$BIN/pcrvm" -j 1 --explain="$W/explain.1" $PAYERS policies/examples/requests.jsonl > /dev/null
    "$SW" -j 1 --explain="$W/explain.2" $PAYERS policies/examples/requests.jsonl > /dev/null
    [ -s "$W/explain.1" ] || fail "examples: no explanation written"
    cmp -s "$W/explain.1" "$W/explain.2" || fail "examples: the explanations differ"
    echo "test-dispatch: examples: $(wc -l < "$W/explain.1") lines of explanations, byte-identical"
    same payers-batch $PAYERS "$W/batch.jsonl"
    same payers-batch-csv --output csv $PAYERS "$W/batch.jsonl"
    same demo -I policies policies/examples/demo.pcr policies/examples/demo-requests.jsonl
}

PEERS=../shared/peers
if [ -f "$PEERS/gen_requests.py" ] && command -v python3 > /dev/null 2>&1; then
    python3 "$PEERS/gen_requests.py" "$N" -o "$W/peers.jsonl"
    "$BIN/pcrc" -I policies bench/peers/policy.pcr -o "$W/peers.pcrb"
    same peers "$W/peers.pcrb" "$W/peers.jsonl"
else
    echo "test-dispatch: peers: skipped ($PEERS or python3 is absent)"
fi
