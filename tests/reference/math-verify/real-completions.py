#!/usr/bin/python3
"""Builds a case file of REAL model completions from public repositories that committed model outputs.

    /usr/bin/python3 tests/reference/math-verify/real-completions.py --out /work/mv-real/cases.jsonl \
        --grade-school-math DIR --tora DIR --qwen25-math DIR --zeroeval DIR [--cap 3000] [--seed 1]

Each DIR is a clone (or bare git directory) of, at the commits README.md names:
  --grade-school-math  github.com/openai/grade-school-math   grade_school_math/data/example_model_solutions.jsonl:
                       GPT-3 6B/175B solutions (finetuning and verification) of the GSM8K test set, each ending
                       "A: N"; gold = the GSM8K test answer ("... #### N") from data/test.jsonl (MIT)
  --tora               github.com/microsoft/ToRA   src/outputs/llm-agents/*/gsm8k/*.jsonl: ToRA-70B and
                       ToRA-Code-34B tool-integrated GSM8K outputs (code, ```output``` blocks, \\boxed);
                       gold = the "gt" number (MIT)
  --qwen25-math        github.com/QwenLM/Qwen2.5-Math   evaluation/data/eval_rm_maj_example/math_cot_100.jsonl:
                       several Qwen2.5-Math CoT samples for 100 MATH problems; gold = the MATH "solution" text
                       (Apache-2.0)
  --zeroeval           github.com/WildEval/ZeroEval   result_dirs/math-l5/*.json and result_dirs/gsm/*.json: ~40
                       models answering in a JSON format; gold = "$answer$" for MATH level 5 (ZeroEval stores
                       bare LaTeX; Math-Verify wants it in a math environment) and the number for GSM8K
                       (stored as "# N") (Apache-2.0)
Sources not given are skipped. At most --cap cases per source, sampled with --seed. The output is for
measurement only; it is not committed. Each line: {"id", "category" (= source), "source", "model", "gold",
"completion"}. Then: make-verdicts.py --cases OUT --out VERDICTS, and compare.py --cases OUT --verdicts VERDICTS.
"""
import argparse
import collections
import json
import os
import random
import re
import subprocess
import sys


class Repo:
    """A work tree or a bare git directory (as the fetch tool leaves them), read at HEAD."""

    def __init__(self, path):
        self.path = path
        self.bare = os.path.isfile(os.path.join(path, "HEAD")) and os.path.isdir(os.path.join(path, "objects"))

    def files(self, prefix):
        if self.bare:
            out = subprocess.run(["git", "--git-dir", self.path, "ls-tree", "-r", "--name-only", "HEAD", prefix],
                                 capture_output=True, text=True, check=True).stdout
            return sorted(out.split())
        root = os.path.join(self.path, prefix)
        return sorted(os.path.relpath(os.path.join(d, f), self.path) for d, _, fs in os.walk(root) for f in fs)

    def read(self, name):
        """The file's text, or None when it is absent (large files may be missing from a snapshot)."""
        if self.bare:
            r = subprocess.run(["git", "--git-dir", self.path, "show", f"HEAD:{name}"], capture_output=True)
            if r.returncode != 0:
                return None
            return r.stdout.decode("utf-8", "replace")
        try:
            with open(os.path.join(self.path, name), encoding="utf-8") as f:
                return f.read()
        except OSError:
            return None

    def commit(self):
        git = ["git", "--git-dir", self.path] if self.bare else ["git", "-C", self.path]
        r = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else "?"


def jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def grade_school_math(repo):
    test = jsonl(repo.read("grade_school_math/data/test.jsonl"))
    gold = {t["question"]: t["answer"] for t in test}
    rows = []
    for r in jsonl(repo.read("grade_school_math/data/example_model_solutions.jsonl")):
        for model in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
            if model in r and r["question"] in gold:
                rows.append({"model": f"gpt3-{model}", "gold": gold[r["question"]], "completion": r[model]["solution"]})
    return rows


def tora(repo):
    rows = []
    for name in repo.files("src/outputs"):
        if "/gsm8k/" not in name or not name.endswith(".jsonl"):
            continue
        text = repo.read(name)
        if text is None:
            print(f"  skip {name}: not in the snapshot", file=sys.stderr)
            continue
        model = name.split("/")[3]
        for r in jsonl(text):
            for c in r.get("code", [])[:1]:
                rows.append({"model": model, "gold": str(r["gt"]), "completion": c})
    return rows


def qwen25_math(repo):
    rows = []
    for r in jsonl(repo.read("evaluation/data/eval_rm_maj_example/math_cot_100.jsonl")):
        for c in r.get("code", []):
            rows.append({"model": "qwen2.5-math-cot", "gold": r["solution"], "completion": c})
    return rows


def zeroeval(repo, task):
    rows = []
    for name in repo.files(f"result_dirs/{task}"):
        if not name.endswith(".json"):
            continue
        text = repo.read(name)
        if text is None:
            continue
        model = os.path.basename(name)[:-5]
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            continue
        for r in data:
            out = r.get("output")
            if isinstance(out, list):
                out = out[0] if out else ""
            if not out:
                continue
            ans = str(r.get("answer", "")).strip()
            if task == "gsm":
                ans = re.sub(r"^#+\s*", "", ans)
            else:
                ans = f"${ans}$"
            rows.append({"model": model, "gold": ans, "completion": out})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--grade-school-math")
    ap.add_argument("--tora")
    ap.add_argument("--qwen25-math")
    ap.add_argument("--zeroeval")
    ap.add_argument("--cap", type=int, default=3000, help="at most this many cases per source")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    sources = []
    if args.grade_school_math:
        sources.append(("gsm8k_openai_gpt3", Repo(args.grade_school_math), grade_school_math))
    if args.tora:
        sources.append(("gsm8k_tora", Repo(args.tora), tora))
    if args.qwen25_math:
        sources.append(("math_qwen25_cot", Repo(args.qwen25_math), qwen25_math))
    if args.zeroeval:
        z = Repo(args.zeroeval)
        sources.append(("math_l5_zeroeval", z, lambda r: zeroeval(r, "math-l5")))
        sources.append(("gsm8k_zeroeval", z, lambda r: zeroeval(r, "gsm")))
    if not sources:
        ap.error("give at least one source")

    rng = random.Random(args.seed)
    cases, report = [], {}
    for source, repo, reader in sources:
        rows = reader(repo)
        total = len(rows)
        if len(rows) > args.cap:
            rows = rng.sample(rows, args.cap)
        models = collections.Counter(r["model"] for r in rows)
        report[source] = {"available": total, "kept": len(rows), "models": len(models), "commit": repo.commit()}
        for i, r in enumerate(rows):
            cases.append({"id": f"{source}-{i:05d}", "category": source, "source": source, **r})
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    with open(args.out + ".sources.json", "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))
    print(f"{len(cases)} cases -> {args.out}")


if __name__ == "__main__":
    main()
