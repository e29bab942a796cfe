"""Puts the real Math-Verify (reference sources, never vendored here) on sys.path.

The sources are two exported trees (see README.md): Math-Verify 0.8.0 and latex2sympy2_extended 1.10.2,
named by the environment variables MATH_VERIFY_SRC and LATEX2SYMPY_SRC (or --math-verify / --latex2sympy,
which every script here accepts). setup.sh prepares the latex2sympy2_extended tree once: it generates the
ANTLR 4.9.3 parser from the tree's own PS.g4 and antlr-4.9.3-complete.jar, and writes the version shim that
lets Debian's python3-antlr4 (runtime 4.9.1, the same 4.9 serialized-ATN format) pass latex2sympy2_extended's
runtime-version check.

Run with Debian's /usr/bin/python3 (3.11, python3-sympy, python3-antlr4).
"""
import argparse
import os
import sys

SHIM = ".r1-antlr-shim"  # inside the latex2sympy2_extended tree, written by setup.sh


def add_source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--math-verify", default=os.environ.get("MATH_VERIFY_SRC"),
                        help="exported Math-Verify tree (default: $MATH_VERIFY_SRC)")
    parser.add_argument("--latex2sympy", default=os.environ.get("LATEX2SYMPY_SRC"),
                        help="exported latex2sympy2_extended tree (default: $LATEX2SYMPY_SRC)")


def activate(mv_tree: str | None, l2s_tree: str | None) -> dict:
    """Prepends the two source trees (and the ANTLR version shim) to sys.path; returns the versions found."""
    if not mv_tree or not l2s_tree:
        sys.exit("give --math-verify and --latex2sympy (or MATH_VERIFY_SRC / LATEX2SYMPY_SRC); see README.md")
    mv_src = os.path.join(os.path.abspath(mv_tree), "src")
    l2s_src = os.path.join(os.path.abspath(l2s_tree), "src")
    shim = os.path.join(os.path.abspath(l2s_tree), SHIM)
    for path, what in ((mv_src, "math_verify"), (l2s_src, "latex2sympy2_extended")):
        if not os.path.isdir(os.path.join(path, what)):
            sys.exit(f"{path}/{what} not found: is this the exported {what} tree?")
    gen = os.path.join(l2s_src, "latex2sympy2_extended", "gen", "antlr4_9_3", "PSParser.py")
    if not os.path.isdir(shim) or not os.path.isfile(gen):
        sys.exit(f"{l2s_tree} is not prepared: run tests/reference/math-verify/setup.sh first")
    sys.path[:0] = [shim, mv_src, l2s_src]
    import math_verify  # noqa: F401  (fails here, not later, when the setup is broken)
    import sympy
    return {
        "math_verify": _pyproject_version(mv_tree),
        "latex2sympy2_extended": _pyproject_version(l2s_tree),
        "sympy": sympy.__version__,
        "antlr4_runtime": _antlr_runtime_version(),
        "python": sys.version.split()[0],
    }


def _pyproject_version(tree: str) -> str:
    try:
        with open(os.path.join(tree, "pyproject.toml"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("version"):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "?"


def _antlr_runtime_version() -> str:
    try:
        from antlr4.Recognizer import Recognizer
        import inspect
        src = inspect.getsource(Recognizer.checkVersion)
        return src.split('runtimeVersion = "', 1)[1].split('"', 1)[0]
    except Exception:
        return "?"


def presets():
    """The two presets, as functions (gold_text, pred_text) -> (gold_parsed, pred_parsed, correct, extra)."""
    from math_verify import LatexExtractionConfig, parse, verify
    from latex2sympy2_extended import NormalizationConfig

    def math_verify_defaults(gold: str, pred: str):
        # The library defaults (README "Example Usage"): verify(parse(gold), parse(pred)).
        g = parse(gold)
        p = parse(pred)
        return g, p, bool(verify(g, p)), {}

    def open_r1(gold: str, pred: str):
        # open-r1 src/open_r1/rewards.py accuracy_reward (commit in README.md), line for line.
        g = parse(gold, extraction_mode="first_match")
        if len(g) == 0:
            # open-r1 gives reward None (the example is skipped) and never parses the completion.
            return g, [], False, {"gold_empty": True}
        p = parse(
            pred,
            extraction_config=[
                LatexExtractionConfig(
                    normalization_config=NormalizationConfig(
                        nits=False,
                        malformed_operators=False,
                        basic_latex=True,
                        equations=True,
                        boxed="all",
                        units=True,
                    ),
                    boxed_match_priority=0,
                    try_extract_without_anchor=False,
                )
            ],
            extraction_mode="first_match",
        )
        try:
            return g, p, bool(verify(g, p)), {}
        except Exception as e:  # open-r1: reward None
            return g, p, False, {"verify_error": f"{type(e).__name__}: {e}"}

    return {"math_verify": math_verify_defaults, "open_r1": open_r1}
