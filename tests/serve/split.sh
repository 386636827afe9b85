#!/bin/sh
# tests/serve/split.sh BIN_DIR: the server is a program of its own,
# pcrvm-serve, that `pcrvm serve` execs, so that pcrvm links none of the
# server's libraries (docs/serve.md, "The program"). Checks that:
#   - pcrvm needs no libmicrohttpd, libjansson, libcrypto or libgnutls (its
#     ELF NEEDED entries, readelf -d), and pcrvm-serve does need them;
#   - `pcrvm serve ARGS` and `pcrvm-serve ARGS` are the same program: the
#     same usage on stdout, the same error on stderr, the same exit status;
#   - pcrvm finds pcrvm-serve beside itself without PATH, else on PATH;
#   - without either, `pcrvm serve` says what it tried and exits 2; a
#     pcrvm-serve beside it that cannot be run is named by its error.
# tests/serve/run.sh serves through `pcrvm serve` (make serve-test runs both).
# The last line is "split: N passed, N failed"; exit 1 on any failure.
set -u
BIN=${1:?usage: tests/serve/split.sh BIN_DIR}
command -v readelf >/dev/null 2>&1 || { echo "split: readelf is missing (binutils)" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/pcr-split.XXXXXX") || exit 2
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
eq() { # eq NAME GOT WANT
    if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi
}
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }
# run NAME CMD...: CMD's stdout, stderr and exit status into $W/NAME.{out,err,st}
run() {
    name=$1
    shift
    "$@" >"$W/$name.out" 2>"$W/$name.err"
    echo $? >"$W/$name.st"
}

# ---- the libraries --------------------------------------------------------
needed "$BIN/pcrvm" >"$W/pcrvm.needed"
needed "$BIN/pcrvm-serve" >"$W/serve.needed"
grep -q '^libc\.so' "$W/pcrvm.needed" && ok || bad "readelf -d $BIN/pcrvm lists no libc: $(cat "$W/pcrvm.needed")"
for lib in libmicrohttpd libjansson libcrypto libgnutls; do
    if grep -q "^$lib\." "$W/pcrvm.needed"; then bad "$BIN/pcrvm needs $lib"; else ok; fi
done
for lib in libmicrohttpd libjansson libcrypto; do
    grep -q "^$lib\." "$W/serve.needed" && ok || bad "$BIN/pcrvm-serve does not need $lib"
done

# ---- one program, two spellings --------------------------------------------
for args in "--help" "" "--threads 0 x.pcrb" "--no-such-option x.pcrb"; do
    # shellcheck disable=SC2086 # the arguments are split on purpose
    run via "$BIN/pcrvm" serve $args
    # shellcheck disable=SC2086
    run direct "$BIN/pcrvm-serve" $args
    for f in out err st; do
        cmp -s "$W/via.$f" "$W/direct.$f" && ok || bad "serve $args: pcrvm serve and pcrvm-serve differ ($f)"
    done
done
run help "$BIN/pcrvm" serve --help
eq "pcrvm serve --help: exit" "$(cat "$W/help.st")" 0
eq "pcrvm serve --help: usage" "$(head -n 1 "$W/help.out")" "usage: pcrvm serve [options] POLICY..."
run nopol "$BIN/pcrvm" serve
eq "pcrvm serve: exit" "$(cat "$W/nopol.st")" 2
eq "pcrvm serve: message" "$(cat "$W/nopol.err")" "pcrvm serve: no policy given (pcrvm serve --help)"

# ---- finding pcrvm-serve ------------------------------------------------------
mkdir -p "$W/both" "$W/alone" "$W/path" "$W/empty"
cp "$BIN/pcrvm" "$BIN/pcrvm-serve" "$W/both/"
cp "$BIN/pcrvm" "$W/alone/"
cp "$BIN/pcrvm-serve" "$W/path/"
run beside env PATH="$W/empty" "$W/both/pcrvm" serve --help
eq "beside, no PATH: exit" "$(cat "$W/beside.st")" 0
cmp -s "$W/beside.out" "$W/help.out" && ok || bad "beside, no PATH: not the usage"
run onpath env PATH="$W/path" "$W/alone/pcrvm" serve --help
eq "on PATH: exit" "$(cat "$W/onpath.st")" 0
cmp -s "$W/onpath.out" "$W/help.out" && ok || bad "on PATH: not the usage"

# Neither: PATH a directory without it; PATH empty (glibc's execvp then
# tries the current directory, which has no pcrvm-serve either).
want="pcrvm: serve: cannot run pcrvm-serve (looked in $W/alone and PATH): No such file or directory"
run none env PATH="$W/empty" "$W/alone/pcrvm" serve --help
eq "none: exit" "$(cat "$W/none.st")" 2
eq "none: message" "$(cat "$W/none.err")" "$want"
[ ! -s "$W/none.out" ] && ok || bad "none: wrote to stdout"
run empty sh -c 'cd "$1" && PATH= exec ./pcrvm serve x.pcrb' sh "$W/alone"
eq "empty PATH: exit" "$(cat "$W/empty.st")" 2
eq "empty PATH: message" "$(cat "$W/empty.err")" "$want"

# A pcrvm-serve beside pcrvm that cannot be run: its error, not PATH's.
chmod a-x "$W/both/pcrvm-serve"
run noexec env PATH="$W/empty" "$W/both/pcrvm" serve --help
eq "not executable: exit" "$(cat "$W/noexec.st")" 2
eq "not executable: message" "$(cat "$W/noexec.err")" \
    "pcrvm: serve: cannot run pcrvm-serve (looked in $W/both and PATH): Permission denied"

echo "split: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
