#!/usr/bin/python3
"""Asks the real Math-Verify about ONE (gold, pred) pair, in both presets.

    export MATH_VERIFY_SRC=... LATEX2SYMPY_SRC=...       # setup.sh prints these
    /usr/bin/python3 tests/reference/math-verify/ask.py --gold '\\frac{1}{2}' --pred 'so $\\boxed{0.5}$'
    /usr/bin/python3 tests/reference/math-verify/ask.py --gold-file g.txt --pred-file p.txt --json
    /usr/bin/python3 tests/reference/math-verify/ask.py --case tests/golden/verify/cases.jsonl:fraction-0012

Prints, per preset (math_verify = library defaults, open_r1 = open-r1's accuracy_reward), the parsed gold list,
the parsed prediction list and the verdict. Shell quoting: put LaTeX in single quotes.
"""
import argparse
import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mvenv  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    mvenv.add_source_args(ap)
    ap.add_argument("--gold")
    ap.add_argument("--pred")
    ap.add_argument("--gold-file")
    ap.add_argument("--pred-file")
    ap.add_argument("--case", help="FILE.jsonl:ID, a case from a case file")
    ap.add_argument("--preset", choices=["math_verify", "open_r1"], help="only this preset")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of text")
    args = ap.parse_args()

    gold, pred = args.gold, args.pred
    if args.gold_file:
        gold = open(args.gold_file, encoding="utf-8").read()
    if args.pred_file:
        pred = open(args.pred_file, encoding="utf-8").read()
    if args.case:
        path, _, cid = args.case.rpartition(":")
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        row = next((r for r in rows if r["id"] == cid), None)
        if row is None:
            sys.exit(f"no case {cid} in {path}")
        gold, pred = row["gold"], row["completion"]
    if gold is None or pred is None:
        ap.error("give --gold and --pred (or the -file forms, or --case)")

    mvenv.activate(args.math_verify, args.latex2sympy)
    logging.getLogger("latex2sympy2_extended").setLevel(logging.ERROR)
    out = {}
    for name, fn in mvenv.presets().items():
        if args.preset and name != args.preset:
            continue
        g, p, ok, extra = fn(gold, pred)
        out[name] = {"correct": ok, "gold": str(g), "pred": str(p), **extra}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return
    for name, r in out.items():
        print(f"[{name}] {'CORRECT' if r['correct'] else 'wrong'}")
        print(f"  gold parsed: {r['gold']}")
        print(f"  pred parsed: {r['pred']}")
        for k in ("gold_empty", "verify_error"):
            if k in r:
                print(f"  {k}: {r[k]}")


if __name__ == "__main__":
    main()
