"""slmrec from Python: load Beauty, train SASRec, evaluate, recommend for three
users, and show the validation curve (matplotlib if installed, else a table).

    python3 examples/python/quickstart.py [--data ../shared/data/s3rec_beauty/Beauty.txt]
        [--out runs/quickstart] [--epochs 200]

The defaults are the command line's (`slmrec train --data Beauty.txt`); on 2
cores an epoch of Beauty takes a few seconds, early stopping ends the run.
"""
import argparse
import pathlib

import numpy as np

import slmrec

here = pathlib.Path(__file__).resolve().parent
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default=str(here.parents[1] / ".." / "shared" / "data" / "s3rec_beauty" / "Beauty.txt"))
parser.add_argument("--out", default="runs/quickstart")
parser.add_argument("--epochs", type=int, default=200)
parser.add_argument("--plot", default="quickstart_curve.png", help="where the curve goes (with matplotlib)")
args = parser.parse_args()

ds = slmrec.load_dataset(args.data)
print(ds, ds.stats())

curve = []  # one record per epoch, as metrics.jsonl holds it


def progress(record):
    curve.append(record)
    print(f"epoch {record['epoch']:3d}  loss {record['train_loss']:.4f}  valid NDCG@10 {record['valid']['NDCG@10']:.4f}")


model = slmrec.train(ds, out=args.out, arch="sasrec", epochs=args.epochs, seed=0, progress=progress)
print("test (full ranking):", {k: round(v, 4) for k, v in model.evaluate(ds).items() if k.startswith(("HR", "NDCG"))})
print("test (sampled, 99 negatives):", model.evaluate(ds, protocol="sampled", negatives=99)["NDCG@10"])

users = [0, 1, 2]
ids, scores = model.recommend([ds[u] for u in users], k=10)
for u, row, s in zip(users, ids, scores):
    print(f"user {u + 1}: history {ds[u].tolist()[-5:]} -> top 10 {row.tolist()} (best score {s[0]:.3f})")

epochs = np.array([r["epoch"] for r in curve])
ndcg = np.array([r["valid"]["NDCG@10"] for r in curve])
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("\nepoch  valid NDCG@10")
    for e, v in zip(epochs, ndcg):
        print(f"{e:5d}  {v:.4f}")
else:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(epochs, ndcg, marker=".")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation NDCG@10")
    ax.set_title(f"SASRec on {pathlib.Path(args.data).name}")
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    print(f"validation curve: {args.plot}")
