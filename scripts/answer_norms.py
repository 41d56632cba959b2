#!/usr/bin/env python3
"""Where a checkpoint's exact top-k answers lie among its scored rows' norms (docs/index.md, "Exact head").

For Q users sampled from a sequences file: their vectors from `slmrec export --what user-embeddings` (the
sampled users' lines plus one line holding every item id, so the file's ids stay the model's), their exact
top-k over the rows of TENSOR (the head's scored rows; row 0 padding), then how many of those answers are
among the N largest-norm rows, how many distinct items they are, and the norms of both.

    /usr/bin/python3 scripts/answer_norms.py --checkpoint synth1m --data synth_1m.txt \
        --slmrec build/examples/slmrec [--tensor classifier.weight --queries 200 --seed 1]
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np


def tensor(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    if name not in header or header[name]["dtype"] != "F32":
        sys.exit(f"{path}: no float32 tensor {name}")
    a, b = header[name]["data_offsets"]
    shape = tuple(header[name]["shape"])
    return np.array(np.memmap(path, dtype=np.float32, mode="r", offset=8 + n + a, shape=shape))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--slmrec", default="build/examples/slmrec")
    p.add_argument("--tensor", default="classifier.weight")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("-k", type=int, default=10)
    o = p.parse_args()

    rows = tensor(os.path.join(o.checkpoint, "model.safetensors"), o.tensor)
    n_items = rows.shape[0] - 1
    with open(o.data) as f:
        users = sum(1 for _ in f)
    pick = set(np.random.default_rng(o.seed).choice(users, o.queries, replace=False).tolist())
    with tempfile.TemporaryDirectory() as tmp:
        sample = os.path.join(tmp, "users.txt")
        with open(o.data) as f, open(sample, "w") as out:
            # Users renumbered 1..Q in file order (the export's row order), the all-items line last.
            written = 0
            for i, line in enumerate(f):
                if i in pick:
                    written += 1
                    out.write(f"{written} {line.split(maxsplit=1)[1]}")
            out.write(f"{written + 1} " + " ".join(map(str, range(1, n_items + 1))) + "\n")
        vectors = os.path.join(tmp, "users.npy")
        subprocess.run([o.slmrec, "export", "--checkpoint", o.checkpoint, "--what", "user-embeddings",
                        "--data", sample, "--out", vectors], check=True)
        queries = np.load(vectors)[: o.queries]

    scores = queries @ rows.T
    scores[:, 0] = -np.inf
    top = np.argpartition(-scores, o.k, axis=1)[:, : o.k]
    norms = np.linalg.norm(rows, axis=1)
    norms[0] = -1  # padding: never a head row
    rank = np.empty(len(norms), dtype=np.int64)
    rank[np.argsort(-norms, kind="stable")] = np.arange(len(norms))
    print(f"{o.checkpoint} ({o.tensor}, {n_items} rows x {rows.shape[1]}), {o.queries} users of {o.data}, top-{o.k}")
    print("| the N largest-norm rows | share of the exact answers among them |\n|---|---|")
    for n in (500, 1000, 5000, 10000, 20000, 50000):
        if n < n_items:
            print(f"| {n:,} | {np.mean(rank[top] < n):.4f} |")
    print(f"distinct items among the {top.size} answers: {len(np.unique(top))}")
    print(f"row norm median {np.median(norms[1:]):.3f}, 99th percentile {np.percentile(norms[1:], 99):.3f}; "
          f"answers' norm median {np.median(norms[top]):.3f}")


if __name__ == "__main__":
    main()
