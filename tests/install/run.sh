#!/bin/sh
# The install test (make test-install, part of make test):
#   1. make install PREFIX=<tmp>/prefix installs exactly the expected files;
#   2. pcr.pc works: a program (tests/install/prog.c) builds with
#      `pkg-config --cflags --libs pcr`, linked statically and shared, and
#      both evaluate records against a policy compiled with the installed
#      standard library, giving the installed pcrvm's decision lines;
#   3. the installed pcrc and pcrvm run (version, tests, compile, evaluate),
#      and the installed `pcrvm serve` runs the pcrvm-serve installed beside
#      it;
#   4. the installed man pages render with no groff warnings (and pass
#      mandoc -T lint when mandoc is installed);
#   5. make uninstall leaves no file behind; the same with a DESTDIR stage.
# Environment (set by the Makefile): CC, MAKE, BUILD, OUT, XCFLAGS, XLDFLAGS.
set -eu
CC=${CC:-cc}
MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
OUT=${OUT:-.}
XCFLAGS=${XCFLAGS:-}
XLDFLAGS=${XLDFLAGS:-}

fail() { echo "install test: FAIL: $*" >&2; exit 1; }
ok() { echo "install test: ok: $*"; }

sh scripts/ensure-install-deps.sh

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pcr-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
work=$tmp/work
mkdir -p "$work"
version=$(sed -n 's/^#define PCR_VERSION "\(.*\)"/\1/p' include/pcr/pcr.h)
major=${version%%.*}
[ -n "$version" ] || fail "no PCR_VERSION in include/pcr/pcr.h"

# The files an install must hold, relative to the prefix, sorted.
expected() {
    {
        printf '%s\n' bin/pcrc bin/pcrvm bin/pcrvm-serve include/pcr/pcr.h lib/libpcr.a lib/libpcr.so \
            "lib/libpcr.so.$major" "lib/libpcr.so.$version" lib/pkgconfig/pcr.pc \
            share/man/man1/pcrc.1 share/man/man1/pcrvm.1 share/man/man1/pcrvm-serve.1 share/man/man5/pcr.5
        for m in policies/std/*.pcr; do echo "share/pcr/std/${m##*/}"; done
    } | LC_ALL=C sort
}
installed() { (cd "$1" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort); }
mk() { "$MAKE" --no-print-directory BUILD="$BUILD" OUT="$OUT" "$@" >"$tmp/make.log" 2>&1 ||
    { cat "$tmp/make.log" >&2; fail "make $*"; }; }

# ---- 1. install ----------------------------------------------------------
mk install PREFIX="$prefix"
expected >"$tmp/expected"
installed "$prefix" >"$tmp/got"
diff -u "$tmp/expected" "$tmp/got" >&2 || fail "make install: the installed files differ from the expected list"
[ "$(readlink "$prefix/lib/libpcr.so.$major")" = "libpcr.so.$version" ] || fail "libpcr.so.$major link"
[ "$(readlink "$prefix/lib/libpcr.so")" = "libpcr.so.$version" ] || fail "libpcr.so link"
readelf -d "$prefix/lib/libpcr.so.$version" | grep -q "SONAME.*\[libpcr.so.$major\]" ||
    fail "libpcr.so.$version has no soname libpcr.so.$major"
# Only the API is exported: every dynamic symbol starts with pcr_.
others=$(nm -D --defined-only "$prefix/lib/libpcr.so.$version" | awk '$3 !~ /^pcr_/ {print $3}' |
    grep -v '^$' || true)
[ -z "$others" ] || fail "libpcr.so exports non-API symbols: $(echo $others | head -c 200)"
nm -D --defined-only "$prefix/lib/libpcr.so.$version" | grep -q ' T pcr_engine_eval$' ||
    fail "libpcr.so does not export pcr_engine_eval"
ok "make install PREFIX=... put $(wc -l <"$tmp/got") files, soname libpcr.so.$major"

# ---- 2. a program built with pkg-config ----------------------------------
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
[ "$(pkg-config --modversion pcr)" = "$version" ] || fail "pkg-config --modversion pcr"
cflags=$(pkg-config --cflags pcr)
libs=$(pkg-config --libs pcr)
case "$cflags" in *"-I$prefix/include"*) ;; *) fail "pkg-config --cflags pcr: $cflags" ;; esac
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Werror $XCFLAGS $cflags tests/install/prog.c \
    -Wl,-Bstatic $libs -Wl,-Bdynamic $XLDFLAGS -o "$work/prog-static" || fail "static link"
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Werror $XCFLAGS $cflags tests/install/prog.c \
    $libs $XLDFLAGS -o "$work/prog-shared" || fail "shared link"
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Werror $XCFLAGS $cflags tests/install/prog.c \
    $libs -Wl,-rpath,"$(pkg-config --variable=libdir pcr)" $XLDFLAGS -o "$work/prog-rpath" ||
    fail "shared link with rpath"
readelf -d "$work/prog-static" | grep -q 'NEEDED.*libpcr' && fail "prog-static needs libpcr.so"
readelf -d "$work/prog-shared" | grep -q "NEEDED.*\[libpcr.so.$major\]" ||
    fail "prog-shared does not need libpcr.so.$major"
LD_LIBRARY_PATH="$prefix/lib" ldd "$work/prog-shared" | grep -q "libpcr.so.$major => $prefix/lib/" ||
    fail "prog-shared does not load the installed libpcr.so.$major"
ldd "$work/prog-rpath" | grep -q "libpcr.so.$major => $prefix/lib/" ||
    fail "prog-rpath does not load the installed libpcr.so.$major"

# A real policy outside the source tree (so `use std.*` can only come from
# the installed standard library) and records it decides.
cp policies/examples/demo.pcr "$work/demo.pcr"
cat >"$work/records.jsonl" <<'JSONL'
{"id":"r1","payer":"demo","code":"70551","setting":"outpatient","service_date":"2026-03-02"}
{"id":"r2","payer":"demo","code":"70551","setting":"outpatient","emergent":true,"service_date":"2026-03-02"}
{"id":"r3","payer":"demo","code":"99213","setting":"office","service_date":"2026-03-02"}
{"id":"r4","payer":"other","code":"70551","service_date":"2026-03-02"}
JSONL
stdlib=$(pkg-config --variable=moduledir pcr)
[ "$stdlib" = "$prefix/share/pcr" ] || fail "pkg-config --variable=moduledir pcr: $stdlib"
[ -f "$(pkg-config --variable=stdlibdir pcr)/request.pcr" ] || fail "pkg-config --variable=stdlibdir pcr"
"$work/prog-static" "$stdlib" "$work/demo.pcr" "$work/records.jsonl" >"$work/static.out" 2>"$work/static.err" ||
    fail "prog-static failed"
LD_LIBRARY_PATH="$prefix/lib" "$work/prog-shared" "$stdlib" "$work/demo.pcr" "$work/records.jsonl" \
    >"$work/shared.out" 2>"$work/shared.err" || fail "prog-shared failed"
"$work/prog-rpath" "$stdlib" "$work/demo.pcr" "$work/records.jsonl" >"$work/rpath.out" 2>"$work/rpath.err" ||
    fail "prog-rpath failed"
grep -qx "prog: libpcr $version, policy demo@2026.1, 9 rules" "$work/shared.err" ||
    fail "prog-shared: $(cat "$work/shared.err")"
cmp -s "$work/static.out" "$work/shared.out" || fail "static and shared programs disagree"
cmp -s "$work/static.out" "$work/rpath.out" || fail "rpath and static programs disagree"
grep -q '^{"id":"r1","decision":"prior_auth",.*"reviewer":"eviCore","deadline":"2026-02-27T00:00"' \
    "$work/static.out" || fail "r1 is not prior_auth by eviCore (see $work/static.out)"
grep -qx '# prior_auth rules=imaging reviewers=eviCore deadline=2026-02-27T00:00' "$work/static.out" ||
    fail "pcr_engine_decision for r1"
grep -q '^{"id":"r2","decision":"none"' "$work/static.out" || fail "r2 (emergent) is not none"
grep -q '^{"id":"r4","decision":"no_policy"' "$work/static.out" || fail "r4 is not no_policy"
ok "a program built with pkg-config, static, shared (LD_LIBRARY_PATH) and rpath, decides 4 records"

# ---- 3. the installed tools ------------------------------------------------
[ "$("$prefix/bin/pcrc" --version)" = "pcrc $version" ] || fail "installed pcrc --version"
[ "$("$prefix/bin/pcrvm" --version)" = "pcrvm $version" ] || fail "installed pcrvm --version"
"$prefix/bin/pcrc" test -I "$stdlib" "$work/demo.pcr" >"$work/test.out" 2>&1 ||
    { cat "$work/test.out" >&2; fail "installed pcrc test"; }
grep -q ' passed, 0 failed$' "$work/test.out" || fail "installed pcrc test: $(tail -1 "$work/test.out")"
"$prefix/bin/pcrc" -I "$stdlib" "$work/demo.pcr" -o "$work/demo.pcrb" || fail "installed pcrc compile"
"$prefix/bin/pcrvm" "$work/demo.pcrb" "$work/records.jsonl" >"$work/pcrvm.out" || fail "installed pcrvm"
grep -v '^#' "$work/static.out" | cmp -s - "$work/pcrvm.out" ||
    fail "the program's decision lines differ from the installed pcrvm's"
# Installed, the tools find the standard library themselves: no -I.
env -u PCR_STDLIB "$prefix/bin/pcrc" --check "$work/demo.pcr" >"$work/noI.out" 2>&1 ||
    { cat "$work/noI.out" >&2; fail "installed pcrc without -I does not find share/pcr/std"; }
# pcrvm serve execs the pcrvm-serve beside pcrvm (PATH has none here).
PATH="$work" "$prefix/bin/pcrvm" serve --help >"$work/serve.out" 2>&1 ||
    { cat "$work/serve.out" >&2; fail "installed pcrvm serve --help"; }
grep -qx 'usage: pcrvm serve \[options\] POLICY\.\.\.' "$work/serve.out" ||
    fail "installed pcrvm serve --help: $(head -1 "$work/serve.out")"
ok "installed pcrc ($(tail -1 "$work/test.out")) and pcrvm agree with the program; pcrc finds the standard library without -I; pcrvm serve runs the installed pcrvm-serve"

# ---- 4. man pages ----------------------------------------------------------
for page in "$prefix/share/man/man1/pcrc.1" "$prefix/share/man/man1/pcrvm.1" \
    "$prefix/share/man/man5/pcr.5"; do
    groff -mandoc -ww -z "$page" 2>"$work/groff.err" || fail "groff failed on $page"
    [ ! -s "$work/groff.err" ] || { cat "$work/groff.err" >&2; fail "groff warns on $page"; }
    MANWIDTH=80 man -l "$page" >"$work/man.out" 2>"$work/man.err" || fail "man -l $page"
    [ ! -s "$work/man.err" ] || { cat "$work/man.err" >&2; fail "man -l warns on $page"; }
    grep -q 'SYNOPSIS\|DESCRIPTION' "$work/man.out" || fail "man -l $page renders no sections"
    if command -v mandoc >/dev/null 2>&1; then
        mandoc -T lint -W warning "$page" >"$work/mandoc.out" 2>&1 ||
            { cat "$work/mandoc.out" >&2; fail "mandoc -T lint $page"; }
    fi
done
# The man pages summarize docs/cli.md: every option in its tables is an
# item of the OPTIONS section of its tool's page, and each page carries the
# version.
opts=$(awk '/^## pcrc/ { t = "pcrc" } /^## pcrvm/ { t = "pcrvm" } /^## The C API/ { t = "" }
    t && /^\| `-/ { split($0, c, "|"); gsub(/`|^ +| +$/, "", c[2]); n = split(c[2], o, ", ");
        for (i = 1; i <= n; i++) { sub(/[ =].*/, "", o[i]); print t, o[i] } }' docs/cli.md)
[ "$(echo "$opts" | grep -c ' -')" -ge 12 ] || fail "found only these options in docs/cli.md: $opts"
echo "$opts" | while read -r tool opt; do
    LC_ALL=C MANWIDTH=200 man -l "$prefix/share/man/man1/$tool.1" 2>/dev/null |
        awk '/^[A-Z]/ { on = ($0 == "OPTIONS") } on' |
        grep -Eq -- "^ +(-[-A-Za-z]+, )*$opt([ =,]|\$)" ||
        fail "$tool.1 has no $opt in its OPTIONS (docs/cli.md has)"
done
# The same for pcrvm serve: every option of docs/serve.md's table is an
# item of pcrvm.1's SERVE section.
sopts=$(awk '/^\| `-/ { split($0, c, "|"); gsub(/`|^ +| +$/, "", c[2]); n = split(c[2], o, ", ");
        for (i = 1; i <= n; i++) { sub(/[ =].*/, "", o[i]); print o[i] } }' docs/serve.md)
[ "$(echo "$sopts" | grep -c -- '^--')" -ge 8 ] || fail "found only these options in docs/serve.md: $sopts"
echo "$sopts" | while read -r opt; do
    case $opt in -h | --help) continue ;; esac
    LC_ALL=C MANWIDTH=200 man -l "$prefix/share/man/man1/pcrvm.1" 2>/dev/null |
        awk '/^[A-Z]/ { on = ($0 == "SERVE") } on' |
        grep -Eq -- "^ +$opt([ =,]|\$)" ||
        fail "pcrvm.1 has no $opt in its SERVE section (docs/serve.md has)"
done
for page in man/pcrc.1 man/pcrvm.1 man/pcr.5; do
    grep -qx "\.Os PCR $version" "$page" || fail "$page: .Os is not \"PCR $version\""
done
[ "$(readlink "$prefix/share/man/man1/pcrvm-serve.1")" = pcrvm.1 ] ||
    fail "share/man/man1/pcrvm-serve.1 is not a link to pcrvm.1 (man pcrvm-serve)"
ok "man pages render with no warnings (groff -ww$(command -v mandoc >/dev/null 2>&1 && echo ', mandoc -T lint'))"

# ---- 5. uninstall, and the same with DESTDIR ----------------------------
mk uninstall PREFIX="$prefix"
left=$(installed "$prefix")
[ -z "$left" ] || fail "make uninstall left: $left"
for d in include/pcr share/pcr; do [ ! -e "$prefix/$d" ] || fail "make uninstall left $d/"; done

stage=$tmp/stage
mk install PREFIX=/opt/pcr DESTDIR="$stage"
installed "$stage/opt/pcr" >"$tmp/got"
diff -u "$tmp/expected" "$tmp/got" >&2 || fail "make install DESTDIR=...: files differ"
[ -z "$(cd "$stage" && find . ! -type d ! -path './opt/pcr/*')" ] || fail "DESTDIR install wrote outside PREFIX"
grep -qx 'prefix=/opt/pcr' "$stage/opt/pcr/lib/pkgconfig/pcr.pc" || fail "pcr.pc does not record PREFIX"
grep -q "$stage" "$stage/opt/pcr/lib/pkgconfig/pcr.pc" && fail "pcr.pc records DESTDIR"
mk uninstall PREFIX=/opt/pcr DESTDIR="$stage"
left=$(installed "$stage")
[ -z "$left" ] || fail "make uninstall DESTDIR=... left: $left"
ok "make uninstall removes everything; DESTDIR staging works"
