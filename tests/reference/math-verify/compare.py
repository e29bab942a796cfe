#!/usr/bin/python3
"""Agreement of `r1 verify` with the golden Math-Verify verdicts, per category and overall.

    tests/reference/math-verify/compare.py --r1 build/r1 --preset math-verify
    tests/reference/math-verify/compare.py --r1 build/r1 --preset open-r1 --r1-preset open-r1
    tests/reference/math-verify/compare.py --r1 build/r1 --preset open-r1 -- --timeout 10   # extra r1 args

Runs `r1 verify --input CASES --gold-column gold --pred-column completion --out TMP [--preset P] [extra...]`
and compares each row: agreement means r1's verdict is "correct" exactly when Math-Verify said True. Only the
standard library is needed (no Math-Verify: the verdicts file already holds its answers).
  --preset        which golden preset to compare with: math-verify (library defaults) or open-r1
  --r1-preset     also pass `--preset NAME` to r1 (a flag r1 may not have yet); anything after `--` goes to r1
  --by            group by category (default), style, gold_format or intent; several: --by category,style
  --r1-out        compare an existing r1 output file instead of running r1
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
GOLDEN = os.path.join(ROOT, "tests", "golden", "verify")


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def short(s, n):
    s = str(s).replace("\n", "\\n")
    return s if len(s) <= n else s[: n - 3] + "..."


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--r1", help="path to the r1 binary")
    ap.add_argument("--preset", required=True, choices=["math-verify", "open-r1", "math_verify", "open_r1"])
    ap.add_argument("--r1-preset", help="pass --preset NAME to r1 verify")
    ap.add_argument("--cases", default=os.path.join(GOLDEN, "cases.jsonl"))
    ap.add_argument("--verdicts", default=os.path.join(GOLDEN, "verdicts.jsonl"))
    ap.add_argument("--r1-out", help="an existing r1 verify --out file (skips running r1)")
    ap.add_argument("--keep", help="keep r1's output here")
    ap.add_argument("--by", default="category")
    ap.add_argument("--show", type=int, default=30, help="disagreeing ids to list (0: none)")
    ap.add_argument("--width", type=int, default=60, help="characters of each answer shown")
    ap.add_argument("--json", help="write the per-group numbers and all disagreeing ids here")
    args = ap.parse_args(argv)
    key = args.preset.replace("-", "_")

    cases = load_jsonl(args.cases)
    verdicts = {v["id"]: v for v in load_jsonl(args.verdicts)}
    missing = [c["id"] for c in cases if c["id"] not in verdicts]
    if missing:
        sys.exit(f"{len(missing)} cases have no verdict (first: {missing[0]}): regenerate {args.verdicts}")

    if args.r1_out:
        out_path = args.r1_out
    else:
        if not args.r1:
            ap.error("give --r1 (or --r1-out)")
        out_path = args.keep or tempfile.mktemp(prefix="r1-verify-", suffix=".jsonl")
        # r1 reads only the gold and completion columns; the case file is passed as it is
        cmd = [args.r1, "verify", "--input", args.cases, "--gold-column", "gold", "--pred-column", "completion",
               "--out", out_path, "--overwrite"]
        if args.r1_preset:
            cmd += ["--preset", args.r1_preset]
        cmd += extra
        print("$ " + " ".join(cmd), file=sys.stderr)
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sys.stderr.write(res.stdout[-2000:])
        if res.returncode not in (0, 1):  # r1 verify's batch mode exits non-zero only on errors
            sys.exit(f"r1 verify failed (exit {res.returncode})")
    r1rows = load_jsonl(out_path)
    if not args.keep and not args.r1_out:
        os.unlink(out_path)
    by_row = {r["row"]: r for r in r1rows}
    if len(by_row) != len(cases):
        sys.exit(f"r1 wrote {len(by_row)} rows for {len(cases)} cases")

    groups = [g.strip() for g in args.by.split(",") if g.strip()]
    stats = {g: collections.defaultdict(lambda: collections.Counter()) for g in groups}
    total = collections.Counter()
    disagreements = []
    for i, c in enumerate(cases):
        mv = verdicts[c["id"]][key]
        r = by_row[i]
        r1_ok = r["verdict"] == "correct"
        agree = r1_ok == bool(mv["correct"])
        kind = "agree" if agree else ("r1_only" if r1_ok else "mv_only")  # r1_only: r1 correct, Math-Verify not
        for g in groups:
            stats[g][c.get(g, "?")][kind] += 1
        total[kind] += 1
        if not agree:
            disagreements.append({"id": c["id"], "category": c.get("category"), "style": c.get("style"),
                                  "gold_format": c.get("gold_format"), "math_verify": mv["correct"],
                                  "mv_gold": mv["gold"], "mv_pred": mv["pred"], "r1_verdict": r["verdict"],
                                  "r1_gold": r.get("gold"), "r1_answer": r.get("answer")})

    def line(name, cnt):
        n = sum(cnt.values())
        return (f"{name:<22} {n:>5} {100 * cnt['agree'] / max(1, n):>7.1f}%  "
                f"{cnt['r1_only']:>7} {cnt['mv_only']:>7}")

    print(f"r1 vs Math-Verify preset {key} ({args.verdicts})")
    print("r1_only: r1 correct, Math-Verify false; mv_only: Math-Verify true, r1 not correct")
    for g in groups:
        print(f"\n{g:<22} {'n':>5} {'agree':>8}  {'r1_only':>7} {'mv_only':>7}")
        for name in sorted(stats[g]):
            print(line(name, stats[g][name]))
    print("\n" + line("OVERALL", total))
    if args.show and disagreements:
        print(f"\nfirst {min(args.show, len(disagreements))} of {len(disagreements)} disagreements:")
        w = args.width
        for d in disagreements[: args.show]:
            tags = ", ".join(x for x in (d["style"], d["gold_format"] and "gold " + d["gold_format"]) if x)
            print(f"- {d['id']}{' [' + tags + ']' if tags else ''} Math-Verify {d['math_verify']}, "
                  f"r1 {d['r1_verdict']}")
            print(f"    MV gold {short(d['mv_gold'], w)} | MV pred {short(d['mv_pred'], w)}")
            print(f"    r1 gold {short(d['r1_gold'], w)} | r1 answer {short(d['r1_answer'], w)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"preset": key, "overall": dict(total),
                       "groups": {g: {k: dict(v) for k, v in stats[g].items()} for g in groups},
                       "disagreements": disagreements}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
