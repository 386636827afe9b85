#!/bin/sh
# hand_merge.sh BASE.pcr EXT.pcr: prints the copy of BASE an analyst would
# write by hand to get what EXT (`policy X extends BASE`) means, for
# tests/unit/test_extends.c, which checks the two decide alike:
#   - the header's policy line, `title` and `version` are EXT's;
#   - each rule EXT removes is cut out (and dropped from `exempt` lists),
#     each rule EXT replaces is swapped in at its place;
#   - EXT's code sets and own rules are appended;
#   - tests are left out (they name rules; decisions do not depend on them).
# Works on the layout `pcrc fmt` gives: declarations start in column 1 and
# a block ends at a line holding only `}`.
set -eu
base=$1 ext=$2
policy_line=$(grep '^policy ' "$ext" | sed 's/ extends [A-Za-z0-9_.]*//')
title=$(grep '^  title ' "$ext")
version=$(grep '^  version ' "$ext")
removed=$(sed -n 's/^remove rule \([A-Za-z0-9_]*\) .*/\1/p' "$ext")
tmp=${TMPDIR:-/tmp}/hand_merge.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# The replacement blocks, one file per rule id.
awk -v dir="$tmp" '
    /^replace rule / { id = $3; out = dir "/" id; sub(/^replace rule/, "rule"); }
    out != "" { print > out }
    out != "" && /^}$/ { close(out); out = "" }
' "$ext"
awk -v dir="$tmp" -v removed=" $(echo $removed) " \
    -v pline="$policy_line" -v title="$title" -v version="$version" '
    BEGIN { inhead = 0 }
    /^policy / { print pline; inhead = 1; next }
    inhead && /^  title / { print title; next }
    inhead && /^  version / { print version; next }
    inhead && /^}$/ { inhead = 0 }
    skip && /^}$/ { skip = 0; next }
    skip { next }
    /^test "/ { skip = 1; next }
    /^rule / {
        id = $2
        if (index(removed, " " id " ")) { skip = 1; next }
        f = dir "/" id
        if ((getline line < f) > 0) {
            print line
            while ((getline line < f) > 0) print line
            close(f)
            skip = 1
            next
        }
    }
    { print }
' "$base" > "$tmp/merged"
# Removed rules are no longer waived.
for id in $removed; do
    sed -e "s/\([ ,]\)$id, /\1/g" -e "s/, $id\$//" "$tmp/merged" > "$tmp/m2"
    mv "$tmp/m2" "$tmp/merged"
done
cat "$tmp/merged"
echo
grep '^codeset ' "$ext" || true
echo
awk '/^rule / { on = 1 } on { print } on && /^}$/ { on = 0; print "" }' "$ext"
