#!/usr/bin/env python3
"""bench_presets of two builds side by side: training step and inference batch
on each preset, rounds alternating between the builds, medians of the rounds'
medians. For a change's before and after (scripts/compare_builds.sh checks the
results, this the speed) and for the wheel's flags against -march=native
(bench_python.py --what native).

  OMP_NUM_THREADS=2 python3 benchmarks/builds_side_by_side.py \\
      --builds before=../ci-check/build,after=build --presets student,teacher --rounds 3 --reps 10

A build may carry a SLMREC_SIMD cap (core/cpu_features.hpp), to time the
kernels another CPU would run: --builds plain=build-portable@plain,avx2=build-portable@avx2

Prints one JSON line per measurement and a markdown table.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def run_json(cmd, env=None):
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def side_by_side(builds, presets, rounds, reps, what="train,infer"):
    """builds: [(label, build directory[@SLMREC_SIMD cap])], two of them; returns rows (preset, what, ms of each)."""
    rows = []
    (la, _), (lb, _) = builds
    for preset in presets:
        res = {label: {} for label, _ in builds}
        for _ in range(rounds):
            for label, build in builds:
                build, _, cap = build.partition("@")
                env = dict(os.environ, SLMREC_SIMD=cap) if cap else None
                recs = run_json([os.path.join(build, "benchmarks", "bench_presets"), "--preset", preset, "--what", what,
                                 "--reps", str(reps), "--warmup", "2"], env)
                for r in recs:
                    res[label].setdefault(r["what"], []).append(r["ms_median"])
        for w in sorted(res[la]):
            a, b = statistics.median(res[la][w]), statistics.median(res[lb][w])
            rows.append((preset, w, a, b))
            print(json.dumps({"preset": preset, "what": w, f"{la}_ms": a, f"{lb}_ms": b, f"{lb}_over_{la}": b / a,
                              "rounds": {la: res[la][w], lb: res[lb][w]}}))
    print(f"\n| preset | what | {la} ms | {lb} ms | {lb} / {la} |\n|---|---|---|---|---|")
    for preset, w, a, b in rows:
        print(f"| {preset} | {w} | {a:.2f} | {b:.2f} | {b / a:.3f} |")
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--builds", required=True, help="LABEL=DIR[@SIMD],LABEL=DIR[@SIMD]: two build directories")
    p.add_argument("--presets", default="student,teacher")
    p.add_argument("--what", default="train,infer")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reps", type=int, default=10)
    a = p.parse_args()
    builds = [tuple(b.split("=", 1)) for b in a.builds.split(",")]
    if len(builds) != 2 or any(len(b) != 2 for b in builds):
        p.error("--builds takes two LABEL=DIR")
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')}")
    side_by_side(builds, a.presets.split(","), a.rounds, a.reps, a.what)


if __name__ == "__main__":
    sys.exit(main())
