#!/usr/bin/env python3
"""Collects test_metrics.json files of trained checkpoints into markdown tables.

  scripts/collect_results.py [--sampled FILE] [--distill] RUN_DIR...   (each RUN_DIR ends in _s<seed>)

Runs sharing a name up to the seed are grouped: one row per seed and a mean row.
Optional sampled files next to test_metrics.json (the output of
`slmrec eval --protocol sampled --negatives N --json`, last line; default name
sampled.json) add the sampled columns, labelled with their N (popularity-N for a
popularity draw).

--distill adds issue 4's comparison for every setting X that has all four groups
X_llama8 (teacher), X_kd2_first (distilled 2 <- 8), X_ce2_first (its
cross-entropy twin) and X_llama2 (2 layers from scratch), on mean test NDCG@10.
"""
import argparse
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


def sampled_label(sampled):
    """'sampled-N', or 'popularity-N' for negatives drawn by popularity, from 'target vs N [sampler] negatives'."""
    m = re.search(r"vs (\d+) (popularity )?", sampled.get("protocol", ""))
    if not m:
        return "sampled"
    return ("popularity-" if m.group(2) else "sampled-") + m.group(1)


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--sampled", default="sampled.json", help="name of the sampled-protocol file in each run")
parser.add_argument("--distill", action="store_true", help="add the teacher / distilled / twin / scratch comparison")
parser.add_argument("runs", nargs="+")
args = parser.parse_args()

groups = defaultdict(list)
for d in args.runs:
    d = d.rstrip("/")
    m = re.match(r"(.*)_s(\d+)$", os.path.basename(d))
    name, seed = (m.group(1), int(m.group(2))) if m else (os.path.basename(d), 0)
    full = last_json(os.path.join(d, "test_metrics.json"))
    sampled = os.path.join(d, args.sampled)
    groups[name].append((seed, full, last_json(sampled) if os.path.exists(sampled) else None))

labels = {sampled_label(s) for runs in groups.values() for _, _, s in runs if s}
label = labels.pop() if len(labels) == 1 else "sampled"
print("| run | seed | " + " | ".join(KEYS) + f" | best epoch | s to best | {label} HR@10 | {label} NDCG@10 |")
print("|---" * (len(KEYS) + 6) + "|")
for name, runs in sorted(groups.items()):
    runs.sort(key=lambda r: r[0])
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

if args.distill:
    roles = {"teacher": "_llama8", "distilled": "_kd2_first", "twin": "_ce2_first", "scratch": "_llama2"}
    ndcg = {name: sum(r[1]["NDCG@10"] for r in runs) / len(runs) for name, runs in groups.items()}
    seeds = {name: len(runs) for name, runs in groups.items()}
    settings = sorted({n[: -len(roles["teacher"])] for n in groups if n.endswith(roles["teacher"])})
    print()
    print("| setting | teacher | distilled | twin | scratch | distilled / teacher (>= 0.97) "
          "| distilled - twin | distilled - scratch | seeds |")
    print("|---" * 9 + "|")
    for x in settings:
        names = {role: x + suffix for role, suffix in roles.items()}
        missing = [n for n in names.values() if n not in ndcg]
        if missing:
            print(f"collect_results: setting {x} left out of the comparison, no runs named {', '.join(missing)}",
                  file=sys.stderr)
            continue
        m = {role: ndcg[n] for role, n in names.items()}
        counts = sorted({seeds[n] for n in names.values()})
        print(f"| {x} | {m['teacher']:.4f} | {m['distilled']:.4f} | {m['twin']:.4f} | {m['scratch']:.4f} "
              f"| {m['distilled'] / m['teacher']:.2f} | {m['distilled'] - m['twin']:+.4f} "
              f"| {m['distilled'] - m['scratch']:+.4f} | {'/'.join(map(str, counts))} |")
