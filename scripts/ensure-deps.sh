#!/bin/sh
# Installs the build dependencies (flex, bison, Criterion, jansson,
# libmicrohttpd, libcsv, OpenSSL; curl for the server's tests) when they
# are missing and this user can: as root with apt-get, or through sudo.
set -u
missing=""
command -v flex >/dev/null 2>&1 || missing="$missing flex"
command -v bison >/dev/null 2>&1 || missing="$missing bison"
have_header() { printf '#include <%s>\n' "$1" | ${CC:-cc} -E -x c - >/dev/null 2>&1; }
have_header criterion/criterion.h || missing="$missing libcriterion-dev"
have_header jansson.h || missing="$missing libjansson-dev"
have_header microhttpd.h || missing="$missing libmicrohttpd-dev"
have_header csv.h || missing="$missing libcsv-dev"
have_header openssl/evp.h || missing="$missing libssl-dev"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
[ -z "$missing" ] && exit 0

. "$(dirname "$0")/apt.sh"
apt_install ensure-deps $missing
