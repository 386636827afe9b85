#!/bin/sh
# scripts/ensure-node.sh DIR: node and npm (Debian nodejs, npm) when missing,
# and the npm package fhirpath (HL7's FHIRPath engine) in DIR/node_modules,
# for tests/crd/check.js.
set -u
DIR=${1:?usage: ensure-node.sh DIR}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    . "$(dirname "$0")/apt.sh"
    apt_install ensure-node nodejs npm
fi
[ -f "$DIR/node_modules/fhirpath/package.json" ] && exit 0
mkdir -p "$DIR" || exit 1
echo "ensure-node: npm install fhirpath into $DIR"
npm install --prefix "$DIR" --no-audit --no-fund --silent fhirpath@3 >/dev/null || {
    echo "ensure-node: npm install fhirpath failed" >&2
    exit 1
}
