#!/usr/bin/env python3
"""Checks pcrvm's CSV paths against its JSON Lines path on one batch.

  check.py PCRVM DIR BATCH.jsonl POLICY...

1. BATCH converted to CSV (jsonl2csv.py) and run with --input csv decides
   every record as the JSON run does: the same decision line, or, for a
   record the converter says has no CSV form of the same meaning, an error
   at the same record number.
2. --output csv (from the JSON input and from the CSV input), parsed back
   with Python's csv module, says field by field what the JSON decision
   lines say.
Prints what differs and exits 1 on any difference. DIR is scratch space."""
import csv
import io
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
COLUMNS = ["id", "decision", "policy", "reviewer", "deadline", "timely", "rules", "missing",
           "obligations", "possible", "why", "error"]
failures = []


def fail(msg):
    failures.append(msg)
    print("check.py: " + msg, file=sys.stderr)


def run(args, stdin=None):
    p = subprocess.run(args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        fail("%s exited %d: %s" % (" ".join(args), p.returncode, p.stderr.decode()[:300]))
    return p.stdout


def names(v):
    if v is None:
        return ""
    return v if isinstance(v, str) else "; ".join(v)


def obligations(obs, possible):
    out = []
    for o in obs:
        s = o["outcome"]
        if o["reviewer"] is not None:
            s += " by " + (o["reviewer"] if isinstance(o["reviewer"], str) else ", ".join(o["reviewer"]))
        if o["deadline"] is not None:
            s += " due " + o["deadline"]
        if not possible and o.get("timely") is False:
            s += " (late)"
        s += " [" + ", ".join(o["rules"]) + "]"
        if possible and o["missing"]:
            s += " missing " + ", ".join(o["missing"])
        out.append(s)
    return "; ".join(out)


def expected_row(d):
    timely = {True: "true", False: "false", None: ""}[d["timely"]]
    return [d["id"] or "", d["decision"], d["policy"] or "", names(d["reviewer"]),
            d["deadline"] or "", timely, "; ".join(d["rules"]), "; ".join(d["missing"]),
            obligations(d["obligations"], False), obligations(d["possible"], True),
            d.get("why", ""), d.get("error", "")]


def check_csv_output(data, decisions, what):
    if not data.endswith(b"\r\n"):
        fail("%s: rows do not end with CRLF" % what)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    if not rows or rows[0] != COLUMNS:
        fail("%s: header %r" % (what, rows[:1]))
        return
    if len(rows) - 1 != len(decisions):
        fail("%s: %d rows for %d decisions" % (what, len(rows) - 1, len(decisions)))
        return
    for n, (row, d) in enumerate(zip(rows[1:], decisions), 1):
        want = expected_row(d)
        for col, got, exp in zip(COLUMNS, row, want):
            if got != exp:
                fail("%s: record %d, %s: %r, expected %r" % (what, n, col, got, exp))
        if len(row) != len(COLUMNS):
            fail("%s: record %d has %d cells" % (what, n, len(row)))


def main(pcrvm, scratch, batch, policies):
    base = os.path.join(scratch, os.path.basename(batch))
    conv = subprocess.run([sys.executable, os.path.join(HERE, "jsonl2csv.py"), batch, base + ".csv"],
                          stdout=subprocess.PIPE, check=True)
    lossy = {int(x) for x in conv.stdout.split()}
    json_lines = run([pcrvm] + policies + [batch]).decode("utf-8").splitlines()
    meant = run([pcrvm] + policies + [base + ".csv.jsonl"]).decode("utf-8").splitlines()
    csv_lines = run([pcrvm] + policies + ["--input", "csv", base + ".csv"]).decode("utf-8").splitlines()
    if len(json_lines) != len(csv_lines):
        fail("%d decisions from JSON, %d from CSV" % (len(json_lines), len(csv_lines)))
    same = 0
    for n, (j, c) in enumerate(zip(json_lines, csv_lines), 1):
        if j == c:
            same += 1
            continue
        dj, dc = json.loads(j), json.loads(c)
        if n in lossy and c == meant[n - 1]:
            continue
        if n in lossy and dj["decision"] == dc["decision"] == "error" \
                and json.loads(meant[n - 1])["decision"] == "error" \
                and dc["error"].startswith("record %d: " % n):
            continue
        fail("record %d differs:\n  json %s\n  csv  %s" % (n, j[:300], c[:300]))
    decisions = [json.loads(j) for j in json_lines]
    check_csv_output(run([pcrvm] + policies + ["--output", "csv", batch]), decisions,
                     "--output csv")
    # From CSV input, the records that have a CSV form decide alike.
    both = run([pcrvm] + policies + ["--input", "csv", "--output", "csv", base + ".csv"])
    check_csv_output(both, [json.loads(c) for c in csv_lines], "--input csv --output csv")
    print("%s: %d records, %d identical, %d with no CSV form, %d failures"
          % (os.path.basename(batch), len(json_lines), same, len(lossy), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
