#!/usr/bin/env python3
"""Checks that every behaviour rule id the repository cites is defined.

docs/semantics.md defines the rules, one bullet each ("- **EL-03** ...").
Code, tests and docs cite them as EL-03, or as EL_03 in test names
(TEST(TK, TK_07_...)). A cited id of a known area that the page does not
define fails the check, so a test cannot point at a rule nobody can read.
Names of the old, external contract file fail it too: cite docs/semantics.md.

Usage: tools/check-rule-ids.py [REPO]   (default: the repository holding this script)
Exit status 0 when every id resolves, 1 otherwise (the offenders are listed).
"""
import os
import re
import sys

# Where ids are cited; build folders sit beside these and are not walked.
SCAN_DIRS = ["include", "src", "tests", "docs", "bench", "examples", "tools", ".ci"]
SCAN_FILES = ["README.md", "Makefile", "CMakeLists.txt"]
TEXT_SUFFIXES = (".hpp", ".h", ".cpp", ".cc", ".md", ".py", ".sh", ".cmake", ".txt", ".in")

DEFINITION = re.compile(r"^- \*\*([A-Z]{2,3}-\d{2})\*\*", re.M)
# The old contract file, spelled so that this script does not match itself.
STALE_NAME = "SEMANTICS" + ".md"


def defined_ids(page):
    with open(page, encoding="utf-8") as f:
        ids = DEFINITION.findall(f.read())
    dups = sorted({i for i in ids if ids.count(i) > 1})
    return set(ids), dups


def files_to_scan(repo):
    for name in SCAN_FILES:
        path = os.path.join(repo, name)
        if os.path.isfile(path):
            yield path
    for d in SCAN_DIRS:
        for root, dirs, files in os.walk(os.path.join(repo, d)):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(TEXT_SUFFIXES) or name in ("CMakeLists.txt", "run"):
                    yield os.path.join(root, name)


def main():
    repo = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    page = os.path.join(repo, "docs", "semantics.md")
    if not os.path.isfile(page):
        print("check-rule-ids: %s not found" % page)
        return 1
    ids, dups = defined_ids(page)
    if not ids:
        print("check-rule-ids: no rule defined in %s (expected lines like '- **EL-01** ...')" % page)
        return 1
    areas = sorted({i.split("-")[0] for i in ids}, key=len, reverse=True)
    # EL-03 or EL_03 not glued to a longer word or number on either side.
    cited = re.compile(r"(?<![A-Za-z0-9])(%s)[-_](\d{2})(?![0-9])" % "|".join(areas))

    problems = ["docs/semantics.md: %s defined more than once" % i for i in dups]
    seen = 0
    me = os.path.abspath(__file__)
    for path in files_to_scan(repo):
        if os.path.abspath(path) == me:
            continue
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (UnicodeDecodeError, OSError):
            continue  # not text
        rel = os.path.relpath(path, repo)
        for n, line in enumerate(lines, 1):
            for m in cited.finditer(line):
                seen += 1
                rid = "%s-%s" % (m.group(1), m.group(2))
                if rid not in ids:
                    problems.append("%s:%d: %s is not a rule of docs/semantics.md" % (rel, n, m.group(0)))
            if STALE_NAME in line:
                problems.append("%s:%d: cites %s, which is not in the repository; cite docs/semantics.md"
                                % (rel, n, STALE_NAME))
    for p in problems:
        print(p)
    if problems:
        print("check-rule-ids: %d problem(s); rules are defined in docs/semantics.md" % len(problems))
        return 1
    print("check-rule-ids: %d citations, all of the %d rules in docs/semantics.md" % (seen, len(ids)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
