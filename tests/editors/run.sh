#!/bin/sh
# make test-editors: the editor support against the real sources.
#   1. tests/editors/keywords.sh (also in make test);
#   2. the Vim syntax file, loaded by vim on the demo policy, gives the
#      expected highlight groups (tests/editors/vim.vim);
#   3. the tree-sitter grammar accepts every .pcr under policies/ and tests/
#      that pcrc parses without errors (pcrc --dump-ast exits 0), checked by
#      editors/tree-sitter-pcr/test/check.js (node). vim and nodejs are
#      installed with apt-get when missing. See docs/editors.md for why not
#      the tree-sitter CLI.
# Environment: PCR_BIN (default bin), the directory holding pcrc.
set -eu
cd "$(dirname "$0")/../.."
BIN=${PCR_BIN:-bin}
fail() { echo "editors: FAIL: $*" >&2; exit 1; }

sh tests/editors/keywords.sh

. scripts/apt.sh
missing=""
command -v vim >/dev/null 2>&1 || missing="vim"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
[ -z "$missing" ] || apt_install test-editors $missing

out=$(vim -Nu NONE -i NONE -es --cmd "let g:pcr_vim='$PWD/editors/vim'" \
    -S tests/editors/vim.vim policies/examples/demo.pcr 2>&1) || fail "vim: $out"
echo "$out" | grep -q '^vim syntax: ok' || fail "vim: $out"
echo "editors: $out"

files=""
skipped=0
for f in $(find policies tests -name '*.pcr' -type f | LC_ALL=C sort); do
    if "$BIN/pcrc" --dump-ast "$f" >/dev/null 2>&1; then files="$files $f"; else skipped=$((skipped + 1)); fi
done
[ -n "$files" ] || fail "no .pcr file parses"
echo "editors: tree-sitter grammar over $(echo $files | wc -w) files ($skipped that pcrc rejects are left out)"
# shellcheck disable=SC2086
node editors/tree-sitter-pcr/test/check.js $files
