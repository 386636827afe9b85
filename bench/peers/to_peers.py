#!/usr/bin/env python3
"""Turn pcrvm's decision lines into the peers' decision line (POLICY.md).

usage: to_peers.py REQUESTS.jsonl DECISIONS.jsonl > PEERS.jsonl

PCR's line says more in another shape; the peers' fields follow from it:
  decision            PCR's decision (prior_auth, notification or none)
  rules               PCR's rules (fired and not waived), sorted
  member_responsible  the advisory R41 fired
  due                 the earliest deadline among the obligations (the peers
                      take the earliest due date of any fired rule, whatever
                      its outcome; PCR keeps one per obligation)
  late                due is not null and the record's request_date is after
                      it (PCR computes `timely` from a `requested_at` field;
                      the peers' records call it request_date)
Standard library only; the two files are read in step, line by line.
"""
import json
import sys


def convert(req, dec):
    dues = [o["deadline"][:10] for o in dec.get("obligations", []) if o.get("deadline")]
    due = min(dues) if dues else None
    rules = sorted(dec.get("rules", []))
    return {
        "id": dec.get("id"),
        "decision": dec.get("decision"),
        "rules": rules,
        "member_responsible": "R41" in rules,
        "due": due,
        "late": due is not None and req.get("request_date", "") > due,
    }


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2])
    out = sys.stdout
    with open(sys.argv[1]) as rf, open(sys.argv[2]) as df:
        for rline, dline in zip(rf, df):
            out.write(json.dumps(convert(json.loads(rline), json.loads(dline)),
                                 separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
