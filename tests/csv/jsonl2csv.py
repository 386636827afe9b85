#!/usr/bin/env python3
"""Converts a JSON Lines batch to the CSV `pcrvm --input csv` reads
(docs/cli.md, "CSV"): one column per key seen, in first-seen order; a list
joined with ';' ([] for the empty one); null as the text null; an absent
key as an empty cell.

Some JSON records have no CSV form with the same meaning: a line that is
not a JSON object (written as a row with one cell too many, so that it
stays a malformed record at its record number), a duplicate key, an object
value, or a string that reads as another type: null, [] or an empty
string anywhere, a number where some record of the batch has a number,
true or false where some record has a boolean. Their record numbers are printed to
standard output, one a line. OUT.csv.jsonl receives, per row, the JSON
record the CSV row means (the original line for a malformed one), so that
a lossy record's CSV decision can still be checked exactly.

Usage: jsonl2csv.py IN.jsonl OUT.csv"""
import csv
import json
import re
import sys

NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")


def lossy_string(s, kind=None):
    return s in ("", "null", "[]") or ";" in s or s != s.strip(" \t") \
        or (kind == "number" and NUMBER.match(s)) or (kind == "bool" and s in ("true", "false"))


def cell(v, lossy, kind=None):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        if not v:
            return "[]"
        if any(not isinstance(x, str) or lossy_string(x) for x in v):
            lossy.append(True)
        return ";".join(x if isinstance(x, str) else json.dumps(x) for x in v)
    if isinstance(v, dict):
        lossy.append(True)
        return json.dumps(v)
    if isinstance(v, str):
        if lossy_string(v, kind):
            lossy.append(True)
        return v
    return json.dumps(v)


def meaning(text, kind):
    """What pcrvm --input csv reads a cell as (docs/cli.md, "CSV")."""
    if text == "null":
        return None
    if kind == "list":
        return [] if text == "[]" else [x.strip(" \t") for x in text.split(";")]
    if kind == "number" and NUMBER.match(text):
        return json.loads(text)
    if kind == "bool" and text in ("true", "false"):
        return text == "true"
    return text


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def main(src, dst):
    rows, cols, lossy_rows, kinds = [], [], [], {}
    with open(src, "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for n, raw in enumerate(lines, 1):
        try:
            obj = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
        except ValueError:
            rows.append(None)
            lossy_rows.append(n)
            continue
        for k, v in obj.items():
            if k not in cols:
                cols.append(k)
            if isinstance(v, list):
                kinds[k] = "list"
            elif isinstance(v, bool):
                kinds[k] = "bool"
            elif isinstance(v, (int, float)):
                kinds[k] = "number"
        rows.append(obj)
    with open(dst, "w", newline="", encoding="utf-8") as f, \
            open(dst + ".jsonl", "wb") as m:
        w = csv.writer(f)
        w.writerow(cols)
        for n, r in enumerate(rows, 1):
            if r is None:
                w.writerow(["malformed"] * (len(cols) + 1))
                m.write(lines[n - 1] + b"\n")
                continue
            lossy = []
            cells = [cell(r[c], lossy, kinds.get(c)) if c in r else "" for c in cols]
            w.writerow(cells)
            if lossy:
                lossy_rows.append(n)
            obj = {c: meaning(t, kinds.get(c)) for c, t in zip(cols, cells) if t != ""}
            m.write(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")
    for n in sorted(lossy_rows):
        print(n)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
