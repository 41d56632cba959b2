#!/usr/bin/env python3
"""Dependencies point downward: no header of include/slmrec/ reaches, through
any chain of includes, a folder above its own. Exit 1 naming each violation
with the include chain that makes it.

    python3 scripts/check_layers.py [include_dir]
"""
import re
import sys
from pathlib import Path

# What each folder may not reach (directly or through other headers). The
# order of the library, bottom up: core; io, backend; nn, data, dist (the
# communicators; its gradient exchange knows the parameter store); quant,
# eval, index; prune, model; distill, train; jobs, serve (docs/architecture.md).
ABOVE = {
    "core": {"io", "backend", "nn", "data", "quant", "eval", "index", "prune", "model", "distill", "train", "dist", "jobs", "serve"},
    "io": {"backend", "nn", "data", "quant", "eval", "index", "prune", "model", "distill", "train", "dist", "jobs", "serve"},
    "backend": {"io", "nn", "data", "quant", "eval", "index", "prune", "model", "distill", "train", "dist", "jobs", "serve"},
    "nn": {"data", "quant", "eval", "index", "prune", "model", "distill", "train", "dist", "jobs", "serve"},
    "data": {"nn", "quant", "eval", "index", "prune", "model", "distill", "train", "dist", "jobs", "serve"},
    "quant": {"data", "eval", "index", "prune", "model", "distill", "train", "dist", "jobs", "serve"},
    "eval": {"nn", "quant", "index", "prune", "model", "distill", "train", "jobs", "serve"},
    "index": {"nn", "quant", "eval", "prune", "model", "distill", "train", "dist", "jobs", "serve"},
    # prune and model know each other's lower halves (policy tags, configs); neither knows training.
    "prune": {"distill", "train", "dist", "jobs", "serve"},
    "model": {"distill", "train", "dist", "jobs", "serve"},
    "distill": {"train", "jobs", "serve"},
    "train": {"distill", "jobs", "serve"},
    "dist": {"data", "quant", "eval", "index", "prune", "model", "distill", "train", "jobs", "serve"},
    "jobs": {"serve"},
    "serve": {"jobs", "distill"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*<slmrec/([^>]+)>', re.M)


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "include") / "slmrec"
    headers = {p.relative_to(root).as_posix(): p for p in root.rglob("*.hpp")}
    direct = {h: INCLUDE.findall(p.read_text(encoding="utf-8")) for h, p in headers.items()}
    bad = []
    for h in sorted(headers):
        folder = h.split("/")[0]
        if folder not in ABOVE:
            continue
        # Breadth-first over includes, remembering how each header was reached.
        via = {h: None}
        queue = [h]
        while queue:
            cur = queue.pop(0)
            for inc in direct.get(cur, []):
                if inc in via or inc not in headers:
                    continue
                via[inc] = cur
                queue.append(inc)
                if inc.split("/")[0] in ABOVE[folder]:
                    chain = [inc]
                    while via[chain[-1]] is not None:
                        chain.append(via[chain[-1]])
                    bad.append(f"{h} reaches {inc.split('/')[0]}/: " + " -> ".join(reversed(chain)))
    for line in bad:
        print(line)
    print(f"check_layers: {len(headers)} headers, {len(bad)} upward dependencies")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
