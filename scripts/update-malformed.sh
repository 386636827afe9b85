#!/bin/sh
# update-malformed.sh: regenerates tests/golden/malformed/*/NN-name.expected
# by running the real binaries, then the two tables of docs/reliability.md
# ("Malformed input, message by message"). Review the diff by eye before
# keeping it: the expected files are what tests/unit/test_malformed.c holds
# the tools to, byte for byte.
#
#   scripts/update-malformed.sh [BINDIR]     (default: bin)
#
# A source's expected file is pcrc's stderr, then "exit status: N".
# A record file's expected file is pcrvm's stdout, then "exit status: N".
# Cases without an input file are generated here and in test_malformed.c
# alike (too big to commit, or not a file at all):
#   sources/90-over-8mib      838,861 lines "# padding" (8,388,610 bytes)
#   sources/91-directory      pcrc given a directory
#   sources/92-missing-file   pcrc given a path that does not exist
#   sources/93, 94            written by tests/golden/malformed/generate.sh
#   records/90-line-over-1mib a record line of 1,048,638 bytes (and its newline), then a valid one
set -eu
BIN=${1:-bin}
cd "$(dirname "$0")/.."
ROOT=$PWD
M=tests/golden/malformed
PCRC="$ROOT/$BIN/pcrc"
PCRVM="$ROOT/$BIN/pcrvm"
case "$BIN" in /*) PCRC="$BIN/pcrc"; PCRVM="$BIN/pcrvm";; esac

src_case() { # file expected-path
    { "$PCRC" --check --color=never -I policies "$1" 2>&1 >/dev/null; echo "exit status: $?"; } > "$2" || true
}
rec_case() {
    { "$PCRVM" policies/examples/demo.pcr "$1"; echo "exit status: $?"; } > "$2" || true
}

for f in $M/sources/*.pcr; do src_case "$f" "${f%.pcr}.expected"; done
for f in $M/records/*.jsonl; do rec_case "$f" "${f%.jsonl}.expected"; done

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
yes '# padding' | head -n 838861 > "$tmp/90-over-8mib.pcr"
(cd "$tmp" && { "$PCRC" --check --color=never -I "$ROOT/policies" 90-over-8mib.pcr 2>&1 >/dev/null; echo "exit status: $?"; }) > $M/sources/90-over-8mib.expected || true
src_case $M/sources $M/sources/91-directory.expected
src_case $M/sources/92-missing-file.pcr $M/sources/92-missing-file.expected
sh $M/generate.sh "$tmp"
for c in 93-too-many-rules 94-set-too-large; do
    (cd "$tmp" && { "$PCRC" --check --color=never -I "$ROOT/policies" $c.pcr 2>&1 >/dev/null; echo "exit status: $?"; }) > $M/sources/$c.expected || true
done
python3 - "$tmp/90-line-over-1mib.jsonl" <<'PY'
import sys
big = b'{"id":"big","payer":"demo","service_date":"2026-03-02","x":"' + b"a" * 1048576 + b'"}\n'
ok = b'{"id":"r2","payer":"demo","service_date":"2026-03-02","code":"70551","setting":"office"}\n'
open(sys.argv[1], "wb").write(big + ok)
PY
rec_case "$tmp/90-line-over-1mib.jsonl" $M/records/90-line-over-1mib.expected

python3 - <<'PY'
import os, re
M = "tests/golden/malformed"
def esc(b, n=70):
    s = "".join(chr(c) if 32 <= c < 127 and c not in (0x7c, 0x60) else ("\\|" if c == 0x7c else "'" if c == 0x60 else "\\x%02X" % c) for c in b)
    s = s.replace("\\x0A", "⏎").replace("\\x0D", "\\r")
    return s if len(s) <= n else s[:n - 25] + " … " + s[-22:]
GEN = {"90-over-8mib": "generated: 8,388,610 bytes of comments",
       "91-directory": "generated: a directory given as the file",
       "92-missing-file": "generated: a path that does not exist",
       "93-too-many-rules": "generated (generate.sh): 65,537 rules",
       "94-set-too-large": "generated (generate.sh): a code set of 100,001 separate codes",
       "90-line-over-1mib": "generated: a 1,048,638-byte line, then a valid record"}
def cell(s): return s.replace("|", "\\|").replace("`", "'")
def table(kind, ext):
    rows = ["| # | case | input (short) | exact message | exit |", "|---|---|---|---|---|"]
    d = os.path.join(M, kind)
    for e in sorted(f for f in os.listdir(d) if f.endswith(".expected")):
        stem = e[:-9]; num, name = stem.split("-", 1)
        p = os.path.join(d, stem + ext)
        if stem in GEN: inp = GEN[stem]
        else:
            b = open(p, "rb").read()
            inp = "(%d bytes) " % len(b) + esc(b) if kind == "sources" else esc(b)
        lines = open(os.path.join(d, e), encoding="utf-8", errors="replace").read().split("\n")
        status = lines[-2].split(": ")[1]; body = lines[:-2]
        if kind == "sources":
            msgs = [re.sub(r"^.*?:(\d+:\d+: )", r"\1", l) for l in body if re.match(r"^\S.*:\d+:\d+: (error|warning|note)", l)]
            msg = "<br>".join(cell(m) for m in msgs) or "(no message: compiles)"
        else:
            out = []
            for l in body:
                m = re.search(r'"decision":"([a-z_]+)"', l); er = re.search(r'"error":"((?:[^"\\]|\\.)*)"', l)
                out.append(m.group(1) + (": " + er.group(1) if er else ""))
            msg = "<br>".join(cell(x) for x in out)
        rows.append("| %s | %s | `%s` | %s | %s |" % (num, name, inp.replace("`", "'"), msg, status))
    return "\n".join(rows)
doc = open("docs/reliability.md", encoding="utf-8").read()
for key, kind, ext in (("sources", "sources", ".pcr"), ("records", "records", ".jsonl")):
    b, e = "<!-- malformed-%s:begin -->\n" % key, "<!-- malformed-%s:end -->" % key
    i, j = doc.index(b) + len(b), doc.index(e)
    doc = doc[:i] + table(kind, ext) + "\n" + doc[j:]
open("docs/reliability.md", "w", encoding="utf-8").write(doc)
PY
echo "updated $M and docs/reliability.md: review with git diff"
