# bench/rss_judge.awk: judges a server's memory over one bench-serve run
# (bench/serve.sh, docs/benchmarks.md "Memory over a long run").
#
#   awk -v name=SCENARIO -v secs=RUN_SECONDS -f bench/rss_judge.awk SAMPLES
#
# SAMPLES has one "SECONDS KB" line per sample (time since the run began,
# VmRSS). The first 30 s are a warm-up and skipped: connection pools,
# allocator arenas and caches fill there. Over the rest it computes
#   slope      the least-squares slope of RSS over time, in kB per minute;
#   first-max  the largest RSS in the first 60 s after the warm-up;
#   last-max   the largest RSS in the last 60 s;
#   growth     last-max - first-max;
#   noise      the standard deviation of RSS around the fitted line: how
#              much the scenario's own working set (bodies and answers in
#              flight) moves it from one sample to the next.
# A run shorter than 150 s has no two such minutes: it is measured the
# same way (warm-up a quarter of the run, windows a third of the rest) but
# not judged (verdict "short").
# Memory GROWS when slope > max_slope (64 kB/min) and growth is more than
# max_growth (1024 kB) and more than twice the noise. All are required:
# one allocator step moves the maxima once but not the slope for long; a
# series that swings by megabytes with the requests in flight moves both
# maxima by chance. A leak of one byte per request at 5,000 requests/s is
# 300 kB/min, 1.3 MB after the warm-up of a 5-minute run: in a scenario
# whose RSS is flat between samples it crosses all three. Prints one line:
#   NAME SAMPLES START END SLOPE/MIN FIRST-MAX LAST-MAX GROWTH NOISE VERDICT
BEGIN {
    if (max_slope == "") max_slope = 64
    if (max_growth == "") max_growth = 1024
    n = 0
    long = secs >= 150
    warm = long ? 30 : secs / 4
}
NF == 2 && $2 ~ /^[0-9]+$/ { t[n] = $1 + 0; r[n] = $2 + 0; n++ }
END {
    if (n == 0) { printf "%-12s no samples (the server died?)  GROWS\n", name; exit }
    tend = t[n - 1]
    win = long ? 60 : (tend - warm) / 3
    m = 0; st = 0; sr = 0; stt = 0; str = 0; fmax = 0; lmax = 0
    for (i = 0; i < n; i++) {
        if (t[i] < warm) continue
        m++; st += t[i]; sr += r[i]; stt += t[i] * t[i]; str += t[i] * r[i]
        if (t[i] < warm + win && r[i] > fmax) fmax = r[i]
        if (t[i] > tend - win && r[i] > lmax) lmax = r[i]
    }
    if (m < 3) { printf "%-12s %8d too few samples after the warm-up  -\n", name, n; exit }
    den = m * stt - st * st
    b = den > 0 ? (m * str - st * sr) / den : 0 # kB per second
    a = (sr - b * st) / m
    ss = 0
    for (i = 0; i < n; i++)
        if (t[i] >= warm) { e = r[i] - (a + b * t[i]); ss += e * e }
    noise = sqrt(ss / m)
    slope = b * 60
    growth = lmax - fmax
    grows = slope > max_slope && growth > max_growth && growth > 2 * noise
    printf "%-12s %8d %8d %8d %12.1f %9d %9d %7d %7.0f  %s\n", name, n, r[0], r[n - 1], slope, fmax,
        lmax, growth, noise, !long ? "short" : grows ? "GROWS" : "flat"
}
