#!/usr/bin/env python3
"""The Python peers of `r1 data dedup` and `r1 data decontaminate` for bench/dedup.sh, and the corpora.

  dedup-reference.py corpus DIR [--docs N] [--rows N]   generate DIR/dedup.jsonl (planted near-duplicates,
                                                         DIR/dedup-truth.json), DIR/train.jsonl and
                                                         DIR/bench-{a,b}.jsonl (planted 8- and 7-word overlaps)
  dedup-reference.py compare DIR OUT...                  per output of dedup: planted copies removed, others
  dedup-reference.py dedup IN OUT [--threshold T] [--num-perm K] [--ngram N]
  dedup-reference.py decontaminate IN OUT BENCH... [--ngram N]

dedup: plain-Python MinHash-LSH as datasketch + text-dedup run it (stdlib + NumPy): text NFKC-normalised and
lower-cased, words = runs of \\w, word 5-grams, SHA-1's first 4 bytes as the shingle hash (datasketch's
sha1_hash32), permutations ((a*x + b) mod (2^61-1)) & (2^32-1) on uint64 arrays (datasketch's
MinHash.update_batch, whose a*x wraps at 2^64 as datasketch's does), bands and rows by datasketch's
_optimal_param (its no-SciPy integration), buckets keyed by the band's bytes; then the same verification as
r1: in input order, each document against the earlier members of its buckets not yet in its cluster, exact
Jaccard of the shingle sets, union-find with the earliest document as the root, first document kept.

decontaminate: open-r1's scripts/decontaminate.py functions as written there (normalize_string, word_ngrams,
build_ngram_lookup, build_ngram_single), one pass over the rows per benchmark as its ds.map calls do, then
--cleanup's filter; rows are JSON lines read with json.loads.

Each command prints one line: "<seconds> <documents> <removed or contaminated>" (reading included, corpus
generation excluded). Only the standard library and NumPy.
"""
import argparse
import collections
import hashlib
import json
import random
import re
import struct
import sys
import time
import unicodedata

WORD = re.compile(r"\w+")


# ---- corpora ----------------------------------------------------------------------------------------------------
def vocabulary(rng, size=20000):
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(2, 10))))
    words = sorted(words)
    rng.shuffle(words)
    return words


def zipf_words(rng, vocab, count, _weights={}):
    # Zipf's law over the vocabulary (rank r drawn with weight 1/r), so common words repeat as in real text.
    if len(vocab) not in _weights:
        total, cum = 0.0, []
        for r in range(1, len(vocab) + 1):
            total += 1.0 / r
            cum.append(total)
        _weights[len(vocab)] = cum
    return rng.choices(vocab, cum_weights=_weights[len(vocab)], k=count)


def sentence_text(words, rng):
    out, i = [], 0
    while i < len(words):
        k = rng.randint(6, 18)
        s = " ".join(words[i:i + k])
        out.append(s[:1].upper() + s[1:] + rng.choice([".", ".", ",", "!", "?", ";"]))
        i += k
    return " ".join(out)


def mutate(words, rng, fraction):
    out = list(words)
    for _ in range(max(1, int(len(out) * fraction))):
        op, i = rng.random(), rng.randrange(len(out))
        if op < 0.4:
            out[i] = rng.choice(words)
        elif op < 0.7 and len(out) > 10:
            del out[i]
        else:
            out.insert(i, rng.choice(words))
    return out


def make_corpus(directory, docs, rows):
    rng = random.Random(1234)
    vocab = vocabulary(rng)
    # dedup corpus: 90 % originals, 10 % near-copies of an earlier original (0.5-3 % of the words edited).
    # DIR/dedup-truth.json: each copy's id -> [its original's id, their exact Jaccard (word 5-grams)].
    originals, texts, truth = [], {}, {}
    with open(f"{directory}/dedup.jsonl", "w") as f:
        for i in range(docs):
            if originals and rng.random() < 0.1:
                source, words = rng.choice(originals)
                words = mutate(words, rng, rng.uniform(0.005, 0.03))
            else:
                source, words = None, zipf_words(rng, vocab, rng.randint(120, 400))
                originals.append((i, words))
            texts[i] = sentence_text(words, rng)
            if source is not None:
                a, b = shingles(texts[i], 5), shingles(texts[source], 5)
                truth[i] = [source, len(a & b) / len(a | b)]
            f.write(json.dumps({"id": i, "text": texts[i]}) + "\n")
    with open(f"{directory}/dedup-truth.json", "w") as f:
        json.dump(truth, f)
    # decontamination: two benchmarks; 1 % of the training rows quote 8-12 words of a benchmark problem,
    # 1 % quote only 7 (not contamination at n = 8).
    benchmarks = []
    for name, count in (("a", 30), ("b", 500)):
        problems = [sentence_text(zipf_words(rng, vocab, rng.randint(30, 120)), rng) for _ in range(count)]
        with open(f"{directory}/bench-{name}.jsonl", "w") as f:
            for p in problems:
                f.write(json.dumps({"problem": p, "answer": "42"}) + "\n")
        benchmarks.append(problems)
    with open(f"{directory}/train.jsonl", "w") as f:
        for i in range(rows):
            words = zipf_words(rng, vocab, rng.randint(20, 150))
            r = rng.random()
            if r < 0.02:
                source = rng.choice(rng.choice(benchmarks)).split()
                k = rng.randint(8, 12) if r < 0.01 else 7
                start = rng.randrange(max(1, len(source) - k))
                at = rng.randrange(len(words))
                words[at:at] = ["|"] + source[start:start + k] + ["|"]
            f.write(json.dumps({"problem": sentence_text(words, rng), "solution": "x", "id": i}) + "\n")


# ---- MinHash-LSH (datasketch + text-dedup) ------------------------------------------------------------------------
MERSENNE = (1 << 61) - 1
MAX_HASH = (1 << 32) - 1


def _integration(f, a, b):  # datasketch's fallback when SciPy is missing
    p, area, x = 0.001, 0.0, a
    while x < b:
        area += f(x + 0.5 * p) * p
        x += p
    return area


def optimal_param(threshold, num_perm, fp_weight=0.5, fn_weight=0.5):  # datasketch's _optimal_param
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _integration(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)
            fn = _integration(lambda s: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)
            error = fp * fp_weight + fn * fn_weight
            if error < best:
                best, opt = error, (b, r)
    return opt


def shingles(text, n):
    words = WORD.findall(unicodedata.normalize("NFKC", text).lower())
    if not words:
        return set()
    if len(words) < n:
        return {" ".join(words).encode()}
    return {" ".join(words[i:i + n]).encode() for i in range(len(words) - n + 1)}


def dedup(args):
    import numpy as np
    start = time.perf_counter()
    gen = np.random.RandomState(seed=1)
    a = gen.randint(1, MERSENNE, size=args.num_perm, dtype=np.uint64)
    b = gen.randint(0, MERSENNE, size=args.num_perm, dtype=np.uint64)
    bands, rows = optimal_param(args.threshold, args.num_perm)
    tables = [collections.defaultdict(list) for _ in range(bands)]
    lines, sets, keys = [], [], []
    with open(args.input) as f:
        for line in f:
            if not line.strip():
                continue
            lines.append(line)
            s = shingles(json.loads(line)["text"], args.ngram)
            sets.append(s)
            if not s:
                keys.append(None)
                continue
            hv = np.array([struct.unpack("<I", hashlib.sha1(x).digest()[:4])[0] for x in s], dtype=np.uint64)
            phv = np.bitwise_and((np.outer(hv, a) + b) % np.uint64(MERSENNE), np.uint64(MAX_HASH))
            sig = phv.min(axis=0)
            doc_keys = [bytes(sig[k * rows:(k + 1) * rows].byteswap().data) for k in range(bands)]
            keys.append(doc_keys)
            for k, key in enumerate(doc_keys):
                tables[k][key].append(len(lines) - 1)
    parent = list(range(len(lines)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for j, doc_keys in enumerate(keys):
        if doc_keys is None:
            continue
        candidates = set()
        for k, key in enumerate(doc_keys):
            for i in tables[k][key]:
                if i >= j:
                    break
                candidates.add(i)
        for i in sorted(candidates):
            ri, rj = find(i), find(j)
            if ri == rj:
                continue
            inter = len(sets[i] & sets[j])
            if inter / (len(sets[i]) + len(sets[j]) - inter) >= args.threshold:
                parent[max(ri, rj)] = min(ri, rj)
    removed = 0
    with open(args.output, "w") as out:
        for d, line in enumerate(lines):
            if find(d) == d:
                out.write(line)
            else:
                removed += 1
    print(f"{time.perf_counter() - start:.3f} {len(lines)} {removed}")


# ---- open-r1 decontamination ----------------------------------------------------------------------------------------
def normalize_string(text: str) -> str:
    text = text.lower().strip()
    text = " ".join(text.split())
    return text


def word_ngrams(text: str, n: int) -> list:
    words = text.split()
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


def build_ngram_lookup(documents, ngram_size=8):
    lookup = collections.defaultdict(set)
    for doc_id, document in enumerate(documents):
        for ngram in word_ngrams(normalize_string(document), ngram_size):
            lookup[ngram].add(doc_id)
    return lookup


def build_ngram_single(document, ngram_size=8):
    return set(word_ngrams(normalize_string(document), ngram_size))


def decontaminate(args):
    start = time.perf_counter()
    lookups = {}
    for path in args.benchmarks:
        with open(path) as f:
            problems = [json.loads(line)["problem"] for line in f if line.strip()]
        lookups[path] = build_ngram_lookup(problems, args.ngram)
    with open(args.input) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for name, lookup in lookups.items():
        for row in rows:
            ngrams = build_ngram_single(row["problem"], args.ngram)
            row[f"contaminated_{name}"] = any(set(ngram in lookup for ngram in ngrams))
    columns = [f"contaminated_{name}" for name in lookups]
    kept = [row for row in rows if not any(row[c] for c in columns)]
    with open(args.output, "w") as out:
        for row in kept:
            for c in columns:
                del row[c]
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{time.perf_counter() - start:.3f} {len(rows)} {len(rows) - len(kept)}")


def compare(args):
    # For each dedup output: how many planted copies at Jaccard >= threshold it removed, how many of the
    # lower-Jaccard copies, and how many documents outside the planted copies (false removals).
    with open(f"{args.directory}/dedup-truth.json") as f:
        truth = {int(k): v for k, v in json.load(f).items()}
    with open(f"{args.directory}/dedup.jsonl") as f:
        all_ids = {json.loads(line)["id"] for line in f}
    above = {i for i, (_, j) in truth.items() if j >= args.threshold}
    for path in args.outputs:
        with open(path) as f:
            removed = all_ids - {json.loads(line)["id"] for line in f}
        print(f"{path}: removed {len(removed)}; planted copies at Jaccard >= {args.threshold}: "
              f"{len(removed & above)} of {len(above)}; below it: {len(removed & (set(truth) - above))} of "
              f"{len(truth) - len(above)}; other documents: {len(removed - set(truth))}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("directory")
    c.add_argument("--docs", type=int, default=20000)
    c.add_argument("--rows", type=int, default=100000)
    d = sub.add_parser("dedup")
    d.add_argument("input")
    d.add_argument("output")
    d.add_argument("--threshold", type=float, default=0.7)
    d.add_argument("--num-perm", type=int, default=128)
    d.add_argument("--ngram", type=int, default=5)
    m = sub.add_parser("compare")
    m.add_argument("directory")
    m.add_argument("outputs", nargs="+")
    m.add_argument("--threshold", type=float, default=0.7)
    t = sub.add_parser("decontaminate")
    t.add_argument("input")
    t.add_argument("output")
    t.add_argument("benchmarks", nargs="+")
    t.add_argument("--ngram", type=int, default=8)
    args = p.parse_args()
    if args.command == "corpus":
        make_corpus(args.directory, args.docs, args.rows)
    elif args.command == "dedup":
        dedup(args)
    elif args.command == "compare":
        compare(args)
    else:
        decontaminate(args)


if __name__ == "__main__":
    sys.exit(main())
