#!/usr/bin/env python3
"""docs/scaling.svg from the records of scripts/bench_scale.sh (bench_presets' JSON lines) and, optionally,
scripts/bench_users.sh (one epoch against the number of users).

    scripts/bench_scale.sh | tee docs/scaling/scale.jsonl
    scripts/bench_users.sh | tee docs/scaling/users.jsonl
    scripts/plot_scaling.py docs/scaling/scale.jsonl docs/scaling/users.jsonl docs/scaling.svg

Two log-log panels against catalog size: the training step (full cross-entropy,
sampled softmax at each --negatives) and the step's peak resident memory; with
users records, two more against the number of users: the epoch's time and the
whole run's peak resident memory. Plain SVG, no plotting library, so it runs
wherever Python 3 does.
"""
import json
import math
import os
import sys

W, H, PAD_L, PAD_R, PAD_T, PAD_B, GAP = 900, 380, 70, 20, 40, 60, 90
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]


def series_of(records):
    """{label: [(items, ms, rss_mb)]} for the training records, one series per loss and negatives."""
    out = {}
    for r in records:
        if r.get("what") != "train":
            continue
        label = "full cross-entropy" if r.get("loss", "ce") == "ce" else f"sampled, {r['negatives']:,} draws"
        out.setdefault(label, []).append((r["items"], r["ms_median"], r["peak_rss_mb"]))
    return {k: sorted(v) for k, v in out.items()}


def users_series_of(records):
    """{label: [(users, epoch_s, rss_mb)]} for the records of bench_users.sh."""
    pts = sorted((r["users"], r["epoch_s"], r["peak_rss_mb"]) for r in records if r.get("what") == "users")
    return {f"one epoch, sampled softmax, {records_items(records):,} items": pts} if pts else {}


def records_items(records):
    items = {r["items"] for r in records if r.get("what") == "users"}
    if len(items) != 1:
        sys.exit(f"users records for catalogs of {sorted(items)} items: expected one catalog size")
    return items.pop()


def log_ticks(lo, hi):
    return [10 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]


def panel(x0, y0, width, series, column, ylabel, title, xlabel="items in the catalog"):
    xs = [p[0] for s in series.values() for p in s]
    ys = [p[column] for s in series.values() for p in s]
    xt, yt = log_ticks(min(xs), max(xs)), log_ticks(min(ys), max(ys))
    lx0, lx1, ly0, ly1 = math.log10(xt[0]), math.log10(xt[-1]), math.log10(yt[0]), math.log10(yt[-1])
    plot_h, top = H - PAD_T - PAD_B, y0 + PAD_T

    def px(x):
        return x0 + (math.log10(x) - lx0) / (lx1 - lx0) * width

    def py(y):
        return top + plot_h - (math.log10(y) - ly0) / (ly1 - ly0) * plot_h

    svg = [f'<text x="{x0 + width / 2}" y="{top - 15}" text-anchor="middle" font-weight="bold">{title}</text>',
           f'<rect x="{x0}" y="{top}" width="{width}" height="{plot_h}" fill="none" stroke="#444"/>']
    for t in xt:
        svg.append(f'<line x1="{px(t)}" y1="{top}" x2="{px(t)}" y2="{top + plot_h}" stroke="#ddd"/>')
        svg.append(f'<text x="{px(t)}" y="{top + plot_h + 18}" text-anchor="middle">{t:,}</text>')
    for t in yt:
        svg.append(f'<line x1="{x0}" y1="{py(t)}" x2="{x0 + width}" y2="{py(t)}" stroke="#ddd"/>')
        svg.append(f'<text x="{x0 - 6}" y="{py(t) + 4}" text-anchor="end">{t:g}</text>')
    svg.append(f'<text x="{x0 + width / 2}" y="{y0 + H - 20}" text-anchor="middle">{xlabel}</text>')
    svg.append(f'<text transform="translate({x0 - 52},{top + plot_h / 2}) rotate(-90)" '
               f'text-anchor="middle">{ylabel}</text>')
    for i, (label, pts) in enumerate(series.items()):
        c = COLORS[i % len(COLORS)]
        path = " ".join(f"{px(p[0]):.1f},{py(p[column]):.1f}" for p in pts)
        svg.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        for p in pts:
            svg.append(f'<circle cx="{px(p[0]):.1f}" cy="{py(p[column]):.1f}" r="3.5" fill="{c}"/>')
        svg.append(f'<text x="{x0 + 10}" y="{top + 18 + 16 * i}" fill="{c}">{label}</text>')
    return svg


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    records = []
    for path in sys.argv[1:-1]:
        with open(path) as f:
            records += [json.loads(line) for line in f if line.startswith("{")]
    series = series_of(records)
    if not series:
        sys.exit(f"{sys.argv[1]}: no training records (lines of bench_presets --what train)")
    users = users_series_of(records)
    width = (W - PAD_L - PAD_R - GAP) / 2
    body = panel(PAD_L, 0, width, series, 1, "training step, ms (median)", "Step time: student shape, batch 128 x 50")
    body += panel(PAD_L + width + GAP, 0, width, series, 2, "peak resident memory, MB", "Memory of the step's process")
    if users:
        body += panel(PAD_L, H, width, users, 1, "one epoch, s", "Epoch time against users", "users")
        body += panel(PAD_L + width + GAP, H, width, users, 2, "peak resident memory, MB",
                      "Memory of the whole run against users", "users")
    height = 2 * H if users else H
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" font-family="sans-serif" '
           f'font-size="12">', f'<rect width="{W}" height="{height}" fill="white"/>'] + body + ["</svg>"]
    tmp = sys.argv[-1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(svg) + "\n")
    os.replace(tmp, sys.argv[-1])  # atomically: a reader never sees half a plot


if __name__ == "__main__":
    main()
