#!/bin/sh
# Installs what `make fuzz` needs when it is missing and this user can (as
# root with apt-get, or through sudo), the way ensure-deps.sh does: clang,
# libFuzzer's runtime (Debian ships it in libclang-rt-N-dev, N being clang's
# major version) and jansson (the fuzz targets' JSON oracle).
set -u
FUZZ_CC=${FUZZ_CC:-clang}
missing=""

# Links a trivial fuzz target: proves the compiler and libFuzzer's runtime.
fuzzer_links() {
    tmp=$(mktemp -d 2>/dev/null || echo /tmp/pcr-fuzz-probe.$$)
    mkdir -p "$tmp"
    printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$tmp/t.c"
    "$FUZZ_CC" -fsanitize=fuzzer,address,undefined "$tmp/t.c" -o "$tmp/t" >/dev/null 2>&1
    st=$?
    rm -rf "$tmp"
    return $st
}
have_header() {
    cc=$FUZZ_CC; command -v "$cc" >/dev/null 2>&1 || cc=${CC:-cc}
    printf '#include <%s>\n' "$1" | "$cc" -E -x c - >/dev/null 2>&1
}

if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
    missing="$missing clang"
elif ! fuzzer_links; then
    major=$("$FUZZ_CC" -dumpversion 2>/dev/null | cut -d. -f1)
    missing="$missing libclang-rt-${major:-14}-dev"
fi
have_header jansson.h || missing="$missing libjansson-dev"
[ -z "$missing" ] && exit 0

. "$(dirname "$0")/apt.sh"
apt_install ensure-fuzz-deps $missing
# clang was just installed: its runtime package is named after its version.
case " $missing " in *" clang "*) if ! fuzzer_links; then
    major=$("$FUZZ_CC" -dumpversion 2>/dev/null | cut -d. -f1)
    $SUDO apt-get install -y -qq "libclang-rt-$major-dev" >/dev/null 2>&1
fi ;; esac
fuzzer_links || { echo "ensure-fuzz-deps: $FUZZ_CC -fsanitize=fuzzer still does not link" >&2; exit 1; }
