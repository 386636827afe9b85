#!/bin/sh
# Runs the `test` blocks of every shipped policy (and of the peer benchmark's
# policy, bench/peers/policy.pcr) through the real pcrc.
# The last line is pcrc's "N passed, N failed". policies/ is a module root
# (-I): policies/examples/cigna_variant.pcr extends policies/cigna.pcr.
set -eu
BIN=${PCR_BIN:-bin}
files=$(ls policies/*.pcr policies/examples/*.pcr bench/peers/policy.pcr 2>/dev/null)
exec "$BIN/pcrc" test -I policies $files
