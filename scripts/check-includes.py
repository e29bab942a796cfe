#!/usr/bin/env python3
"""Checks every #include of the library and the CLI against scripts/include-rules.txt.

  scripts/check-includes.py            check the tree (exit 1 listing each forbidden include as file:line)
  scripts/check-includes.py --graph    print the arrows the tree actually has, part by part

A quoted include names a file relative to src/ ("model/layers.h") or include/ ("r1/model.h"), or a file beside
the includer ("commands.h"); it belongs to the part of that file. Angle-bracket includes are checked only
against `forbid` lines. Rules file errors name the file and line.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(ROOT, "scripts", "include-rules.txt")
SCANNED = ("src", "include", "tools")
SOURCE_ENDINGS = (".h", ".hpp", ".cpp", ".cc", ".in")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def fail_rules(line_no, message):
    sys.exit(f"{os.path.relpath(RULES, ROOT)}:{line_no}: {message}")


def read_rules():
    parts, allow, public_only, forbid = {}, {}, set(), []
    with open(RULES, encoding="utf-8") as f:
        for line_no, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
            if not line:
                continue
            words = line.split()
            kind = words[0]
            if kind == "part" and len(words) >= 3:
                for path in words[2:]:
                    if path in parts:
                        fail_rules(line_no, f"'{path}' is already in part '{parts[path]}'")
                    parts[path] = words[1]
            elif kind == "allow" and len(words) >= 3 and words[2] == "->":
                allow.setdefault(words[1], set()).update(words[3:])
            elif kind == "public-only" and len(words) == 2:
                public_only.add(words[1])
            elif kind == "forbid" and len(words) >= 4:
                forbid.append((words[1], words[2], " ".join(words[3:]), line_no))
            else:
                fail_rules(line_no, f"cannot read '{line}' (see the syntax at the top of the file)")
    names = set(parts.values())
    for name, targets in allow.items():
        for t in targets | {name}:
            if t not in names:
                fail_rules(0, f"allow line of '{name}' names '{t}', which no part line defines")
    return parts, allow, public_only, forbid


def part_of(path, parts):
    best = None
    for prefix, name in parts.items():
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, name)
    return best[1] if best else None


def find_cycle(allow):
    state, stack = {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(allow.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(allow):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def resolve(includer, target):
    """The repository path a quoted include refers to, or None when it is not one of ours."""
    beside = os.path.normpath(os.path.join(os.path.dirname(includer), target))
    for candidate in (beside, os.path.join("src", target), os.path.join("include", target)):
        if os.path.isfile(os.path.join(ROOT, candidate)):
            return candidate
    return None


def main():
    graph_only = "--graph" in sys.argv[1:]
    if any(a not in ("--graph",) for a in sys.argv[1:]):
        sys.exit(__doc__)
    parts, allow, public_only, forbid = read_rules()
    cycle = find_cycle(allow)
    if cycle:
        sys.exit(f"{os.path.relpath(RULES, ROOT)}: the allowed arrows form a cycle: {' -> '.join(cycle)}")
    problems, arrows, unowned = [], {}, []
    for top in SCANNED:
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in sorted(files):
                if not name.endswith(SOURCE_ENDINGS):
                    continue
                path = os.path.relpath(os.path.join(folder, name), ROOT)
                part = part_of(path, parts)
                if part is None:
                    unowned.append(path)
                    continue
                with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
                    for line_no, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        bracket, target = m.groups()
                        where = f"{path}:{line_no}"
                        for who, prefix, why, _ in forbid:
                            if who == part and target.startswith(prefix):
                                problems.append(f"{where}: {part} may not include <{target}>: {why}")
                        if bracket != '"':
                            continue
                        resolved = resolve(path, target)
                        if resolved is None:
                            continue
                        to = part_of(resolved, parts)
                        if to is None or to == part:
                            continue
                        arrows.setdefault(part, set()).add(to)
                        if to not in allow.get(part, set()):
                            problems.append(f"{where}: {part} -> {to} (\"{target}\") is not an allowed arrow")
                        elif part in public_only and not resolved.startswith("include/"):
                            problems.append(f"{where}: {part} may include only the public API (include/r1/), "
                                            f"not \"{target}\"")
    if graph_only:
        for part in sorted(arrows):
            print(f"{part} -> {' '.join(sorted(arrows[part]))}")
        return 0
    for path in unowned:
        problems.append(f"{path}: in no part of {os.path.relpath(RULES, ROOT)}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check-includes: {len(problems)} forbidden include(s); the rules are in "
              f"{os.path.relpath(RULES, ROOT)}", file=sys.stderr)
        return 1
    print(f"check-includes: the includes follow {os.path.relpath(RULES, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
