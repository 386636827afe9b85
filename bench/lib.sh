# bench/lib.sh: what bench/run.sh and bench/stream.sh share. Sourced, not
# run; the sourcing script defines fail().

# take_bin_dir SCRIPT ARGS...: the one argument, BIN_DIR, made absolute in
# BIN; then the working directory becomes the project root.
take_bin_dir() {
    script=$1
    shift
    if [ $# -ne 1 ]; then
        echo "usage: sh $script BIN_DIR" >&2
        exit 2
    fi
    case $1 in
    /*) BIN=$1 ;;
    *) BIN=$(pwd)/$1 ;;
    esac
    cd "$(dirname "$0")/.." || exit 1
}

# need_tools BIN: pcrc and pcrvm are built in BIN.
need_tools() {
    for t in pcrc pcrvm; do
        [ -x "$1/$t" ] || fail "$1/$t not found (build it first: make all)"
    done
}

# build_gen DIR: compiles bench/gen.c to DIR/gen unless DIR/gen was built
# from the same gen.c (its checksum, also left in GEN_SUM, is kept in
# DIR/gen.src). Each script has its own DIR, so a concurrent `make bench`
# and `make bench-stream` never rebuild one file together.
build_gen() {
    mkdir -p "$1" || fail "cannot create $1"
    GEN_SUM=$(cksum < bench/gen.c) || fail "cannot read bench/gen.c"
    if [ ! -x "$1/gen" ] || [ "$(cat "$1/gen.src" 2> /dev/null)" != "$GEN_SUM" ]; then
        ${CC:-cc} -O2 -o "$1/gen" bench/gen.c || fail "could not compile bench/gen.c with ${CC:-cc}"
        echo "$GEN_SUM" > "$1/gen.src"
    fi
}

# gen_file FILE ARGS...: writes `$GEN ARGS` to FILE unless FILE was made
# by the same arguments and the same gen.c (recorded in FILE.params;
# build_gen sets GEN_SUM).
gen_file() {
    f=$1
    shift
    want="gen $* | $GEN_SUM"
    if [ -f "$f" ] && [ "$(cat "$f.params" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    echo "generating $f (gen $*)" >&2
    rm -f "$f.params"
    "$GEN" "$@" > "$f.tmp" || fail "gen $* failed"
    mv "$f.tmp" "$f" || fail "cannot write $f"
    echo "$want" > "$f.params"
}

# mixed_requests GEN N LONG_EVERY: N generated records for the four
# payers, with unique ids; every 97th replaced by a malformed one that
# keeps an id (broken JSON, or every 194th a wrong type), every
# LONG_EVERY-th by a 1.1 MB line (over pcrvm's line limit).
mixed_requests() {
    "$1" requests "$2" --payers healthlink,cigna,alliant,ibx | awk -v long="$3" '
        NR % long == 0 { printf "{\"id\":\"long-%d\",\"x\":\"", NR; for (i = 0; i < 11000; i++) printf "%0100d", 0; print "\"}"; next }
        NR % 194 == 0 { printf "{\"id\":\"bad-%d\",\"payer\":5}\n", NR; next }
        NR % 97 == 0 { print "{\"id\":\"broken-" NR "\", not json"; next }
        { print }'
}
