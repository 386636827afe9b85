#!/bin/sh
# Static analysis of the hand-written C (src/ and tools/) with cppcheck:
# warnings, performance and portability, every #ifdef configuration
# (NDEBUG, PCR_TRACE), with the switch dispatch: __GNUC__ stays undefined,
# and so does PCR_COMPUTED_GOTO (src/dispatch.h; cppcheck would otherwise
# try it as a configuration of its own), so the computed goto of src/vm.c
# and src/rec.c (labels as values, `&&op_LOAD`, a GNU extension) that
# cppcheck cannot parse is not read.
#
#   sh scripts/cppcheck.sh              (run from anywhere; checks the repo)
#
# The generated parser and lexer (build/gen) are not checked; their headers
# are generated into a temporary directory so that src/syntax.c is read with
# the real token and scanner types, and the configurations they define are
# not explored (--config-exclude). False positives are listed, each with its
# reason, in .cppcheck-suppressions; `// cppcheck-suppress id` comments in
# the code work too (--inline-suppr).
#
# The last line is "cppcheck: N files, N findings"; exit 1 on any finding.
set -u
cd "$(dirname "$0")/.." || exit 2
command -v cppcheck >/dev/null 2>&1 || {
    echo "cppcheck.sh: cppcheck is not installed (apt-get install cppcheck)" >&2
    exit 2
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pcr-cppcheck.XXXXXX") || exit 2
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

GEN_FLAGS=""
if command -v bison >/dev/null 2>&1 && command -v flex >/dev/null 2>&1 &&
    bison --defines="$WORK/parser.h" -o "$WORK/parser.c" grammar/parser.y 2>"$WORK/gen.err" &&
    flex --header-file="$WORK/lexer.h" -o "$WORK/lexer.c" grammar/lexer.l 2>>"$WORK/gen.err"; then
    GEN_FLAGS="-I$WORK --config-exclude=$WORK"
else
    echo "cppcheck.sh: no generated parser.h/lexer.h (bison or flex missing);" \
        "src/syntax.c is checked without them" >&2
fi

FILES=$(ls src/*.c tools/*.c)
nfiles=$(echo "$FILES" | wc -l)
# shellcheck disable=SC2086
cppcheck --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
    --language=c --std=c11 --library=posix -Iinclude -Isrc $GEN_FLAGS -U__GNUC__ -UPCR_COMPUTED_GOTO \
    --suppress-xml=.cppcheck-suppressions -j 2 --quiet \
    --template='{file}:{line}:{column}: {severity}[{id}]: {message}' \
    $FILES 2>"$WORK/findings"
st=$?
cat "$WORK/findings"
nfind=$(grep -c '^[^ ].*:[0-9]*:[0-9]*: \(error\|warning\|style\|performance\|portability\)\[[A-Za-z0-9_]*\]: ' "$WORK/findings")
echo "cppcheck: $nfiles files, $nfind findings"
[ "$st" = 0 ] && [ "$nfind" = 0 ]
