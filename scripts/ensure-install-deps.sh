#!/bin/sh
# Installs what the install test (tests/install/run.sh) needs beyond the
# build: pkg-config, groff and man (man pages), readelf and nm (binutils).
set -u
missing=""
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkgconf"
command -v groff >/dev/null 2>&1 || missing="$missing groff-base"
command -v man >/dev/null 2>&1 || missing="$missing man-db"
command -v readelf >/dev/null 2>&1 || missing="$missing binutils"
[ -z "$missing" ] && exit 0

. "$(dirname "$0")/apt.sh"
apt_install ensure-install-deps $missing
