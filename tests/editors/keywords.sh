#!/bin/sh
# The editor files know every keyword of the language (part of make test):
# the generated keyword blocks of the tree-sitter grammar and the Vim syntax
# file are in step with grammar/lexer.l (editors/sync-keywords.sh --check),
# and, checked independently of that script, every keyword and system name
# of the lexer is a `syn keyword` of editors/vim/syntax/pcr.vim and a quoted
# word of editors/tree-sitter-pcr/grammar.js.
set -eu
cd "$(dirname "$0")/../.."
fail() { echo "editor keywords: FAIL: $*" >&2; exit 1; }
sh editors/sync-keywords.sh --check || fail "run sh editors/sync-keywords.sh"
words=$(sed -n 's/^"\([a-z_][a-z_0-9]*\)"[[:space:]]*KEYWORD(.*/\1/p' grammar/lexer.l)
systems=$(sed -n 's/^SYSNAME[[:space:]]*//p' grammar/lexer.l | tr '|' '\n' | tr -d '"')
n=0
for k in $words $systems; do
    grep -q "^syn keyword pcr[A-Za-z]*\( [A-Za-z_0-9]*\)* $k\( \|$\)" editors/vim/syntax/pcr.vim ||
        fail "editors/vim/syntax/pcr.vim has no syn keyword for \`$k\`"
    grep -q "'$k'" editors/tree-sitter-pcr/grammar.js ||
        fail "editors/tree-sitter-pcr/grammar.js does not know \`$k\`"
    n=$((n + 1))
done
[ $n -gt 40 ] || fail "only $n keywords found in grammar/lexer.l"
echo "editor keywords: ok: all $n keywords and system names of grammar/lexer.l in grammar.js and pcr.vim"
