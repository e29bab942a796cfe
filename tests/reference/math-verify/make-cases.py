#!/usr/bin/python3
"""Deterministic generator of (gold, completion) cases for the Math-Verify oracle.

    /usr/bin/python3 tests/reference/math-verify/make-cases.py --seed 20250702 \
        --out tests/golden/verify/cases.jsonl

Each line: {"id", "category", "gold", "completion", "style", "gold_format", "intent"}.
  category     what kind of answer it is (fraction, units, percent, matrix, ...), or no_answer
  style        how the completion presents it (think_boxed, minerva, hash, json, code_output, ...)
  gold_format  math_bare (MATH "answer" field, bare LaTeX), math_dollar (the same in $...$), math_boxed
               (\\boxed{...}), math_solution (MATH "solution" text with a final \\boxed), gsm8k (GSM8K
               solution ending "#### N")
  intent       what the generator meant (right / wrong / none). It is NOT the verdict: the verdict is what
               the real Math-Verify says (make-verdicts.py); some "right" renderings are ones a checker may
               well reject (0.333 for 1/3, 16:30 for 4:30 p.m.) and that is the point of having them.

Completions are written the way models write them: chain-of-thought (often inside <think>...</think>)
with intermediate numbers and formulas, then an answer in one of the common conventions. Nothing here
looks at what any checker does. Pure standard library; no Math-Verify needed.
"""
import argparse
import json
import math
import random
from fractions import Fraction

# ----------------------------------------------------------------------------------------------------------
# Chain-of-thought filler: steps with their own numbers and formulas, as real reasoning traces have.

OPENERS = [
    "Okay, let's see. I need to solve this problem step by step.",
    "Alright, so I have this problem here.",
    "Let me start by understanding what the problem is asking.",
    "Okay, so I need to figure out the answer to this question.",
    "First, let me restate the problem to make sure I understand it.",
    "To solve this problem, we need to carefully set up the equations.",
    "We are given the following information.",
    "Hmm, let me think about how to approach this.",
]
FILLERS = [
    "Hmm, let me double-check that step.",
    "Wait, I should be careful here.",
    "Let me verify this another way.",
    "That seems reasonable.",
    "Okay, that makes sense so far.",
    "Let me make sure I didn't make an arithmetic mistake.",
    "So far so good.",
    "Now let's move on to the next part.",
    "I think that's right, but let me re-check.",
    "Alternatively, we could approach it differently, but this way is simpler.",
]


def step(rng: random.Random) -> str:
    a, b = rng.randint(2, 60), rng.randint(2, 40)
    c = rng.randint(2, 12)
    forms = [
        lambda: f"We know that ${a} + {b} = {a + b}$.",
        lambda: f"Multiplying, we get ${a} \\times {b} = {a * b}$.",
        lambda: f"So there are {a * c} in total.",
        lambda: f"Substituting $x = {c}$ gives $x^2 = {c * c}$.",
        lambda: f"\\[\n{a} \\cdot {c} = {a * c}\n\\]",
        lambda: f"Then {a * c} - {b} = {a * c - b}.",
        lambda: f"Dividing both sides by {c}, we have \\( y = \\frac{{{a}}}{{{c}}} \\).",
        lambda: f"The first part takes {a} minutes and the second part takes {b} minutes.",
        lambda: f"Let $n$ be the number of items. Then $n = {a} + {b}$, so $n = {a + b}$.",
        lambda: f"Calculating: {a} * {c} = {a * c}.",
        lambda: f"If we let $x$ be the unknown, then ${c}x = {a * c}$, which gives $x = {a}$.",
        lambda: f"From the equation $2y + {b} = {2 * a + b}$, we get $y = {a}$.",
        lambda: f"The area of the rectangle is ${a} \\times {c} = {a * c}$ square units.",
        lambda: f"So the ratio is $\\frac{{{a}}}{{{a + b}}}$.",
        lambda: f"Note that $\\sqrt{{{c * c}}} = {c}$.",
        lambda: f"Step {c}: add {a} and {b} to get {a + b}.",
        lambda: f"- Total cost: ${a} \\times {c} = \\${a * c}$",
    ]
    return rng.choice(forms)()


def cot(rng: random.Random, lo: int = 3, hi: int = 9) -> str:
    parts = [rng.choice(OPENERS)]
    for _ in range(rng.randint(lo, hi)):
        parts.append(step(rng) if rng.random() < 0.7 else rng.choice(FILLERS))
    sep = "\n\n" if rng.random() < 0.6 else " "
    return sep.join(parts)


# ----------------------------------------------------------------------------------------------------------
# Answer kinds. Each returns a Spec: the gold (MATH-style bare LaTeX), an optional GSM8K number, renderings a
# model might write for the right answer (LaTeX, for \boxed / $...$) and in plain text, and wrong ones.


class Spec:
    def __init__(self, category, gold, right, wrong, right_text=None, wrong_text=None, gsm8k=None,
                 right_tails=None, wrong_tails=None, numeric=False):
        self.category = category
        self.gold = gold
        self.right = right
        self.wrong = wrong
        self.right_text = right_text or []
        self.wrong_text = wrong_text or []
        self.gsm8k = gsm8k  # the GSM8K "#### N" form of the gold, when the answer is a number
        self.right_tails = right_tails or []  # whole closing sentences (multi-answer forms)
        self.wrong_tails = wrong_tails or []
        self.numeric = numeric


def fmt_int(n: int) -> str:
    return str(n)


def k_integer(rng):
    n = rng.choice([rng.randint(2, 99), rng.randint(100, 999), rng.randint(-50, -1), rng.randint(1000, 9999)])
    right = [str(n), f"{n}.0", str(n), f"{n}.00" if rng.random() < 0.3 else str(n)]
    wrong = [str(n + 1), str(n - 1), str(n * 10), str(-n), str(n + rng.choice([2, 3, 5, 10]))]
    if abs(n) >= 10:
        s = str(abs(n))
        swapped = s[:-2] + s[-1] + s[-2]
        if swapped != s and not swapped.startswith("0"):
            wrong.append(("-" if n < 0 else "") + swapped)
    right_text = [str(n)] + ([f"\u2212{-n}"] if n < 0 else [])  # U+2212 minus sign
    return Spec("integer", str(n), right, wrong, right_text=right_text, wrong_text=[str(n + 1)],
                gsm8k=str(n) if n > 0 else None, numeric=True)


def tex_frac(p, q, cmd="\\frac"):
    sign = "-" if p * q < 0 else ""
    return f"{sign}{cmd}{{{abs(p)}}}{{{abs(q)}}}"


def k_fraction(rng):
    while True:
        q = rng.randint(2, 24)
        p = rng.randint(1, 3 * q)
        f = Fraction(p, q)
        if f.denominator > 1:
            break
    if rng.random() < 0.2:
        f = -f
    p, q = f.numerator, f.denominator
    gold = tex_frac(p, q)
    right = [gold, tex_frac(p, q, "\\dfrac"), f"{p}/{q}", tex_frac(2 * p, 2 * q), tex_frac(p, q, "\\tfrac")]
    if abs(p) < 10 and q < 10 and p > 0:
        right.append(f"\\frac{p}{q}")  # \frac12, as models do write it
    if 2 ** 10 % q == 0 or 5 ** 10 % q == 0 or 10 ** 6 % q == 0:
        right.append(str(float(f)))
    else:
        right.append(f"{float(f):.3f}")  # a rounded decimal: a checker may or may not accept it
    whole, rem = divmod(abs(p), q)
    if whole and rem:
        right.append(f"{'-' if p < 0 else ''}{whole}\\frac{{{rem}}}{{{q}}}")  # mixed number
    wrong = [tex_frac(q, p), tex_frac(p + 1, q), tex_frac(p, q + 1), tex_frac(-p, q), f"{float(f) + 0.1:.2f}"]
    return Spec("fraction", gold, right, wrong, right_text=[f"{p}/{q}"], wrong_text=[f"{q}/{p}"], numeric=True)


def k_decimal(rng):
    cents = rng.randint(1, 99999)
    x = cents / 100
    s = f"{x:.2f}".rstrip("0").rstrip(".") if rng.random() < 0.6 else f"{x:.2f}"
    if "." not in s:
        s = f"{x:.2f}"
    f = Fraction(cents, 100)
    right = [s, f"{x:.2f}", f"{x:.3f}", tex_frac(f.numerator, f.denominator) if f.denominator > 1 else s]
    wrong = [f"{x + 0.01:.2f}", f"{x * 10:.2f}", f"{x / 10:.3f}", s.replace(".", ""), f"{round(x)}"]
    return Spec("decimal", s, right, wrong, right_text=[s], wrong_text=[f"{x + 1:.2f}"], gsm8k=None, numeric=True)


def k_radical(rng):
    a = rng.randint(1, 9)
    b = rng.choice([2, 3, 5, 6, 7, 10, 11])
    gold = f"{a}\\sqrt{{{b}}}" if a > 1 else f"\\sqrt{{{b}}}"
    right = [gold, (f"{a}\\sqrt{b}" if a > 1 else f"\\sqrt{b}"), f"\\sqrt{{{a * a * b}}}",
             (f"{a} \\sqrt{{{b}}}" if a > 1 else f"\\sqrt{{ {b} }}"), (f"{a}\\cdot\\sqrt{{{b}}}" if a > 1 else gold),
             f"{a * math.sqrt(b):.4f}"]
    other = rng.choice([c for c in [2, 3, 5, 6, 7] if c != b])
    wrong = [f"{a}\\sqrt{{{other}}}" if a > 1 else f"\\sqrt{{{other}}}", f"{a + 1}\\sqrt{{{b}}}",
             f"\\sqrt{{{a * b}}}", f"{a * b}", f"{a}\\sqrt{{{b}}} + 1"]
    if rng.random() < 0.3:  # a fraction with a radical, as geometry answers often are
        gold = f"\\frac{{{a}\\sqrt{{{b}}}}}{{2}}" if a > 1 else f"\\frac{{\\sqrt{{{b}}}}}{{2}}"
        right = [gold, f"\\frac{{\\sqrt{{{a * a * b}}}}}{{2}}", f"{a}\\sqrt{{{b}}}/2" if a > 1 else f"\\sqrt{{{b}}}/2",
                 f"\\tfrac{{{a}}}{{2}}\\sqrt{{{b}}}", f"{a * math.sqrt(b) / 2:.5f}"]
        wrong = [f"\\frac{{{a}\\sqrt{{{b}}}}}{{3}}", f"{a}\\sqrt{{{b}}}", f"\\frac{{\\sqrt{{{b}}}}}{{{2 * a}}}"]
    right_text = [] if "frac" in gold else [f"{a if a > 1 else ''}\u221a{b}"]  # 3√2
    wrong_text = [] if "frac" in gold else [f"{a if a > 1 else ''}\u221a{other}"]
    return Spec("radical", gold, right, wrong, right_text=right_text, wrong_text=wrong_text, numeric=True)


def k_pi(rng):
    a = rng.randint(1, 40)
    kind = rng.random()
    if kind < 0.6:
        gold = f"{a}\\pi" if a > 1 else "\\pi"
        right = [gold, f"{a} \\pi" if a > 1 else "\\pi", f"\\pi \\cdot {a}", f"{a}\\pi \\text{{ square units}}",
                 f"{a * math.pi:.2f}"]
        wrong = [str(a), f"{2 * a}\\pi", f"{a + 1}\\pi", f"{a}\\pi^2", f"\\frac{{{a}}}{{\\pi}}"]
        return Spec("pi", gold, right, wrong, right_text=[f"{a if a > 1 else ''}\u03c0"],
                    wrong_text=[f"{2 * a}\u03c0"], numeric=True)
    else:
        q = rng.choice([2, 3, 4, 6, 8, 12])
        f = Fraction(a, q)
        gold = f"\\frac{{{f.numerator}\\pi}}{{{f.denominator}}}" if f.denominator > 1 else f"{f.numerator}\\pi"
        right = [gold, f"\\frac{{{f.numerator}}}{{{f.denominator}}}\\pi", f"{f.numerator}\\pi/{f.denominator}",
                 f"\\dfrac{{{f.numerator} \\pi}}{{{f.denominator}}}"]
        wrong = [f"\\frac{{{f.numerator}\\pi}}{{{f.denominator + 1}}}", f"\\frac{{{f.denominator}\\pi}}{{{f.numerator}}}",
                 f"{f.numerator}\\pi"]
    return Spec("pi", gold, right, wrong, numeric=True)


def k_sci(rng):
    m = rng.randint(11, 99) / 10
    e = rng.choice([-7, -5, -3, 4, 5, 6, 8, 9, 12])
    gold = f"{m}\\times 10^{{{e}}}"
    val = m * 10 ** e
    plain = f"{val:.10f}".rstrip("0").rstrip(".") if e < 0 else str(int(round(val)))
    right = [gold, f"{m} \\times 10^{{{e}}}", f"{m}\\cdot 10^{{{e}}}", plain, f"{m}e{e}"]
    wrong = [f"{m}\\times 10^{{{e + 1}}}", f"{m}\\times 10^{{{-e}}}", f"{m + 1}\\times 10^{{{e}}}", f"{m}\\times 10^{e - 1}"]
    return Spec("scientific", gold, right, wrong, right_text=[f"{m} x 10^{e}", f"{m} \u00d7 10^{e}", plain],
                wrong_text=[f"{m} \u00d7 10^{e + 1}"], numeric=True)


UNITS = [("cm", "\\text{ cm}"), ("m^2", "\\mbox{ m}^2"), ("cm^2", "\\text{ cm}^2"), ("inches", "\\text{ inches}"),
         ("meters", "\\text{ meters}"), ("km", "\\text{ km}"), ("feet", "\\text{ feet}"), ("degrees", "^\\circ"),
         ("hours", "\\text{ hours}"), ("minutes", "\\text{ minutes}"), ("mph", "\\text{ mph}"),
         ("units", "\\text{ units}"), ("square units", "\\text{ square units}"), ("cubic feet", "\\text{ cubic feet}")]


def k_units(rng):
    n = rng.randint(2, 500)
    word, tex = rng.choice(UNITS)
    gold = rng.choice([str(n), f"{n}{tex}"])
    spaced = f"{n}\\ " + tex.replace("\\text{ ", "\\text{").replace("\\mbox{ ", "\\mbox{")  # 12\ \text{cm}
    right = [f"{n}{tex}", spaced,
             f"{n} \\text{{{word}}}", f"{n}", f"{n}\\,\\mathrm{{{word.split('^')[0]}}}"]
    wrong = [f"{n + 1}{tex}", f"{n * 2}{tex}", f"{n * 10}\\text{{ {word}}}", f"{n - 1}"]
    return Spec("units", gold, right, wrong, right_text=[f"{n} {word}"], wrong_text=[f"{n + 1} {word}"],
                gsm8k=str(n), numeric=True)


def k_money(rng):
    n = rng.choice([rng.randint(5, 999), rng.randint(1000, 99999)])
    with_commas = f"{n:,}"
    gold = str(n)
    right = [f"\\${n}", f"\\${with_commas}", f"{n}.00", f"\\${n}.00", f"{n} \\text{{ dollars}}", f"{with_commas}"]
    wrong = [f"\\${n + 10}", f"\\${n // 10}", f"{n * 2}", f"\\${n}.50"]
    return Spec("money", gold, right, wrong, right_text=[f"${with_commas}", f"${n}", f"{n} dollars"],
                wrong_text=[f"${n + 5}"], gsm8k=str(n), numeric=True)


def k_percent(rng):
    n = rng.choice([5, 10, 12, 15, 20, 25, 30, 40, 45, 50, 60, 75, 80, 90, 12.5, 33.3, 2.5])
    ns = f"{n:g}"
    style = rng.random()
    if style < 0.45:
        gold = ns  # MATH often states the number, the question says "what percent"
    elif style < 0.85:
        gold = f"{ns}\\%"
    else:
        gold = f"{n / 100:g}"  # as a rate
    right = [f"{ns}\\%", ns, f"{ns} \\%", f"{ns}\\text{{\\%}}", f"{n / 100:g}"]
    wrong = [f"{n + 5:g}\\%", f"{n / 10:g}\\%", f"{100 - n:g}\\%", f"{n * 10:g}"]
    return Spec("percent", gold, right, wrong, right_text=[f"{ns}%", f"{ns} percent"], wrong_text=[f"{n + 5:g}%"],
                numeric=True)


def k_clock(rng):
    h = rng.randint(1, 11)
    m = rng.choice([0, 15, 20, 30, 45, 50])
    ampm = rng.choice(["a.m.", "p.m."])
    t = f"{h}:{m:02d}"
    gold = rng.choice([f"\\text{{{t} {ampm}}}", f"{t} \\text{{ {ampm}}}", t])
    h24 = h + 12 if ampm == "p.m." else h
    right = [f"\\text{{{t} {ampm}}}", f"{t}\\text{{ {ampm}}}", t, f"{h24}:{m:02d}", f"{t} \\text{{{ampm.replace('.', '').upper()}}}"]
    wrong = [f"{h + 1}:{m:02d}", f"{h}:{(m + 15) % 60:02d}", f"\\text{{{h}:{(m + 30) % 60:02d} {ampm}}}"]
    return Spec("clock", gold, right, wrong, right_text=[f"{t} {ampm}", f"{t} {ampm.replace('.', '').upper()}"],
                wrong_text=[f"{h + 1}:{m:02d} {ampm}"])


def k_interval(rng):
    a = rng.randint(-9, 5)
    b = a + rng.randint(1, 9)
    lb, rb = rng.choice(["(", "["]), rng.choice([")", "]"])
    form = rng.random()
    if form < 0.35:
        gold = f"(-\\infty, {b}{rb}"
        right = [f"(-\\infty,{b}{rb}", f"\\left(-\\infty, {b}\\right{rb}", f"(-\\infty, {b}{rb}",
                 f"x {'<' if rb == ')' else chr(92) + 'le'} {b}"]
        wrong = [f"(-\\infty, {b}{')' if rb == ']' else ']'}", f"(-\\infty, {b + 1}{rb}", f"({b}, \\infty)"]
    elif form < 0.55:
        gold = f"(-\\infty, {a}) \\cup ({b}, \\infty)"
        right = [gold, f"(-\\infty,{a})\\cup({b},\\infty)", f"\\left(-\\infty, {a}\\right) \\cup \\left({b}, \\infty\\right)"]
        wrong = [f"({a}, {b})", f"(-\\infty, {a}] \\cup [{b}, \\infty)", f"(-\\infty, {b}) \\cup ({a}, \\infty)"]
    else:
        gold = f"{lb}{a}, {b}{rb}"
        right = [f"{lb}{a},{b}{rb}", f"\\left{lb}{a}, {b}\\right{rb}", gold]
        flip = {"(": "[", "[": "("}[lb]
        wrong = [f"{flip}{a}, {b}{rb}", f"{lb}{a}, {b + 1}{rb}", f"{lb}{a - 1}, {b}{rb}"]
    return Spec("interval", gold, right, wrong)


def pmatrix(rows, env="pmatrix"):
    return f"\\begin{{{env}}} " + " \\\\ ".join(" & ".join(str(x) for x in r) for r in rows) + f" \\end{{{env}}}"


def k_matrix(rng):
    if rng.random() < 0.5:
        v = [rng.randint(-9, 9) for _ in range(rng.choice([2, 3]))]
        rows = [[x] for x in v]
        gold = pmatrix(rows)
        right = [gold, pmatrix(rows, "bmatrix"), pmatrix(rows).replace(" ", ""), "(" + ", ".join(map(str, v)) + ")"]
        w = list(v)
        w[0] += 1
        wrong = [pmatrix([[x] for x in w]), pmatrix([[x] for x in reversed(v)]) if v != v[::-1] else pmatrix([[x + 2] for x in v]),
                 pmatrix([[-x] for x in v]) if any(v) else pmatrix([[1] for _ in v])]
    else:
        rows = [[rng.randint(-9, 9) for _ in range(2)] for _ in range(2)]
        gold = pmatrix(rows)
        right = [gold, pmatrix(rows, "bmatrix"), pmatrix(rows).replace(" & ", "&"), f"\\left( {pmatrix(rows, 'matrix')} \\right)"]
        t = [[rows[0][0], rows[1][0]], [rows[0][1], rows[1][1]]]
        w = [r[:] for r in rows]
        w[1][1] += 1
        wrong = [pmatrix(w), pmatrix(t) if t != rows else pmatrix([[x + 1 for x in r] for r in rows]),
                 pmatrix([[-x for x in r] for r in rows]) if any(any(r) for r in rows) else pmatrix(w)]
    return Spec("matrix", gold, right, wrong)


def k_set(rng):
    xs = sorted(rng.sample(range(-6, 12), rng.randint(2, 4)))
    gold = "\\{" + ", ".join(map(str, xs)) + "\\}"
    shuffled = xs[:]
    rng.shuffle(shuffled)
    right = [gold, "\\{" + ",".join(map(str, shuffled)) + "\\}", ", ".join(map(str, xs)), "\\left\\{" + ", ".join(map(str, xs)) + "\\right\\}"]
    wrong = ["\\{" + ", ".join(map(str, xs[:-1])) + "\\}", "\\{" + ", ".join(map(str, xs + [xs[-1] + 1])) + "\\}",
             ", ".join(map(str, [x + 1 for x in xs]))]
    return Spec("set", gold, right, wrong)


def k_tuple(rng):
    n = rng.choice([2, 2, 3])
    xs = [rng.randint(-9, 9) for _ in range(n)]
    if rng.random() < 0.3:
        xs[0] = f"\\frac{{{rng.randint(1, 7)}}}{{{rng.choice([2, 3, 5])}}}"
    sx = list(map(str, xs))
    gold = "(" + ", ".join(sx) + ")"
    right = [gold, "(" + ",".join(sx) + ")", "\\left(" + ", ".join(sx) + "\\right)", "( " + " , ".join(sx) + " )"]
    wrong = ["(" + ", ".join(reversed(sx)) + ")" if sx != sx[::-1] else "(" + ", ".join(sx + ["0"]) + ")",
             "(" + ", ".join(sx[:-1] + [str(int(sx[-1]) + 1)]) + ")", "\\{" + ", ".join(sx) + "\\}"]
    names = "xyz"[:n]
    tails = ["We get " + ", ".join(f"${v} = {x}$" for v, x in zip(names, sx)) + "."]
    return Spec("tuple", gold, right, wrong, right_tails=tails)


def k_pm(rng):
    a = rng.randint(-5, 7)
    b = rng.choice([2, 3, 5, 7, 11])
    c = rng.choice([1, 1, 2, 3])
    rad = f"{c}\\sqrt{{{b}}}" if c > 1 else f"\\sqrt{{{b}}}"
    gold = f"{a} \\pm {rad}" if a else f"\\pm {rad}"
    right = [gold, gold.replace(" ", ""), f"{a} + {rad}, {a} - {rad}" if a else f"{rad}, -{rad}"]
    wrong = [f"{a} + {rad}" if a else rad, f"{a + 1} \\pm {rad}", f"{a} \\pm {b}"]
    tails = [f"So $x = {a} + {rad}$ or $x = {a} - {rad}$." if a else f"So $x = {rad}$ or $x = -{rad}$."]
    return Spec("pm", gold, right, wrong, right_tails=tails)


TEXT_ANSWERS = [["Tuesday", "Monday", "Wednesday", "Sunday", "Friday"], ["even", "odd"], ["Yes", "No"],
                ["Alice", "Bob", "Carol"], ["Kelly", "Ron", "Ella"], ["parabola", "ellipse", "hyperbola", "circle"],
                ["January", "March", "October"], ["north", "south", "east", "west"]]


def k_text(rng):
    if rng.random() < 0.3:  # multiple choice
        letters = "ABCDE"
        L = rng.choice(letters)
        W = rng.choice([c for c in letters if c != L])
        gold = rng.choice([f"\\text{{({L})}}", f"\\textbf{{({L})}}", L, f"({L})"])
        right = [f"\\text{{({L})}}", f"({L})", L, f"\\textbf{{({L})}}", f"\\text{{{L}}}"]
        wrong = [f"\\text{{({W})}}", f"({W})", W]
        return Spec("text", gold, right, wrong, right_text=[f"({L})", L], wrong_text=[f"({W})"])
    group = rng.choice(TEXT_ANSWERS)
    w = rng.choice(group)
    o = rng.choice([x for x in group if x != w])
    gold = rng.choice([f"\\text{{{w}}}", w, f"\\text{{{w.lower()}}}"])
    right = [f"\\text{{{w}}}", f"\\textbf{{{w}}}", f"\\mathrm{{{w}}}", f"\\text{{{w.lower()}}}", w]
    wrong = [f"\\text{{{o}}}", o, f"\\text{{not {w.lower()}}}"]
    return Spec("text", gold, right, wrong, right_text=[w, f"**{w}**"], wrong_text=[o])


def k_thousands(rng):
    n = rng.randint(1001, 9999999)
    c = f"{n:,}"
    gold = rng.choice([str(n), str(n), c.replace(",", "{,}"), c])
    right = [str(n), c, c.replace(",", "{,}"), c.replace(",", "\\,"), c.replace(",", " "), c.replace(",", "\\ ")]
    d = str(n)
    sw = d[:-2] + d[-1] + d[-2] if d[-1] != d[-2] else str(n + 9)
    wrong = [f"{int(sw):,}", f"{n + 1000:,}", f"{n / 1000:g}", str(n * 10)]
    return Spec("thousands", gold, right, wrong, right_text=[c, str(n), c.replace(",", " ")],
                wrong_text=[f"{n + 100:,}"], gsm8k=str(n), numeric=True)


def k_equation(rng):
    form = rng.random()
    if form < 0.35:
        a = rng.randint(-9, 12)
        gold = rng.choice([f"x = {a}", str(a), f"x={a}"])
        right = [f"x = {a}", str(a), f"x={a}", f"{a}"]
        wrong = [f"x = {a + 1}", f"x = {-a if a else 1}", f"y = {a + 2}"]
        tails = [f"Therefore, $x = {a}$."]
    elif form < 0.7:
        m = rng.randint(-5, 6) or 2
        b = rng.randint(-9, 9)
        bs = f"+ {b}" if b >= 0 else f"- {-b}"
        gold = f"y = {m}x {bs}"
        right = [gold, f"y={m}x{bs.replace(' ', '')}", f"y = {b} + {m}x" if b else f"y = {m}x",
                 f"{m}x - y {bs} = 0"]
        wrong = [f"y = {m}x {'- ' + str(b) if b >= 0 else '+ ' + str(-b)}" if b else f"y = {m + 1}x",
                 f"y = {m + 1}x {bs}", f"y = {-m}x {bs}", f"{m}x {bs}"]
        tails = []
    else:
        a, b = rng.randint(2, 7), rng.randint(2, 7)
        k = rng.randint(1, 30)
        g = rng.choice([2, 3])
        gold = f"{a}x + {b}y = {k}"
        right = [gold, f"{g * a}x + {g * b}y = {g * k}", f"{a}x+{b}y={k}", f"{b}y + {a}x = {k}", f"{a}x + {b}y - {k} = 0"]
        wrong = [f"{a}x + {b}y = {k + 1}", f"{b}x + {a}y = {k}" if a != b else f"{a}x - {b}y = {k}", f"{a}x - {b}y = {k}"]
        tails = []
    return Spec("equation", gold, right, wrong, right_tails=tails)


def k_inequality(rng):
    a = rng.randint(-9, 9)
    op, tex, flip, strict = rng.choice([(">", ">", "<", True), ("<", "<", ">", True), (">=", "\\ge", "\\le", False),
                                        ("<=", "\\le", "\\ge", False)])
    gold = f"x {tex} {a}"
    if op in (">", ">="):
        interval = f"{'(' if strict else '['}{a}, \\infty)"
    else:
        interval = f"(-\\infty, {a}{')' if strict else ']'}"
    long_tex = {"\\ge": "\\geq", "\\le": "\\leq"}.get(tex, tex)
    other_strictness = {">": "\\ge", "<": "\\le", "\\ge": ">", "\\le": "<"}[tex]
    right = [gold, f"x{tex}{a}", f"{a} {flip} x", interval, f"x {long_tex} {a}"]
    wrong = [f"x {flip} {a}", f"x {tex} {a + 1}", f"x {other_strictness} {a}"]
    uni = {">": ">", "<": "<", "\\ge": "\u2265", "\\le": "\u2264"}
    right_text = [f"x {uni[tex]} {a}"]
    wrong_text = [f"x {uni[other_strictness]} {a}"]
    if rng.random() < 0.3:
        b = a + rng.randint(1, 8)
        gold = f"{a} < x < {b}"
        right = [gold, f"({a}, {b})", f"{a}<x<{b}", f"x > {a} \\text{{ and }} x < {b}"]
        wrong = [f"{a} \\le x \\le {b}", f"({a}, {b + 1})", f"x < {a} \\text{{ or }} x > {b}"]
        right_text, wrong_text = [f"{a} < x < {b}"], [f"{a} \u2264 x \u2264 {b}"]
    return Spec("inequality", gold, right, wrong, right_text=right_text, wrong_text=wrong_text)


def k_multi(rng):
    a, b = sorted(rng.sample(range(-9, 13), 2))
    gold = rng.choice([f"{a}, {b}", f"{a},{b}", f"{a} \\text{{ and }} {b}", f"x = {a}, x = {b}"])
    right = [f"{a}, {b}", f"{b}, {a}", f"{a} \\text{{ and }} {b}", f"x = {a}, x = {b}", f"x={a} \\text{{ or }} x={b}"]
    wrong = [str(a), str(b), f"{a}, {b + 1}", f"{-a}, {-b}" if a or b else f"1, 2"]
    right_tails = [f"The solutions are $x = {a}$ or $x = {b}$.", f"$\\boxed{{{a}}}$ and $\\boxed{{{b}}}$",
                   f"So the answers are \\boxed{{{a}}} and \\boxed{{{b}}}.", f"x = {a} or x = {b}",
                   f"Thus $x \\in \\{{{a}, {b}\\}}$."]
    wrong_tails = [f"The solution is $x = {a}$.", f"$\\boxed{{{a}}}$ and $\\boxed{{{b + 1}}}$",
                   f"So the answers are \\boxed{{{b}}} and \\boxed{{{b + 2}}}."]
    return Spec("multi_answer", gold, right, wrong, right_tails=right_tails, wrong_tails=wrong_tails)


def k_degrees(rng):
    n = rng.choice([15, 30, 36, 45, 60, 72, 90, 108, 120, 135, 150])
    gold = rng.choice([str(n), f"{n}^\\circ", f"{n}^{{\\circ}}"])
    f = Fraction(n, 180)
    rad = ("\\pi" if f.numerator == 1 else f"{f.numerator}\\pi") if f.denominator == 1 else \
        f"\\frac{{{'' if f.numerator == 1 else f.numerator}\\pi}}{{{f.denominator}}}"
    right = [f"{n}^\\circ", f"{n}^{{\\circ}}", str(n), f"{n}°", f"{n} \\text{{ degrees}}", rad]
    wrong = [f"{180 - n}^\\circ" if n != 90 else "45^\\circ", f"{n + 10}^\\circ", f"{n // 2}^\\circ"]
    return Spec("degrees", gold, right, wrong, right_text=[f"{n} degrees", f"{n}°"], wrong_text=[f"{n + 10} degrees"])


def k_expression(rng):
    a = rng.randint(1, 6)
    b = rng.randint(1, 6)
    form = rng.random()
    if form < 0.4:
        gold = f"x^2 + {2 * a}x + {a * a}"
        right = [gold, f"(x + {a})^2", f"(x+{a})^{{2}}", f"x^{{2}}+{2 * a}x+{a * a}", f"{a * a} + {2 * a}x + x^2"]
        wrong = [f"x^2 + {a * a}", f"(x - {a})^2", f"x^2 + {a}x + {a * a}"]
    elif form < 0.7:
        gold = f"\\frac{{{a}}}{{x + {b}}}"
        right = [gold, f"{a}/(x+{b})", f"\\frac{{{2 * a}}}{{2x + {2 * b}}}", f"\\dfrac{{{a}}}{{{b} + x}}"]
        wrong = [f"\\frac{{{a}}}{{x - {b}}}", f"\\frac{{x + {b}}}{{{a}}}", f"\\frac{{{a + 1}}}{{x + {b}}}"]
    else:
        gold = f"{a}a^2b^{b}" if b > 1 else f"{a}a^2b"
        right = [gold, f"{a}b^{b}a^2" if b > 1 else f"{a}ba^2", f"{a} a^{{2}} b^{{{b}}}"]
        wrong = [f"{a}a^{b}b^2", f"{a + 1}a^2b^{b}", f"{a}a^3b^{b}"]
    return Spec("expression", gold, right, wrong)


def k_complex(rng):
    a, b = rng.randint(-9, 9), rng.randint(1, 9)
    sb = "" if b == 1 else str(b)
    gold = f"{a} + {sb}i" if rng.random() < 0.5 else f"{a}+{sb}i"
    right = [f"{a} + {sb}i", f"{sb}i + {a}", f"{a}+{b}i"]
    wrong = [f"{a} - {sb}i", f"{-a} + {sb}i", f"{a} + {b + 1}i"]
    return Spec("complex", gold, right, wrong)


def k_trig_log(rng):
    options = [
        ("\\frac{\\sqrt{3}}{2}", ["\\frac{\\sqrt3}{2}", "\\dfrac{\\sqrt{3}}{2}", "\\sqrt{3}/2", "0.866025"],
         ["\\frac{1}{2}", "\\frac{\\sqrt{2}}{2}", "\\sqrt{3}"]),
        ("\\frac{\\sqrt{2}}{2}", ["\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt2}2", "\\sqrt{2}/2"], ["\\sqrt{2}", "\\frac{1}{2}"]),
        ("\\log_2 5", ["\\log_{2} 5", "\\log_2{5}", "\\frac{\\ln 5}{\\ln 2}"], ["\\log_5 2", "\\log_2 3"]),
        ("e^2", ["e^{2}", "\\exp(2)", "7.389056"], ["2e", "e^3"]),
        ("\\sqrt[3]{2}", ["2^{1/3}", "2^{\\frac{1}{3}}", "\\sqrt[3]2"], ["\\sqrt{2}", "\\sqrt[3]{3}"]),
        ("2^{10}", ["1024", "2^{10}"], ["2^{11}", "1000"]),
        ("\\binom{10}{3}", ["120", "\\binom{10}{3}", "C(10,3)"], ["\\binom{10}{4}", "720"]),
        ("\\infty", ["\\infty", "+\\infty"], ["-\\infty", "0"]),
    ]
    gold, right, wrong = rng.choice(options)
    return Spec("closed_form", gold, [gold] + right, wrong)


KINDS = [(k_integer, 182), (k_fraction, 194), (k_decimal, 125), (k_radical, 137), (k_pi, 114), (k_sci, 91),
         (k_units, 171), (k_money, 137), (k_percent, 148), (k_clock, 91), (k_interval, 137), (k_matrix, 114),
         (k_set, 103), (k_tuple, 114), (k_pm, 91), (k_text, 137), (k_thousands, 148), (k_equation, 160),
         (k_inequality, 114), (k_multi, 137), (k_degrees, 91), (k_expression, 114), (k_complex, 68),
         (k_trig_log, 91)]

# ----------------------------------------------------------------------------------------------------------
# Gold formats.


def gold_text(spec: Spec, rng: random.Random) -> tuple[str, str]:
    r = rng.random()
    if spec.gsm8k and r < 0.35:
        a, b = rng.randint(2, 30), rng.randint(2, 30)
        n = int(spec.gsm8k)
        x = rng.randint(1, max(1, n - 1))
        lines = [f"First find the total: {a} * {b} = <<{a}*{b}={a * b}>>{a * b}",
                 f"Then subtract the ones that were used: {a * b} - {a} = <<{a * b}-{a}={a * b - a}>>{a * b - a}"]
        lines = lines[: rng.randint(0, 2)] + [f"So altogether {x} + {n - x} = <<{x}+{n - x}={n}>>{n}"]
        return "gsm8k", "\n".join(lines) + f"\n#### {spec.gsm8k}"
    if r < 0.3:
        return "math_bare", spec.gold  # MATH's answer field as stored: bare LaTeX
    if r < 0.52:
        return "math_dollar", f"${spec.gold}$"  # the same wrapped in $...$, as Math-Verify's README passes gold
    if r < 0.57:
        return "math_boxed", f"\\boxed{{{spec.gold}}}"
    a, b = rng.randint(2, 20), rng.randint(2, 20)
    intro = rng.choice([f"We have ${a} + {b} = {a + b}$, so",
                        f"Let $x$ be the unknown. Then $x \\cdot {a} = {a * b}$ gives $x = {b}$, and so",
                        "Simplifying the expression,",
                        f"There are ${a}$ choices for the first and ${b}$ for the second. Hence"])
    close = rng.choice([f" the answer is $\\boxed{{{spec.gold}}}$.", f" we get $\\boxed{{{spec.gold}}}.$",
                        f"\n$$\\boxed{{{spec.gold}}}$$"])
    return "math_solution", intro + close


# ----------------------------------------------------------------------------------------------------------
# Completion styles.


def plain_ok(s: str) -> bool:
    return not any(ch in s for ch in "\\^{}_")


def inline(ans: str, rng: random.Random) -> str:
    if plain_ok(ans) and rng.random() < 0.4:
        return ans
    return rng.choice([f"${ans}$", f"\\({ans}\\)", f"${ans}$"])


def pick_answer(spec: Spec, intent: str, rng: random.Random, want_text=False):
    pool_tex = spec.right if intent == "right" else spec.wrong
    pool_txt = spec.right_text if intent == "right" else spec.wrong_text
    if want_text and pool_txt and rng.random() < 0.6:
        return rng.choice(pool_txt), True
    return rng.choice(pool_tex), False


STYLES = ["think_boxed", "boxed", "boxed_display", "answer_is", "minerva", "hash", "json", "code_output",
          "answer_tag", "bold_answer", "last_line", "corrected", "changed_mind", "intermediate_box", "box_first",
          "plain_answer", "display_eq"]
STYLE_WEIGHTS = [16, 10, 10, 8, 6, 5, 4, 4, 5, 5, 7, 5, 5, 5, 3, 4, 3]


def completion(spec: Spec, intent: str, style: str, rng: random.Random) -> str:
    think = rng.random() < 0.5
    long_trace = (think or style in ("think_boxed", "answer_tag")) and rng.random() < 0.3
    body = cot(rng, 15, 35) if long_trace else cot(rng)

    def wrap(text):  # R1-style: reasoning inside <think>, then a short answer part
        if think:
            return f"<think>\n{body}\n</think>\n\n{text}"
        return f"{body}\n\n{text}"

    tails = spec.right_tails if intent == "right" else spec.wrong_tails
    if tails and rng.random() < 0.35 and style not in ("json", "code_output", "hash"):
        return wrap(rng.choice(tails))

    ans, is_text = pick_answer(spec, intent, rng, want_text=style in ("answer_is", "last_line", "bold_answer", "hash", "plain_answer"))
    other = pick_answer(spec, "wrong" if intent == "right" else "right", rng)[0]
    boxed = f"\\boxed{{{ans}}}" if not is_text else f"\\boxed{{{ans}}}"

    if style == "think_boxed":
        summary = rng.choice(["To solve the problem, we follow the steps above.", "**Solution:**\n\n" + step(rng),
                              "The key steps are:\n1. " + step(rng) + "\n2. " + step(rng), ""])
        return f"<think>\n{body}\n</think>\n\n{summary}\n\nThe final answer is $\\boxed{{{ans}}}$."
    if style == "boxed":
        return f"{body}\n\nTherefore, the final answer is {rng.choice(['$' + boxed + '$', boxed])}."
    if style == "boxed_display":
        return wrap(f"{step(rng)}\n\n**Final Answer**\n\\[\n{boxed}\n\\]")
    if style == "answer_is":
        a = ans if is_text else inline(ans, rng)
        return wrap(rng.choice([f"The answer is {a}.", f"So, the answer is: {a}", f"Thus the answer is {a}"]))
    if style == "minerva":
        a = f"${ans}$" if not is_text else ans
        return f"{body}\nFinal Answer: The final answer is {a}. I hope it is correct."
    if style == "hash":
        a = ans if is_text or plain_ok(ans) else ans
        return f"{body}\n#### {a}"
    if style == "json":
        val = ans
        try:
            num = int(val) if val.lstrip("-").isdigit() else float(val)
            j = json.dumps({"reasoning": "see above", "answer": num if rng.random() < 0.5 else val})
        except ValueError:
            j = json.dumps({"answer": val}) if rng.random() < 0.5 else json.dumps({"final_answer": val, "confidence": 0.9})
        return wrap(rng.choice([f"```json\n{j}\n```", j]))
    if style == "code_output":
        # a program prints plain text: a plain rendering when there is one, else what sympy-style code prints
        plain = [t for t in (spec.right if intent == "right" else spec.wrong) if plain_ok(t) and "$" not in t]
        val = ans if plain_ok(ans) else (rng.choice(plain) if plain else ans)
        a, b = rng.randint(2, 50), rng.randint(2, 50)
        code = f"```python\nx = {a} * {b}\nresult = x  # compute the answer\nprint(result)\n```"
        out = f"```output\n{val}\n```"
        closing = rng.choice([f"The answer is $\\boxed{{{ans}}}$.", f"So the answer is \\boxed{{{ans}}}.", "", f"The final answer is {inline(ans, rng)}."])
        return f"{body}\n\n{code}\n{out}\n{closing}".rstrip()
    if style == "answer_tag":
        inner = rng.choice([ans if is_text else inline(ans, rng), f"$\\boxed{{{ans}}}$", ans])
        return f"<think>\n{body}\n</think>\n<answer>\n{inner}\n</answer>"
    if style == "bold_answer":
        a = ans if is_text else inline(ans, rng)
        return wrap(rng.choice([f"**Answer:** {a}", f"**Final answer: {a}**", f"### Final Answer\n{a}"]))
    if style == "last_line":
        a = ans if is_text else inline(ans, rng)
        return wrap(rng.choice([f"So the result is {a}.", f"Hence we get {a}.", f"That gives {a}, which is our answer."]))
    if style == "corrected":  # states the other value first, then corrects itself
        return (f"{body}\n\nSo the answer is $\\boxed{{{other}}}$.\n\nWait, that's not right. Let me recheck. "
                f"{step(rng)} I made an error earlier.\n\nThe correct answer is $\\boxed{{{ans}}}$.")
    if style == "changed_mind":  # plain mention of the other value first, the final box last
        return wrap(f"At first glance it looks like {inline(other, rng)}, but {step(rng).lower()}\n\n"
                    f"Therefore the answer is $\\boxed{{{ans}}}$.")
    if style == "box_first":  # short-answer mode: the box, then a justification with its own numbers
        return f"$\\boxed{{{ans}}}$\n\n**Explanation:** {body}"
    if style == "plain_answer":
        a = ans if is_text else rng.choice([ans, inline(ans, rng)])
        return wrap(rng.choice([f"Answer: {a}", f"ANSWER: {a}", f"Final answer: {a}"]))
    if style == "display_eq":  # a displayed final line, no box
        return wrap(f"Putting it together:\n\\[\n{rng.choice(['x = ', 'S = ', ''])}{ans}\n\\]")
    if style == "intermediate_box":
        x = rng.randint(2, 99)
        return (f"{body}\n\nFirst, the intermediate value: $\\boxed{{{x}}}$.\n\n{step(rng)}\n\n"
                f"Final answer: $\\boxed{{{ans}}}$")
    raise ValueError(style)


NO_ANSWER_STYLES = ["truncated", "think_unclosed", "refusal", "empty", "question_back", "no_conclusion"]


def no_answer(rng: random.Random) -> tuple[str, str]:
    style = rng.choice(NO_ANSWER_STYLES)
    body = cot(rng, 4, 12)
    if style == "truncated":
        cut = rng.randint(len(body) // 3, max(len(body) // 3 + 1, len(body) - 1))
        return style, body[:cut]
    if style == "think_unclosed":
        return style, "<think>\n" + body + "\nWait, let me reconsider the"
    if style == "refusal":
        return style, rng.choice(["I'm sorry, but I can't determine the answer from the information given.",
                                  "The problem does not provide enough information to find a unique answer.",
                                  body + "\n\nI am unable to solve this problem."])
    if style == "empty":
        return style, rng.choice(["", " ", "<think>\n\n</think>\n\n", "\n"])
    if style == "question_back":
        return style, "Could you clarify what the question is asking? For example, are we counting ordered pairs?"
    return style, "<think>\n" + body + "\n</think>\n\nI need more time to think about this."


def build(seed: int) -> list[dict]:
    rng = random.Random(seed)
    cases = []
    for kind, count in KINDS:
        for i in range(count):
            spec = kind(rng)
            gformat, gold = gold_text(spec, rng)
            r = rng.random()
            intent = "right" if r < 0.52 else "wrong" if r < 0.94 else "none"
            if intent == "none":
                style, comp = no_answer(rng)
            else:
                style = rng.choices(STYLES, STYLE_WEIGHTS)[0]
                if style == "hash" and not spec.numeric:
                    style = "answer_is"
                comp = completion(spec, intent, style, rng)
            cases.append({"id": f"{spec.category}-{i:04d}", "category": spec.category if intent != "none" else "no_answer",
                          "gold": gold, "completion": comp, "style": style, "gold_format": gformat, "intent": intent})
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20250702)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    cases = build(args.seed)
    with open(args.out, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    by = {}
    for c in cases:
        by[c["category"]] = by.get(c["category"], 0) + 1
    print(f"{len(cases)} cases -> {args.out}")
    print(" ".join(f"{k}:{v}" for k, v in sorted(by.items())))


if __name__ == "__main__":
    main()
