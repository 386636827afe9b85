#!/bin/sh
# Keeps the editor files' keyword lists in step with the lexer.
#
#   sh editors/sync-keywords.sh           rewrite the generated blocks
#   sh editors/sync-keywords.sh --check   exit 1 (with a diff) when a block
#                                         is out of date (make test runs it)
#
# The keywords are the `"word"  KEYWORD(...)` rules of grammar/lexer.l and
# the code system names of its SYSNAME definition. Each editor file holds a
# block between `BEGIN KEYWORDS` and `END KEYWORDS` marker lines that this
# script writes:
#   editors/tree-sitter-pcr/grammar.js   const KEYWORDS, SYSTEMS
#   editors/vim/syntax/pcr.vim           syn keyword lines, one group per
#                                        kind of keyword (a keyword of no
#                                        known kind goes to pcrKeyword)
# Run from the repository root or anywhere (it finds the root itself).
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
LEXER=grammar/lexer.l
GRAMMAR=editors/tree-sitter-pcr/grammar.js
VIM=editors/vim/syntax/pcr.vim
check=0
[ "${1:-}" = "--check" ] && check=1

keywords() { sed -n 's/^"\([a-z_][a-z_0-9]*\)"[[:space:]]*KEYWORD(.*/\1/p' "$LEXER"; }
systems() {
    sed -n 's/^SYSNAME[[:space:]]*//p' "$LEXER" | tr '|' '\n' | sed -n 's/^"\([A-Z0-9]*\)"$/\1/p'
}
[ -n "$(keywords)" ] || { echo "sync-keywords: no KEYWORD rules in $LEXER" >&2; exit 2; }
[ -n "$(systems)" ] || { echo "sync-keywords: no SYSNAME in $LEXER" >&2; exit 2; }

# The kind of a keyword, for highlighting (vim groups).
kind() {
    case $1 in
    use | policy | schema | codeset | calendar | rule | test | remove | replace) echo pcrDeclaration ;;
    and | or | not | in | any | present) echo pcrOperator ;;
    true | false | none | unknown) echo pcrConstant ;;
    required | list | enum | code | system) echo pcrType ;;
    prior_auth | notification | not_covered | advisory | info_needed | no_policy | error)
        echo pcrOutcome ;;
    *) echo pcrKeyword ;;
    esac
}

js_block() {
    echo "// BEGIN KEYWORDS: written by editors/sync-keywords.sh from grammar/lexer.l; do not edit"
    printf 'const KEYWORDS = [\n'
    keywords | awk '{ printf "%s\x27%s\x27,", (NR % 8 == 1 ? (NR > 1 ? "\n  " : "  ") : " "), $0 } END { print "" }'
    printf '];\nconst SYSTEMS = [%s];\n' "$(systems | sed "s/.*/'&'/" | paste -sd, - | sed 's/,/, /g')"
    echo "// END KEYWORDS"
}

vim_block() {
    echo "\" BEGIN KEYWORDS: written by editors/sync-keywords.sh from grammar/lexer.l; do not edit"
    keywords | while read -r k; do echo "$(kind "$k") $k"; done | sort -s -k1,1 |
        awk '$1 != g { if (g) print line; g = $1; line = "syn keyword " g } { line = line " " $2 }
             END { print line }'
    echo "syn keyword pcrSystem $(systems | paste -sd' ' -)"
    echo "\" END KEYWORDS"
}

# replace FILE BLOCK-FUNCTION: the file with its marked block rewritten.
replace() {
    block=$($2)
    awk -v block="$block" '
        /BEGIN KEYWORDS/ { print block; skip = 1; found = 1; next }
        /END KEYWORDS/ { skip = 0; next }
        !skip { print }
        END { if (!found) exit 3 }' "$1"
}

status=0
for pair in "$GRAMMAR:js_block" "$VIM:vim_block"; do
    file=${pair%%:*}
    fn=${pair#*:}
    new=$(replace "$file" "$fn") || { echo "sync-keywords: no BEGIN/END KEYWORDS block in $file" >&2; exit 2; }
    if [ "$(cat "$file")" = "$new" ]; then continue; fi
    if [ $check = 1 ]; then
        echo "sync-keywords: $file is out of step with $LEXER (run sh editors/sync-keywords.sh):" >&2
        printf '%s\n' "$new" | diff -u "$file" - >&2 || true
        status=1
    else
        printf '%s\n' "$new" >"$file"
        echo "sync-keywords: updated $file"
    fi
done
exit $status
