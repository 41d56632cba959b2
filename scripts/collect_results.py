#!/usr/bin/env python3
"""Collects test_metrics.json files of trained checkpoints into markdown tables.

  scripts/collect_results.py RUN_DIR...   (each RUN_DIR ends in _s<seed>)

Runs sharing a name up to the seed are grouped: one row per seed and a mean row.
Optional sampled.json files next to test_metrics.json (the output of
`slmrec eval --protocol sampled --json`, last line) add the sampled columns.
"""
import json
import os
import re
import sys
from collections import defaultdict

KEYS = ["HR@1", "HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20", "MRR"]


def last_json(path):
    """A JSON file, or the last JSON line of a command's output."""
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads([l for l in text.splitlines() if l.startswith("{")][-1])


groups = defaultdict(list)
for d in sys.argv[1:]:
    d = d.rstrip("/")
    m = re.match(r"(.*)_s(\d+)$", os.path.basename(d))
    name, seed = (m.group(1), int(m.group(2))) if m else (os.path.basename(d), 0)
    full = last_json(os.path.join(d, "test_metrics.json"))
    sampled = os.path.join(d, "sampled.json")
    groups[name].append((seed, full, last_json(sampled) if os.path.exists(sampled) else None))

print("| run | seed | " + " | ".join(KEYS) + " | best epoch | s to best | sampled-99 HR@10 | sampled-99 NDCG@10 |")
print("|---" * (len(KEYS) + 6) + "|")
for name, runs in sorted(groups.items()):
    runs.sort()
    for seed, full, samp in runs:
        s = f"{samp['HR@10']:.4f} | {samp['NDCG@10']:.4f}" if samp else "– | –"
        print(f"| {name} | {seed} | " + " | ".join(f"{full[k]:.4f}" for k in KEYS)
              + f" | {full['best_epoch']} | {full['seconds_to_best']:.0f} | {s} |")
    n = len(runs)
    mean = {k: sum(r[1][k] for r in runs) / n for k in KEYS}
    samp = [r[2] for r in runs if r[2]]
    s = (f"{sum(x['HR@10'] for x in samp) / len(samp):.4f} | {sum(x['NDCG@10'] for x in samp) / len(samp):.4f}"
         if len(samp) == n else "– | –")
    print(f"| **{name} mean** | {n} seeds | " + " | ".join(f"**{mean[k]:.4f}**" for k in KEYS)
          + f" | | {sum(r[1]['seconds_to_best'] for r in runs) / n:.0f} | {s} |")
