#!/usr/bin/env python3
"""check_gen.py: independent checks of what bench/gen writes.

  check_gen.py requests SCHEMA.pcr FILE [PAYER,...]
      every line is one JSON object that the schema in SCHEMA.pcr accepts
      (types, enum members, code shapes, code_system agreeing with the code,
      dates and datetimes), ids are unique, service dates lie in 2022-2026,
      requested_at is before service_date, lines average 200-300 bytes.
  check_gen.py policy FILE RULES CODES [--unmatched]
      the generated policy has RULES rules and its rules' code sets hold
      CODES distinct service codes (CODES "-": any number); literals have valid shapes; ranges are
      same-length and ordered; every set and exempted rule is defined
      before use; braces balance.
  check_gen.py disjoint POLICY REQUESTS
      no request code lies in any code set of POLICY (for --unmatched).

Prints one line per problem (at most 20) and exits 1 if there is any.
Written without the project's code on purpose: it checks gen against the
language and schema documents, not against our own decoder.
"""
import datetime
import json
import re
import sys

CPT = re.compile(r"^[0-9]{4}[0-9FTU]$")
HCPCS = re.compile(r"^[A-Z][0-9]{4}$")
REV = re.compile(r"^[0-9]{4}$")
ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
SHAPES = {"CPT": CPT, "HCPCS": HCPCS, "REV": REV}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$")


class Problems:
    def __init__(self):
        self.n = 0

    def add(self, where, msg):
        self.n += 1
        if self.n <= 20:
            print(f"{where}: {msg}")

    def done(self, what):
        if self.n:
            print(f"FAIL {what}: {self.n} problem(s)")
            return 1
        print(f"ok   {what}")
        return 0


def strip_comments(text):
    return "\n".join(re.sub(r"(#|//).*$", "", line) for line in text.splitlines())


def parse_schema(path):
    """Fields of the one schema block: name -> (type, detail)."""
    text = strip_comments(open(path, encoding="utf-8").read())
    body = re.search(r"schema\s+\w+\s*\{(.*)\}\s*$", text, re.S).group(1)
    fields = {}
    pos = 0
    field_re = re.compile(r"\s*(\w+)\s*:\s*")
    while True:
        m = field_re.match(body, pos)
        if not m:
            break
        name = m.group(1)
        pos = m.end()
        if body.startswith("enum", pos):
            close = body.index("}", pos)
            members = [x.strip().strip('"') for x in body[body.index("{", pos) + 1:close].split(",")]
            fields[name] = ("enum", [x for x in members if x])
            pos = close + 1
        else:
            m2 = re.compile(r"(list\s+)?(\w+)(\(([^)]*)\))?").match(body, pos)
            kind = m2.group(2)
            systems = [s.strip() for s in (m2.group(4) or "").split(",") if s.strip()]
            fields[name] = ("list " + kind if m2.group(1) else kind, systems)
            pos = m2.end()
        # the rest of the declaration: `required`, `= default`, `system F`,
        # and its wording (docs/language.md, "Field wording"), which may go
        # on over the next lines, up to the next field
        m3 = re.compile(r"[^\n]*").match(body, pos)
        rest = m3.group(0)
        pos = m3.end()
        while True:
            m3 = re.compile(r"\n[^\n]*").match(body, pos)
            if not m3 or field_re.match(m3.group(0)) or not m3.group(0).strip():
                break
            rest += m3.group(0)
            pos = m3.end()
        words = re.sub(r'"[^"]*"', '""', rest).split()
        fields[name] = fields[name] + ("required" in words,)
    return fields


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key in {keys}")
    return dict(pairs)


def date_of(s):
    try:
        return datetime.date.fromisoformat(s) if DATE.match(s) else None
    except ValueError:
        return None


def datetime_of(s):
    if not DATETIME.match(s):
        return None
    try:
        if "T" not in s:
            return datetime.datetime.fromisoformat(s + "T00:00:00")
        return datetime.datetime.fromisoformat(s if s.count(":") == 2 else s + ":00")
    except ValueError:
        return None


def infer_system(code, allowed):
    return [s for s in allowed if SHAPES[s].match(code)]


def check_requests(schema_path, path, payers):
    schema = parse_schema(schema_path)
    p = Problems()
    ids = set()
    total = lines = 0
    lo, hi = datetime.date(2022, 1, 1), datetime.date(2026, 12, 31)
    with open(path, "rb") as f:
        for lines, raw in enumerate(f, 1):
            total += len(raw)
            where = f"{path}:{lines}"
            if not raw.endswith(b"\n"):
                p.add(where, "no trailing newline")
            try:
                rec = json.loads(raw, object_pairs_hook=no_duplicates)
            except ValueError as e:
                p.add(where, f"not JSON: {e}")
                continue
            if not isinstance(rec, dict):
                p.add(where, "not an object")
                continue
            for name, (kind, detail, required) in schema.items():
                if required and name not in rec:
                    p.add(where, f"missing required field {name}")
            for key, val in rec.items():
                if key not in schema:
                    p.add(where, f"unknown field {key}")
                    continue
                kind, detail, _ = schema[key]
                ok = True
                if kind == "string":
                    ok = isinstance(val, str)
                elif kind == "bool":
                    ok = isinstance(val, bool)
                elif kind == "int":
                    ok = isinstance(val, int) and not isinstance(val, bool)
                elif kind == "money":
                    text = raw.decode().split(f'"{key}":', 1)[1]
                    ok = re.match(r"-?\d+(\.\d{1,2})?[,}]", text) is not None
                elif kind == "enum":
                    ok = val in detail
                elif kind == "date":
                    ok = isinstance(val, str) and date_of(val) is not None
                elif kind == "datetime":
                    ok = isinstance(val, str) and datetime_of(val) is not None
                elif kind == "code":
                    systems = infer_system(val, detail) if isinstance(val, str) else []
                    ok = len(systems) == 1
                    if ok and "code_system" in rec and rec["code_system"] != systems[0]:
                        p.add(where, f"code_system {rec['code_system']} but {val} is {systems[0]}")
                elif kind == "list code":
                    ok = isinstance(val, list) and 1 <= len(val) <= 3 and all(
                        isinstance(x, str) and ICD10.match(x) for x in val)
                else:
                    p.add(where, f"schema type {kind} not checked")
                if not ok:
                    p.add(where, f"field {key}: bad {kind} value {val!r}")
            rid = rec.get("id")
            if rid in ids:
                p.add(where, f"duplicate id {rid}")
            ids.add(rid)
            if payers and rec.get("payer") not in payers:
                p.add(where, f"payer {rec.get('payer')} not one of {payers}")
            sd = date_of(rec.get("service_date", ""))
            if sd and not lo <= sd <= hi:
                p.add(where, f"service_date {sd} outside 2022-2026")
            ra = rec.get("requested_at")
            if sd and ra is not None:
                when = datetime_of(ra)
                if when and when.date() >= sd:
                    p.add(where, f"requested_at {ra} not before service_date {sd}")
            if rec.get("admission") is not None and rec.get("setting") != "inpatient":
                p.add(where, "admission on a non-inpatient request")
    if lines == 0:
        p.add(path, "no records")
    else:
        avg = total / lines
        if not 200 <= avg <= 300:
            p.add(path, f"average line length {avg:.0f} bytes, expected 200-300")
    return p.done(f"requests {path}: {lines} records, {total} bytes")


def code_count(lo, hi):
    """How many codes lo..hi covers: only the digit run varies."""
    a = re.search(r"\d+", lo)
    return int(hi[a.start():a.end()]) - int(lo[a.start():a.end()]) + 1


def expand(lo, hi):
    a = re.search(r"\d+", lo)
    w = a.end() - a.start()
    for v in range(int(lo[a.start():a.end()]), int(hi[a.start():a.end()]) + 1):
        yield lo[:a.start()] + str(v).zfill(w) + lo[a.end():]


def parse_policy(path, p):
    """Returns (rules, sets, rule_sets): set name -> list of (system, lo, hi);
    rule_sets: names of sets rules test with `code in`."""
    text = strip_comments(open(path, encoding="utf-8").read())
    depth = 0
    for i, ch in enumerate(text):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            p.add(path, f"unbalanced '}}' at offset {i}")
            depth = 0
    if depth:
        p.add(path, "unclosed '{'")
    sets, rules, rule_sets = {}, [], set()
    decl = re.compile(r"^(codeset|rule|calendar|policy|use)\s+(\w[\w.]*)", re.M)
    for m in decl.finditer(text):
        kind, name = m.groups()
        body_start = text.find("{", m.end())
        body_end = text.find("\n}", body_start) if kind != "codeset" else text.find("}", body_start)
        body = text[body_start + 1:body_end]
        if kind == "codeset":
            if name in sets:
                p.add(path, f"codeset {name} defined twice")
            items, system = [], None
            for word in body.split():
                if word in ("CPT", "HCPCS", "REV", "ICD10", "POS"):
                    system = word
                    continue
                lo, _, hi = word.partition("..")
                hi = hi or lo
                shape = ICD10 if system == "ICD10" else SHAPES.get(system)
                for c in (lo, hi):
                    c2 = c.rstrip("*").rstrip(".") if system == "ICD10" else c
                    if shape is None or not shape.match(c2):
                        p.add(path, f"codeset {name}: bad {system} literal {c}")
                if len(lo) != len(hi) or lo > hi:
                    p.add(path, f"codeset {name}: bad range {word}")
                items.append((system, lo, hi))
            sets[name] = items
        elif kind == "rule":
            if name in rules:
                p.add(path, f"rule {name} defined twice")
            for ref in re.findall(r"\b(?:any )?in\s+(\w+)", body):
                if ref not in sets:
                    p.add(path, f"rule {name}: set {ref} not defined before use")
            for ref in re.findall(r"\bcode in\s+(\w+)", body):
                rule_sets.add(ref)
            ex = re.search(r"^\s*exempt\s+(.*)$", body, re.M)
            if ex and ex.group(1).strip() != "all":
                for target in re.split(r"\s*,\s*", ex.group(1).strip()):
                    if target not in rules:
                        p.add(path, f"rule {name}: exempts {target}, not defined before")
            if len(re.findall(r"^\s*when\b", body, re.M)) != 1:
                p.add(path, f"rule {name}: not exactly one when")
            if len(re.findall(r"^\s*(require|exempt)\b", body, re.M)) != 1:
                p.add(path, f"rule {name}: not exactly one require/exempt")
            rules.append(name)
    return rules, sets, rule_sets


def service_codes(sets, names):
    codes = set()
    for name in names:
        for system, lo, hi in sets.get(name, []):
            if system != "ICD10":
                codes.update((system, c) for c in expand(lo, hi))
    return codes


def check_policy(path, nrules, ncodes, unmatched):
    p = Problems()
    rules, sets, rule_sets = parse_policy(path, p)
    if len(rules) != nrules:
        p.add(path, f"{len(rules)} rules, expected {nrules}")
    codes = service_codes(sets, rule_sets)
    if ncodes is not None and len(codes) != ncodes:
        p.add(path, f"{len(codes)} distinct service codes in rule sets, expected {ncodes}")
    if unmatched:
        for system, c in codes:
            dead_hcpcs = system == "HCPCS" and c[0] in "DFIMNORU"
            dead_cpt = system == "CPT" and len(c) == 5 and c[:4].isdigit() and c[4] in "FU"
            if not (dead_hcpcs or dead_cpt):
                p.add(path, f"--unmatched policy has live code {system} {c}")
                break
    return p.done(f"policy {path}: {len(rules)} rules, {len(codes)} codes, {len(sets)} sets")


def check_disjoint(policy, requests):
    p = Problems()
    _, sets, rule_sets = parse_policy(policy, p)
    codes = {c for _, c in service_codes(sets, rule_sets)}
    hits = 0
    with open(requests, "rb") as f:
        for n, raw in enumerate(f, 1):
            code = json.loads(raw).get("code")
            if code in codes:
                hits += 1
                p.add(f"{requests}:{n}", f"code {code} is in {policy}")
    return p.done(f"disjoint {policy} vs {requests}: {hits} request codes match")


def main(argv):
    if len(argv) >= 4 and argv[1] == "requests":
        payers = argv[4].split(",") if len(argv) > 4 else None
        return check_requests(argv[2], argv[3], payers)
    if len(argv) in (5, 6) and argv[1] == "policy":
        ncodes = None if argv[4] == "-" else int(argv[4])
        return check_policy(argv[2], int(argv[3]), ncodes, argv[5:] == ["--unmatched"])
    if len(argv) == 4 and argv[1] == "disjoint":
        return check_disjoint(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
