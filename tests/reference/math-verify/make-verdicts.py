#!/usr/bin/python3
"""Runs the REAL Math-Verify on a case file and writes golden verdicts, one JSON line per case.

    export MATH_VERIFY_SRC=... LATEX2SYMPY_SRC=...       # setup.sh prints these
    /usr/bin/python3 tests/reference/math-verify/make-verdicts.py \
        --cases tests/golden/verify/cases.jsonl --out tests/golden/verify/verdicts.jsonl --jobs 2

Each line: {"id", "math_verify": {"correct", "gold", "pred"}, "open_r1": {"correct", "gold", "pred"[, "gold_empty"]
[, "verify_error"]]}}; gold / pred are str() of the parsed lists. Presets (mvenv.presets):
  math_verify  the library defaults, verify(parse(gold), parse(pred))
  open_r1      open-r1's accuracy_reward (src/open_r1/rewards.py): gold parsed with extraction_mode="first_match";
               when that is empty open-r1 gives reward None and skips the example: "gold_empty": true,
               "correct": false, and the completion is not parsed ("pred": "[]").
Math-Verify's own default timeouts are kept (parse 5 s, verify 5 s, signal.alarm): every case runs in the
main thread of a worker process (multiprocessing, --jobs), never in threads. A metadata file
(<out>.meta.json) records the versions, the command and the time it took.
"""
import argparse
import json
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mvenv  # noqa: E402

_PRESETS = None


def _init(mv_tree, l2s_tree):
    global _PRESETS
    mvenv.activate(mv_tree, l2s_tree)
    # open-r1's NormalizationConfig(equations=True) logs a deprecation warning on every parse; results unchanged.
    logging.getLogger("latex2sympy2_extended").setLevel(logging.ERROR)
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    _PRESETS = mvenv.presets()


def judge(case: dict) -> dict:
    row = {"id": case["id"]}
    for name, fn in _PRESETS.items():
        t = time.perf_counter()
        try:
            g, p, ok, extra = fn(case["gold"], case["completion"])
            res = {"correct": ok, "gold": str(g), "pred": str(p), **extra}
        except Exception as e:  # the library catches its own errors; anything here is recorded, not hidden
            res = {"correct": False, "gold": "", "pred": "", "error": f"{type(e).__name__}: {e}"}
        res["seconds"] = round(time.perf_counter() - t, 4)
        row[name] = res
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mvenv.add_source_args(ap)
    ap.add_argument("--cases", required=True, help="JSONL with id, gold, completion")
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (each runs cases in its main thread)")
    ap.add_argument("--seconds", action="store_true", help="keep per-case timings (off: golden files stay stable)")
    args = ap.parse_args()

    with open(args.cases, encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    versions = mvenv.activate(args.math_verify, args.latex2sympy)
    t0 = time.time()
    if args.jobs > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(args.jobs, initializer=_init,
                                          initargs=(args.math_verify, args.latex2sympy), maxtasksperchild=500) as pool:
            rows = list(pool.imap(judge, cases, chunksize=8))
    else:
        _init(args.math_verify, args.latex2sympy)
        rows = []
        for i, c in enumerate(cases):
            rows.append(judge(c))
            if (i + 1) % 500 == 0:
                print(f"  {i + 1}/{len(cases)} ({time.time() - t0:.0f} s)", file=sys.stderr)
    elapsed = time.time() - t0

    with open(args.out, "w", encoding="utf-8") as f:
        for r in rows:
            if not args.seconds:
                for name in _preset_names(r):
                    r[name].pop("seconds", None)
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    summary = {}
    for name in ("math_verify", "open_r1"):
        n_true = sum(1 for r in rows if r[name]["correct"])
        summary[name] = {"true": n_true, "total": len(rows), "pct_true": round(100 * n_true / max(1, len(rows)), 2),
                         "gold_empty": sum(1 for r in rows if r[name].get("gold_empty")),
                         "errors": sum(1 for r in rows if "error" in r[name] or "verify_error" in r[name])}
    meta = {"versions": versions, "cases": args.cases, "count": len(rows), "jobs": args.jobs,
            "seconds": round(elapsed, 1), "summary": summary,
            "command": "/usr/bin/python3 " + " ".join(sys.argv)}
    with open(args.out + ".meta.json", "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(json.dumps(meta, indent=1))


def _preset_names(row):
    return [k for k in row if k != "id"]


if __name__ == "__main__":
    main()
