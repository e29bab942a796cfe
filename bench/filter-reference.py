#!/usr/bin/env python3
"""The Python peer of `r1 data filter` for bench/filter.sh, its corpus, and the comparison of their outputs.

  filter-reference.py corpus FILE [--mb MB] [--seed S] [--kinds good,tricky,...]
                                                         a seeded JSONL corpus ({"id", "kind", "text"} rows):
                                                         good prose, documents each rule should drop, and
                                                         "tricky" ones (edge cases of the measures)
  filter-reference.py filter IN OUT REASONS [--filters gopher-repetition,gopher-quality,c4,fineweb]
                                                         keep the documents that pass; REASONS gets one JSON
                                                         object per dropped document: {"line", "rule"}
  filter-reference.py compare CORPUS R1_KEPT R1_EXPLAIN PY_KEPT PY_REASONS
                                                         agreement of the two sides, per document

filter: datatrove's GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter and FineWebQualityFilter
(src/datatrove/pipeline/filters/{gopher_repetition,gopher_quality,c4,fineweb_quality}_filter.py) in that order,
with their default parameters (the defaults r1 uses), their reason names, and their code's measures: Python's
splitlines / strip / lower / isalpha, re.split on "\\n{2,}" and "\\n+", Counter's most common " ".join n-gram,
find_all_duplicate's "".join n-grams, C4's citation regex and END_PUNCTUATION. The language filter is not run
(datatrove's is fastText, r1's CLD2; bench/filter.sh turns r1's off). Where datatrove calls a tokenizer, this
follows r1 (src/data/quality-filter.cpp, its "Departures"), so both sides measure the same words:
  * words (datatrove: NLTK's Treebank tokenizer): runs of non-space characters, punctuation and symbols (Unicode
    P*, S*, Cc and the terminals below) split off both ends one character at a time, a run of dots kept whole;
    every Han, Hiragana or Katakana character a word of its own;
  * non-symbol words (datatrove: its PUNCTUATION_SET): words with a character outside that symbol set;
  * sentences, for C4's count (datatrove: NLTK punkt): a sentence ends at a run of sentence terminals followed
    by optional closing quotes / brackets and then white space or the end, or after a full-width 。！？．;
  * "\\r\\n" counts as one line break (r1 replaces it before measuring).
The terminals (FineWeb's stop_chars, datatrove's TERMINAL_PUNCTUATION) are Unicode 15's Sentence_Terminal plus
five Khmer signs: the 159 characters of datatrove's set (compared character by character), listed below as ranges;
the other classes come from Python's unicodedata (Unicode 14 in Python 3.11; r1's ICU 72 is Unicode 15, so a
character new in 15 could differ; the corpus has none). Words are one compiled regex over the text, cheaper than
NLTK's tokenizer, so this is a faster Python than datatrove itself. Only the standard library.

filter prints "<seconds> <documents> <kept>" (reading and writing included), then its drops by rule and C4's removed
lines by reason. compare prints the agreement, the drops by rule on each side, the kept documents per corpus kind
and the first disagreements, and exits 1 when there is one.
"""
import argparse
import collections
import json
import random
import re
import sys
import time
import unicodedata


# ---- characters -------------------------------------------------------------------------------------------------
def ranges_class(ranges):
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


# Unicode 15.0 Sentence_Terminal (PropList.txt) + Khmer U+17D4-17D6, U+17D9, U+17DA.
TERMINAL_RANGES = [
    (0x21, 0x21), (0x2E, 0x2E), (0x3F, 0x3F), (0x589, 0x589), (0x61D, 0x61F), (0x6D4, 0x6D4), (0x700, 0x702),
    (0x7F9, 0x7F9), (0x837, 0x837), (0x839, 0x839), (0x83D, 0x83E), (0x964, 0x965), (0x104A, 0x104B),
    (0x1362, 0x1362), (0x1367, 0x1368), (0x166E, 0x166E), (0x1735, 0x1736), (0x17D4, 0x17D6), (0x17D9, 0x17DA),
    (0x1803, 0x1803), (0x1809, 0x1809), (0x1944, 0x1945), (0x1AA8, 0x1AAB), (0x1B5A, 0x1B5B), (0x1B5E, 0x1B5F),
    (0x1B7D, 0x1B7E), (0x1C3B, 0x1C3C), (0x1C7E, 0x1C7F), (0x203C, 0x203D), (0x2047, 0x2049), (0x2E2E, 0x2E2E),
    (0x2E3C, 0x2E3C), (0x2E53, 0x2E54), (0x3002, 0x3002), (0xA4FF, 0xA4FF), (0xA60E, 0xA60F), (0xA6F3, 0xA6F3),
    (0xA6F7, 0xA6F7), (0xA876, 0xA877), (0xA8CE, 0xA8CF), (0xA92F, 0xA92F), (0xA9C8, 0xA9C9), (0xAA5D, 0xAA5F),
    (0xAAF0, 0xAAF1), (0xABEB, 0xABEB), (0xFE52, 0xFE52), (0xFE56, 0xFE57), (0xFF01, 0xFF01), (0xFF0E, 0xFF0E),
    (0xFF1F, 0xFF1F), (0xFF61, 0xFF61), (0x10A56, 0x10A57), (0x10F55, 0x10F59), (0x10F86, 0x10F89),
    (0x11047, 0x11048), (0x110BE, 0x110C1), (0x11141, 0x11143), (0x111C5, 0x111C6), (0x111CD, 0x111CD),
    (0x111DE, 0x111DF), (0x11238, 0x11239), (0x1123B, 0x1123C), (0x112A9, 0x112A9), (0x1144B, 0x1144C),
    (0x115C2, 0x115C3), (0x115C9, 0x115D7), (0x11641, 0x11642), (0x1173C, 0x1173E), (0x11944, 0x11944),
    (0x11946, 0x11946), (0x11A42, 0x11A43), (0x11A9B, 0x11A9C), (0x11C41, 0x11C42), (0x11EF7, 0x11EF8),
    (0x11F43, 0x11F44), (0x16A6E, 0x16A6F), (0x16AF5, 0x16AF5), (0x16B37, 0x16B38), (0x16B44, 0x16B44),
    (0x16E98, 0x16E98), (0x1BC9F, 0x1BC9F), (0x1DA88, 0x1DA88),
]
# Characters of the Han, Hiragana and Katakana scripts (Unicode 15.0 Scripts.txt), from U+2E80 up.
CJK_RANGES = [
    (0x2E80, 0x2E99), (0x2E9B, 0x2EF3), (0x2F00, 0x2FD5), (0x3005, 0x3005), (0x3007, 0x3007), (0x3021, 0x3029),
    (0x3038, 0x303B), (0x3041, 0x3096), (0x309D, 0x309F), (0x30A1, 0x30FA), (0x30FD, 0x30FF), (0x31F0, 0x31FF),
    (0x32D0, 0x32FE), (0x3300, 0x3357), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFA6D), (0xFA70, 0xFAD9),
    (0xFF66, 0xFF6F), (0xFF71, 0xFF9D), (0x16FE2, 0x16FE3), (0x16FF0, 0x16FF1), (0x1AFF0, 0x1AFF3),
    (0x1AFF5, 0x1AFFB), (0x1AFFD, 0x1AFFE), (0x1B000, 0x1B122), (0x1B132, 0x1B132), (0x1B150, 0x1B152),
    (0x1B155, 0x1B155), (0x1B164, 0x1B167), (0x1F200, 0x1F200), (0x20000, 0x2A6DF), (0x2A700, 0x2B739),
    (0x2B740, 0x2B81D), (0x2B820, 0x2CEA1), (0x2CEB0, 0x2EBE0), (0x2F800, 0x2FA1D), (0x30000, 0x3134A),
    (0x31350, 0x323AF),
]
TERMINALS = tuple(chr(c) for a, b in TERMINAL_RANGES for c in range(a, b + 1))


def category_ranges(wanted):  # white space left out: it separates words before symbols are split off
    out, start = [], None
    for c in range(0x110000):
        if unicodedata.category(chr(c)) in wanted and not chr(c).isspace():
            if start is None:
                start = c
        elif start is not None:
            out.append((start, c - 1))
            start = None
    if start is not None:
        out.append((start, 0x10FFFF))
    return out


_CLASSES = {}


def classes():
    # The symbol class (P*, S*, Cc and the terminals) and the letter class (L*: str.isalpha), from unicodedata.
    if not _CLASSES:
        symbols = category_ranges({"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Cc"})
        sym = ranges_class(symbols) + ranges_class(TERMINAL_RANGES)
        cjk = ranges_class(CJK_RANGES)
        _CLASSES["word"] = re.compile(rf"\.+|[{sym}]|[{cjk}]|[^\s{sym}{cjk}](?:[^\s{cjk}]*[^\s{sym}{cjk}])?")
        _CLASSES["non_symbol"] = re.compile(rf"[^{sym}]")
        _CLASSES["alpha"] = re.compile(rf"[{ranges_class(category_ranges({'Lu', 'Ll', 'Lt', 'Lm', 'Lo'}))}]")
        closers = "\"')\\]\u201d\u2019\u300d\u300f\uff09\u00bb"  # what may follow a sentence's terminals
        _CLASSES["terminal_run"] = re.compile(rf"[{ranges_class(TERMINAL_RANGES)}]+[{closers}]*")
    return _CLASSES


def words_of(text):
    return classes()["word"].findall(text)


FULL_WIDTH = "\u3002\uff01\uff1f\uff0e"


def count_sentences(text):
    n, start = 0, 0
    for m in classes()["terminal_run"].finditer(text):
        i, j = m.start(), m.end()
        if j == len(text) or text[j].isspace() or text[j - 1] in FULL_WIDTH or text[i] in FULL_WIDTH:
            n += bool(text[start:j].strip())
            start = j
    return n + bool(text[start:].strip())


# ---- the filters (datatrove's code, defaults and reason names) ----------------------------------------------------
def find_duplicates(items):
    seen, elements, chars = set(), 0, 0
    for x in items:
        if x in seen:
            elements += 1
            chars += len(x)
        else:
            seen.add(x)
    return elements, chars


def find_all_duplicate(words, n):
    seen, repeated, i = set(), 0, 0
    while i < len(words) - n + 1:
        gram = "".join(words[i:i + n])
        if gram in seen:
            repeated += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated


PARAGRAPH = re.compile(r"\n{2,}")
LINES = re.compile(r"\n+")
TOP_N_GRAMS = ((2, 0.2), (3, 0.18), (4, 0.16))
DUP_N_GRAMS = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))


def gopher_repetition(text, words):
    paragraphs = PARAGRAPH.split(text.strip())
    elements, chars = find_duplicates(paragraphs)
    if elements / len(paragraphs) > 0.3:
        return "dup_para_frac"
    if chars / len(text) > 0.2:
        return "dup_para_char_frac"
    lines = LINES.split(text)
    elements, chars = find_duplicates(lines)
    if elements / len(lines) > 0.3:
        return "dup_line_frac"
    if chars / len(text) > 0.2:
        return "dup_line_char_frac"
    for n, frac in TOP_N_GRAMS:
        grams = [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
        if not grams:
            continue
        gram, count = collections.Counter(grams).most_common(1)[0]
        if len(gram) * count / len(text) > frac:
            return f"top_{n}_gram"
    for n, frac in DUP_N_GRAMS:
        if find_all_duplicate(words, n) / len(text) > frac:
            return f"duplicated_{n}_n_grams"
    return None


STOP_WORDS = {"the", "be", "to", "of", "and", "that", "have", "with"}


def gopher_quality(text, words):
    c = classes()
    non_symbol = [w for w in words if c["non_symbol"].search(w)]
    if len(non_symbol) < 50:
        return "gopher_short_doc"
    if len(non_symbol) > 100000:
        return "gopher_long_doc"
    mean = sum(len(w) for w in non_symbol) / len(non_symbol)
    if mean < 3:
        return "gopher_below_avg_threshold"
    if mean > 10:
        return "gopher_above_avg_threshold"
    if text.count("#") / len(words) > 0.1:
        return "gopher_too_many_hashes"
    if (text.count("...") + text.count("\u2026")) / len(words) > 0.1:
        return "gopher_too_many_ellipsis"
    lines = text.splitlines()
    if sum(s.lstrip().startswith(("\u2022", "-")) for s in lines) / len(lines) > 0.9:
        return "gopher_too_many_bullets"
    if sum(s.rstrip().endswith(("...", "\u2026")) for s in lines) / len(lines) > 0.3:
        return "gopher_too_many_end_ellipsis"
    if sum(1 for w in words if c["alpha"].search(w)) / len(words) < 0.8:
        return "gopher_below_alpha_threshold"
    if len(STOP_WORDS.intersection(words)) < 2:
        return "gopher_enough_stop_words"
    return None


CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


def c4_quality(text, line_stats):
    """(reason, None) or (None, the kept text)."""
    sentences, kept = 0, []
    for line in text.splitlines():
        line = line.strip()
        words = line.split()
        if any(len(w) > 1000 for w in words):
            line_stats["too_long_word"] += 1
            continue
        line = CITATION.sub("", line)
        if not line.endswith(END_PUNCTUATION) or line.endswith("..."):
            line_stats["no_terminal_punct"] += 1
            continue
        if len(words) < 3:
            line_stats["too_few_words"] += 1
            continue
        lower = line.lower()
        if "lorem ipsum" in lower:
            return "lorem_ipsum", None
        if "javascript" in lower:
            line_stats["javascript"] += 1
            continue
        if "{" in line:
            return "curly_bracket", None
        if any(p in lower for p in POLICY):
            line_stats["policy"] += 1
            continue
        sentences += count_sentences(line)
        kept.append(line)
    if sentences < 5:
        return "too_few_sentences", None
    return None, "\n".join(kept).strip()


def fineweb_quality(text):
    lines = [line for line in text.split("\n") if line.strip() != ""]
    if not lines:
        return "empty"
    ratio = sum(1 for line in lines if line.endswith(TERMINALS)) / len(lines)
    if ratio < 0.12:
        return "line_punct_ratio"
    if sum(1 for line in lines if len(line) <= 30) / len(lines) > 0.67:
        return "short_line_ratio"
    if find_duplicates(lines)[1] / len(text.replace("\n", "")) > 0.01:
        return "char_dup_ratio"
    if text.count("\n") / len(words_of(text)) > 0.3:
        return "list_ratio"
    return None


FILTERS = ("gopher-repetition", "gopher-quality", "c4", "fineweb")  # r1's --filters names, in their order


def filter_document(text, line_stats, filters=FILTERS):
    """(reason, None) or (None, the kept text); "\r\n" is measured as "\n" (r1's choice) and comes back so."""
    if "gopher-repetition" in filters or "gopher-quality" in filters:
        words = words_of(text)
        reason = ("gopher-repetition" in filters and gopher_repetition(text, words)) or \
            ("gopher-quality" in filters and gopher_quality(text, words))
        if reason:
            return reason, None
    if "c4" in filters:
        reason, text = c4_quality(text, line_stats)
        if reason:
            return reason, None
    if "fineweb" in filters:
        reason = fineweb_quality(text)
        if reason:
            return reason, None
    if not text.strip():
        return "empty", None
    return None, text


def run_filter(args):
    start = time.time()
    docs = kept = 0
    line_stats, dropped = collections.Counter(), collections.Counter()
    with open(args.input, encoding="utf-8") as f, open(args.output, "w", encoding="utf-8") as out, \
            open(args.reasons, "w", encoding="utf-8") as why:
        for number, raw in enumerate(f, 1):
            raw = raw.rstrip("\n")
            if not raw.strip():
                continue
            row = json.loads(raw)
            text = row["text"]
            if not text.strip():  # r1 counts blank documents apart, filtering none of them
                continue
            docs += 1
            text = text.replace("\r\n", "\n")
            reason, new_text = filter_document(text, line_stats, args.filters)
            if reason:
                dropped[reason] += 1
                why.write(json.dumps({"line": number, "rule": reason}) + "\n")
                continue
            kept += 1
            if new_text == text:
                out.write(raw + "\n")
            else:
                row["text"] = new_text
                out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{time.time() - start:.3f} {docs} {kept}")
    print("dropped: " + ", ".join(f"{r} {n}" for r, n in dropped.most_common()))
    print("c4 lines removed: " + ", ".join(f"{r} {n}" for r, n in sorted(line_stats.items())))


# ---- the corpus ---------------------------------------------------------------------------------------------------
FUNCTION_WORDS = ("the the the the of of of and and and to to a a in in is that that for it with with as was on "
                  "be be by this are from at or have have not an which but their they were has been its more "
                  "would can all some other these than into only when we also").split()
SYLLABLES = ("ba be bi bo bu ca ce co da de di do fa fe fi ga ge go ha he hi ho ka ke ki ko la le li lo lu ma me mi "
             "mo mu na ne ni no nu pa pe pi po ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo wa we "
             "ya yo za ze str tra pla con der men tion ing ent").split()
ODDITIES = ["e.g.", "i.e.", "don't", "it's", "U.S.", "3.14", "1999", "42", "$20", "50%", "well-known", "co-op",
            "café", "naïve", "Zürich", "“quoted”", "(aside)", "—", "…", "&", "x86", "C++", "#1",
            "no\u00a0break", "tab\there", "日本語", "中文", "•", "...", "--", "'single'", "[edit]", "(1)", "A.B.C", "!!"]


class Writer:
    def __init__(self, rng):
        self.rng = rng
        words = set()
        while len(words) < 5000:
            words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.choice((1, 2, 2, 2, 3, 3, 4)))))
        self.vocab = sorted(words)
        rng.shuffle(self.vocab)
        total, self.cum = 0.0, []
        for r in range(1, len(self.vocab) + 1):
            total += 1.0 / r
            self.cum.append(total)

    def words(self, k, stop=True, extra=()):
        rng = self.rng
        out = rng.choices(self.vocab, cum_weights=self.cum, k=k)
        for i in range(k):
            r = rng.random()
            if stop and r < 0.35:
                out[i] = rng.choice(FUNCTION_WORDS)
            elif r > 0.985:
                out[i] = rng.choice(ODDITIES)
            elif extra and r > 0.96:
                out[i] = rng.choice(extra)
        return out

    def sentence(self, lo=6, hi=20, stop=True, end=None, extra=()):
        rng = self.rng
        w = self.words(rng.randint(lo, hi), stop, extra)
        if len(w) > 6 and rng.random() < 0.4:
            w[rng.randrange(1, len(w) - 1)] += ","
        s = " ".join(w)
        s = s[:1].upper() + s[1:]
        if end is None:
            end = rng.choice([".", ".", ".", ".", "!", "?", ".\"", ".'", ".)"])
        s += end
        r = rng.random()
        if r < 0.03:
            s += rng.choice(["[1]", "[12]", "[]", "[citation needed]", "[\uff11\uff12]", "[\u0663]"])
        return s

    def line(self, n_sentences, **kw):
        return " ".join(self.sentence(**kw) for _ in range(n_sentences))

    def prose(self, paragraphs, sep=None, **kw):
        rng = self.rng
        parts = [self.line(rng.randint(2, 6), **kw) for _ in range(paragraphs)]
        if sep is None:
            sep = rng.choice(["\n", "\n\n"])
        return sep.join(parts)

    def heading(self):
        return " ".join(w.capitalize() for w in self.words(self.rng.randint(1, 4), stop=False))


def make_document(wr, kind):
    rng = wr.rng
    if kind == "good":
        text = wr.prose(rng.randint(2, 8))
        if rng.random() < 0.3:
            text = wr.heading() + "\n" + text
        if rng.random() < 0.1:
            text += "\n" + rng.choice(["Share this:", "Posted in " + wr.heading(), "Tags: " + wr.heading(),
                                       "Read more...", "Copyright 2024 " + wr.heading()])
        r = rng.random()
        if r < 0.03:  # Windows line breaks
            text = text.replace("\n", "\r\n")
        elif r < 0.05:  # other line boundaries of str.splitlines (not "\n" for FineWeb's and Gopher's splits)
            text = text.replace("\n", rng.choice(["\u2028", "\x0b", "\x85", "\n\u2029"]), 1)
        return text
    if kind == "short":
        return wr.line(rng.randint(1, 3), lo=4, hi=12)
    if kind == "hashes":  # hashtags on 4-20 % of the words
        rate = rng.uniform(0.04, 0.2)
        return " ".join("#" + w if rng.random() < rate else w for w in wr.prose(rng.randint(2, 5)).split(" "))
    if kind == "ellipsis":
        if rng.random() < 0.5:
            return "\n".join(wr.sentence(4, 12, end=rng.choice(["...", "\u2026"])) for _ in range(rng.randint(8, 30)))
        lines = [wr.line(rng.randint(1, 3)) + rng.choice(["...", " \u2026", " ..."]) for _ in range(rng.randint(5, 15))]
        return "\n".join(lines + [wr.line(3) for _ in range(rng.randint(2, 8))])
    if kind == "bullets":
        marks = rng.choice(["- ", "\u2022 ", "  - ", "-"])
        lines = [marks + wr.sentence(3, 14, end=rng.choice([".", "", ";"])) for _ in range(rng.randint(10, 40))]
        if rng.random() < 0.5:
            lines.insert(0, wr.sentence())
        return "\n".join(lines)
    if kind == "dup_lines":
        boiler = [wr.sentence(3, 10) for _ in range(rng.randint(1, 3))]
        lines = [wr.line(rng.randint(1, 4)) for _ in range(rng.randint(4, 12))]
        for _ in range(rng.randint(2, 10)):
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(boiler))
        return "\n".join(lines)
    if kind == "dup_paragraphs":
        paras = [wr.line(rng.randint(2, 5)) for _ in range(rng.randint(2, 5))]
        out = list(paras) + [rng.choice(paras) for _ in range(rng.randint(1, 4))]
        rng.shuffle(out)
        return "\n\n".join(out)
    if kind == "ngrams":
        phrase = " ".join(wr.words(rng.randint(2, 7)))
        sentences = [wr.sentence() for _ in range(rng.randint(10, 30))]
        for _ in range(rng.randint(3, 25)):
            i = rng.randrange(len(sentences))
            sentences[i] = sentences[i][:-1] + " " + phrase + "."
        return " ".join(sentences)
    if kind == "no_stop_words":
        return wr.prose(rng.randint(2, 6), stop=False)
    if kind == "numbers":
        rows = [" ".join(str(rng.randint(0, 9999)) for _ in range(rng.randint(4, 10))) + "." for _ in range(20)]
        return wr.line(2) + "\n" + "\n".join(rows) + "\n" + wr.line(2)
    if kind == "long_words":  # 20-60 % of the words glued to the next one
        rate = rng.uniform(0.2, 0.6)
        return "".join(w + ("" if rng.random() < rate else " ") for w in wr.prose(rng.randint(2, 5)).split(" ")).strip()
    if kind == "tiny_words":
        tiny = "a i o u x y ab ok no so go do be is it at".split()
        lines = [" ".join(rng.choice(tiny) for _ in range(rng.randint(8, 20))) + " the and of." for _ in range(8)]
        return "\n".join(lines)
    if kind == "navigation":
        menu = [wr.heading() for _ in range(rng.randint(5, 25))]
        body = [wr.line(1) for _ in range(rng.randint(1, 4))]
        return "\n".join(menu[:len(menu) // 2] + body + menu[len(menu) // 2:])
    if kind == "javascript":
        lines = wr.prose(rng.randint(2, 6), sep="\n").split("\n")
        for _ in range(rng.randint(1, 3)):
            lines.insert(rng.randrange(len(lines) + 1), rng.choice([
                "Please enable JavaScript to view the comments powered by Disqus.",
                "You need to enable javascript to run this app.",
                "This page works best with JavaScript turned on in your browser!"]))
        return "\n".join(lines)
    if kind == "policy":
        lines = wr.prose(rng.randint(2, 6), sep="\n").split("\n")
        lines.append(rng.choice(["This website uses cookies to improve your experience.",
                                 "By continuing you agree to our Terms of Use and Privacy Policy.",
                                 "Read our cookie policy for the details."]))
        return "\n".join(lines)
    if kind == "lorem":
        return wr.prose(2, sep="\n") + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod."
    if kind == "curly":
        return wr.prose(rng.randint(2, 5), sep="\n") + "\n" + rng.choice([
            "Write {name} in the template and it will be replaced by the value.",
            "The function returns {\"ok\": true} when the call succeeded.",
            "Use the syntax ${variable} inside strings."])
    if kind == "code":
        return "\n".join(rng.choice(["int main() {", "  return 0;", "}", "for (i = 0; i < n; i++) {",
                                     "  x[i] = y[i] * 2;", "def f(x):", "    return x + 1"])
                         for _ in range(rng.randint(10, 40)))
    if kind == "short_lines":
        return "\n".join(" ".join(wr.words(rng.randint(3, 5))) + "." for _ in range(rng.randint(10, 40)))
    if kind == "long_token":
        blob = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                       for _ in range(rng.randint(990, 1100)))
        return wr.prose(rng.randint(2, 6), sep="\n") + "\nThe key is " + blob + " as given."
    if kind == "tricky":  # edge cases of the measures: odd line breaks, white space, digits, case, scripts
        lines = []
        for _ in range(rng.randint(3, 25)):
            w = wr.words(rng.randint(0, 20))
            for _ in range(rng.randint(0, 4)):
                w.insert(rng.randint(0, len(w)), rng.choice(TRICKY))
            lines.append(" ".join(w) + rng.choice(TRICKY_ENDS))
        return "".join(line + rng.choice(TRICKY_BREAKS) for line in lines)
    if kind == "cjk":
        han = [chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(500)]
        return "\n".join("".join(rng.choice(han) for _ in range(rng.randint(10, 40))) + "。" for _ in range(8))
    raise ValueError(kind)


TRICKY = ["#", "##", "...", "\u2026", "\u2022", "-", "{", "}", "[1]", "[\u0661]", "[\uff13]", "[edit]", "[]",
          "[citation needed]", "Lorem Ipsum", "JAVASCRIPT", "cookie policy", "uses coo\u212aies", "\u0130",
          "terms of use",
          ".", "!", "?", "\"", "'", ")", "\u201d", "\u3002", "\uff01", "\uff0e", "\u0964", "\u061f", "\u4e2d\u6587",
          "\u3042\u3044", "\u30ab\u30bf", "e\u0301", "\U0001f600", "\u00a0", "\u3000", "\t", "  ", "\x0c", "\x1c",
          "\x01", "\x7f", "\u200b", "\ufeff", "\u2014", "\u00ad", "\u00bb", "\u300d", "a.b.c", "e.g.", "3.14"]
TRICKY_ENDS = [".", ".", ".", "!", "?", "\"", "'", "...", ".[1]", ".[\u0661]", ".[\uff13]", "", "\u2026", ".)",
               "\u3002", ". ", ".\t", "?!", "[edit]", "\u0964"]
TRICKY_BREAKS = ["\n"] * 8 + ["\r\n", "\u2028", "\x0b", "\n\n", "\x85", "\n \n", "\r", "\n\n\n", "\x1e"]

KINDS = {"good": 60, "short": 3, "hashes": 2, "ellipsis": 3, "bullets": 3, "dup_lines": 3, "dup_paragraphs": 2,
         "ngrams": 3, "no_stop_words": 2, "numbers": 2, "long_words": 2, "tiny_words": 1, "navigation": 3,
         "javascript": 2, "policy": 2, "lorem": 1, "curly": 1, "code": 1, "short_lines": 2, "long_token": 1,
         "cjk": 1, "tricky": 2}


def make_corpus(args):
    rng = random.Random(args.seed)
    wr = Writer(rng)
    kinds = args.kinds or list(KINDS)
    weights = [KINDS[k] for k in kinds]
    target, size, i = int(args.mb * 1e6), 0, 0
    with open(args.file, "w", encoding="utf-8") as f:
        while size < target:
            kind = rng.choices(kinds, weights)[0]
            line = json.dumps({"id": i, "kind": kind, "text": make_document(wr, kind)}, ensure_ascii=False) + "\n"
            f.write(line)
            size += len(line.encode())
            i += 1
    print(f"{args.file}: {i} documents, {size / 1e6:.1f} MB")


# ---- comparison ---------------------------------------------------------------------------------------------------
def read_kept(path):
    kept = {}
    with open(path, encoding="utf-8") as f:
        for raw in f:
            row = json.loads(raw)
            kept[row["id"]] = row["text"]
    return kept


def read_reasons(path):  # line -> rule (r1's --explain JSONL and this script's REASONS)
    with open(path, encoding="utf-8") as f:
        return {row["line"]: row["rule"] for row in map(json.loads, f)}


def compare(args):
    corpus = []
    with open(args.corpus, encoding="utf-8") as f:
        for raw in f:
            row = json.loads(raw)
            corpus.append((row["id"], row["kind"], row["text"]))
    r1_kept, py_kept = read_kept(args.r1_kept), read_kept(args.py_kept)
    r1_why, py_why = read_reasons(args.r1_explain), read_reasons(args.py_reasons)
    both_keep = both_drop = same_rule = text_differs = 0
    disagree = []
    per_rule = collections.defaultdict(lambda: [0, 0])  # rule -> documents r1, Python dropped by it
    per_kind = collections.defaultdict(lambda: [0, 0, 0])  # corpus kind -> documents, r1 kept, Python kept
    for line, (doc, kind, text) in enumerate(corpus, 1):
        a = "keep" if doc in r1_kept else r1_why.get(line, "MISSING")
        b = "keep" if doc in py_kept else py_why.get(line, "MISSING")
        per_kind[kind][0] += 1
        per_kind[kind][1] += a == "keep"
        per_kind[kind][2] += b == "keep"
        if a != "keep":
            per_rule[a][0] += 1
        if b != "keep":
            per_rule[b][1] += 1
        if a == "keep" and b == "keep":
            both_keep += 1
            if r1_kept[doc] != py_kept[doc]:
                text_differs += 1
                disagree.append((line, kind, "kept text differs", r1_kept[doc], py_kept[doc]))
        elif a != "keep" and b != "keep":
            both_drop += 1
            same_rule += a == b
            if a != b:
                disagree.append((line, kind, f"rules differ: r1 {a}, Python {b}", text, ""))
        else:
            disagree.append((line, kind, f"r1 {a}, Python {b}", text, ""))
    n = len(corpus)
    print(f"{n} documents: both keep {both_keep}, both drop {both_drop} (same rule {same_rule}); "
          f"keep/drop agree on {both_keep + both_drop} ({100 * (both_keep + both_drop) / n:.2f}%), "
          f"rule and kept text agree on {both_keep - text_differs + same_rule} "
          f"({100 * (both_keep - text_differs + same_rule) / n:.2f}%)")
    print(f"{'rule':<30} {'r1':>7} {'Python':>7}")
    for rule, (a, b) in sorted(per_rule.items(), key=lambda kv: -kv[1][0]):
        print(f"{rule:<30} {a:>7} {b:>7}")
    print(f"{'corpus kind':<30} {'docs':>7} {'r1 kept':>8} {'Py kept':>8}")
    for kind in KINDS:
        if kind in per_kind:
            d, a, b = per_kind[kind]
            print(f"{kind:<30} {d:>7} {a:>8} {b:>8}")
    if disagree:
        print(f"{len(disagree)} disagreements; the first {min(5, len(disagree))}:")
        for line, kind, what, x, y in disagree[:5]:
            print(f"  line {line} ({kind}): {what}\n    r1/input: {x[:300]!r}")
            if y:
                print(f"    Python:   {y[:300]!r}")
    return 1 if disagree else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("file")
    c.add_argument("--mb", type=float, default=30)
    c.add_argument("--seed", type=int, default=1234)
    c.add_argument("--kinds", type=lambda v: v.split(","), help="only these kinds of document (default: all)")
    f = sub.add_parser("filter")
    f.add_argument("input")
    f.add_argument("output")
    f.add_argument("reasons")
    f.add_argument("--filters", type=lambda v: v.split(","), default=FILTERS,
                   help="a subset of " + ",".join(FILTERS) + " (r1's --filters without the language filter)")
    m = sub.add_parser("compare")
    for name in ("corpus", "r1_kept", "r1_explain", "py_kept", "py_reasons"):
        m.add_argument(name)
    args = p.parse_args()
    if args.command == "corpus":
        make_corpus(args)
    elif args.command == "filter":
        run_filter(args)
    else:
        sys.exit(compare(args))


if __name__ == "__main__":
    main()
