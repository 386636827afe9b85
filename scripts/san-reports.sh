#!/bin/sh
# scripts/san-reports.sh DIR: fails when a sanitizer wrote a report into DIR.
# `make san` points ASAN_OPTIONS/UBSAN_OPTIONS log_path there, so a report
# from a child process whose exit status a test did not check still counts.
dir=${1:?usage: san-reports.sh DIR}
n=0
for f in "$dir"/*; do
    [ -s "$f" ] || continue
    n=$((n + 1))
    echo "sanitizer report: $f" >&2
    head -n 40 "$f" >&2
done
if [ "$n" -gt 0 ]; then
    echo "san: $n sanitizer report(s) in $dir" >&2
    exit 1
fi
echo "san: no sanitizer report"
