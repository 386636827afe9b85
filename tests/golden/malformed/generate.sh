#!/bin/sh
# generate.sh DIR: writes the malformed sources too big to commit into DIR,
# byte for byte the same each time. tests/unit/test_malformed.c and
# scripts/update-malformed.sh both run it, so the expected files and the
# test see the same input.
#
#   93-too-many-rules.pcr  65,537 rules: one over the limit of 65,536 (E126)
#   94-set-too-large.pcr   a code set of 100,001 separate codes on one line:
#                          one over the limit of 100,000 (E307)
set -eu
dir=$1
header='use std.request

policy g {
  payer "g"
  title "Generated"
  version "1"
  effective 2026-01-01
}
'
{
    printf '%s' "$header"
    awk 'BEGIN { for (i = 0; i <= 65536; i++)
        printf "rule r%d \"\" { when units > %d require prior_auth }\n", i, i % 100 }'
} > "$dir/93-too-many-rules.pcr"
{
    printf '%s' "$header"
    awk 'BEGIN {
        printf "codeset big = { CPT"
        for (i = 0; i < 100000; i += 2) printf " %05d", i          # 50,000 codes
        printf " HCPCS"
        n = 0; letters = "ABCEGHJKLMPQRSTV"
        for (l = 1; n < 50001; l++)
            for (i = 0; i < 10000 && n < 50001; i += 2) { printf " %s%04d", substr(letters, l, 1), i; n++ }
        printf " }\n"
        printf "rule r \"\" { when code in big require prior_auth }\n"
    }'
} > "$dir/94-set-too-large.pcr"
