#!/bin/sh
# Installs the build dependencies (flex, bison, Criterion, jansson) when they
# are missing and this user can: as root with apt-get, or through sudo.
set -u
missing=""
command -v flex >/dev/null 2>&1 || missing="$missing flex"
command -v bison >/dev/null 2>&1 || missing="$missing bison"
have_header() { printf '#include <%s>\n' "$1" | ${CC:-cc} -E -x c - >/dev/null 2>&1; }
have_header criterion/criterion.h || missing="$missing libcriterion-dev"
have_header jansson.h || missing="$missing libjansson-dev"
[ -z "$missing" ] && exit 0

echo "ensure-deps: installing:$missing"
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-deps: missing:$missing; install them (apt-get install$missing) and re-run" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-deps: no apt-get here; install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq $missing >/dev/null || {
    echo "ensure-deps: apt-get install$missing failed" >&2
    exit 1
}
