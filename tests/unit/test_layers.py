#!/usr/bin/env python3
"""The layout rules of docs/architecture.md, checked on the source tree.

Every quoted #include is resolved to a file of the tree (or to generated
protobuf code) and must be allowed by the table below: a folder may include
only from the folders listed for it. The include graph must have no cycle.
Prints each violation and exits 1 if there is any."""
import os
import re
import sys

SRC = os.environ.get("ATOLL_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Include roots, as the build passes them, in search order after the
# including file's own folder.
ROOTS = ["include", "lib", "server", "island", "drivers/common", "drivers/dcap",
         "drivers/sim", "tools/atollctl", "tests"]

# Who may include whom: the first matching prefix of the including file
# decides; its list holds the prefixes it may include. "proto" stands for
# generated protobuf-c code.
LIB = ["include/", "lib/"]
RULES = [
    ("include/atoll/", ["include/atoll/"]),
    ("lib/util/", ["include/atoll/", "lib/util/"]),
    ("lib/attest/", LIB),
    ("lib/rpc/", LIB),
    ("lib/pbjson/", LIB + ["proto"]),
    ("lib/client/", LIB + ["proto"]),
    ("lib/", LIB),
    ("server/store/", ["include/atoll/", "lib/util/", "server/store/"]),
    ("server/core/", LIB + ["server/core/", "server/store/", "server/config.h",
                            "server/metrics.h"]),
    ("server/", LIB + ["server/", "proto"]),
    ("island/", LIB + ["island/", "proto"]),
    ("drivers/", ["include/atoll/", "lib/util/", "lib/json/", "drivers/"]),
    ("plugins/", LIB + ["plugins/"]),
    ("tools/", LIB + ["tools/", "proto", "drivers/sim/simtool.h", "island/config.h",
                      "island/manifest.h"]),
    ("bench/", None),  # anything
    ("tests/", None),
    ("docs/examples/", ["include/atoll/"]),
]

INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources():
    for top in ["include", "lib", "server", "island", "drivers", "plugins", "tools",
                "bench", "tests", "docs/examples"]:
        base = os.path.join(SRC, top)
        for dirpath, dirnames, files in os.walk(base):
            dirnames[:] = [d for d in dirnames if d not in ("node_modules", "corpus")]
            for f in files:
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), SRC)


def resolve(frm, name):
    cands = [os.path.join(os.path.dirname(frm), name)] + [os.path.join(r, name) for r in ROOTS]
    for c in cands:
        c = os.path.normpath(c)
        if os.path.isfile(os.path.join(SRC, c)):
            return c
    if name.endswith(".pb-c.h"):
        return "proto"
    return None


def allowed(frm, to):
    for prefix, ok in RULES:
        if frm.startswith(prefix):
            if ok is None:
                return True
            return any(to == p or to.startswith(p) for p in ok)
    return True


def main():
    bad = []
    graph = {}
    for f in sources():
        with open(os.path.join(SRC, f), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        deps = []
        for name in INC.findall(text):
            to = resolve(f, name)
            if to is None:
                # Tests and benchmarks add include folders of their own.
                if not f.startswith(("tests/", "bench/")):
                    bad.append(f"{f}: cannot resolve \"{name}\"")
                continue
            if not allowed(f, to):
                bad.append(f"{f}: may not include {to}")
            if to != "proto":
                deps.append(to)
        graph[f] = deps
    # Cycles: depth-first search with colours.
    colour = {}

    def visit(n, stack):
        colour[n] = 1
        stack.append(n)
        for d in graph.get(n, []):
            if colour.get(d) == 1:
                bad.append("include cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            elif not colour.get(d):
                visit(d, stack)
        stack.pop()
        colour[n] = 2

    for n in sorted(graph):
        if not colour.get(n):
            visit(n, [])
    for b in bad:
        print("FAIL", b)
    print(f"{len(graph)} files, {sum(len(v) for v in graph.values())} includes, "
          f"{len(bad)} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
