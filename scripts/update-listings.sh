#!/bin/sh
# update-listings.sh: regenerates the analyst listings in docs/listings/.
#
# Each file there is named PAYER-YYYY-MM-DD.txt and holds the output of
#   pcrc list policies/PAYER.pcr --date YYYY-MM-DD
# tests/unit/test_list.c fails when a file and its policy drift apart; run
# this after changing a policy (then read the diff: it is what changed for
# the analyst). To add a listing, create an empty PAYER-DATE.txt and run it.
#
# usage: scripts/update-listings.sh [BIN_DIR]   (default: $PCR_BIN, else bin)
set -eu

bin=${1:-${PCR_BIN:-bin}}
case $bin in
/*) ;;
*) bin=$(pwd)/$bin ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

status=0
for f in docs/listings/*.txt; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .txt)
    date=$(printf '%s\n' "$name" | sed -n 's/^.*-\([0-9]\{4\}-[0-9]\{2\}-[0-9]\{2\}\)$/\1/p')
    payer=${name%-"$date"}
    if [ -z "$date" ] || [ "$payer" = "$name" ]; then
        echo "update-listings: $f: expected a name PAYER-YYYY-MM-DD.txt" >&2
        status=1
        continue
    fi
    if "$bin/pcrc" list "policies/$payer.pcr" --date "$date" >"$f.tmp"; then
        mv "$f.tmp" "$f"
        echo "updated $f"
    else
        rm -f "$f.tmp"
        echo "update-listings: pcrc list policies/$payer.pcr --date $date failed" >&2
        status=1
    fi
done
exit $status
