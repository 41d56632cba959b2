#!/usr/bin/env python3
"""The Python module's overhead and portable speed (docs/python.md), three parts:

  batch     a batch of 128 users' top-10 through slmrec.Model.recommend against
            the C++ model::server on the same checkpoint and the same padded
            histories (bench_quant_model --schemes fp32: the first 128 users'
            last max_len items), median of per-round medians, rounds alternating.
  threads   N recommend calls of `--thread-batch` users from one Python thread,
            then the same N calls split over two threads (model loaded with
            threads=1, so each call stays on one core): calls per second.
  native    bench_presets of two builds, -march=native and not (the wheel's
            flags), on presets (student, teacher): training step and inference
            batch, side by side, rounds alternating.

  python3 benchmarks/bench_python.py --what batch,threads --checkpoint runs/student \
      --data ../shared/data/s3rec_beauty/Beauty.txt --bench-quant-model build/benchmarks/bench_quant_model
  python3 benchmarks/bench_python.py --what native --native-build build --portable-build build-portable

PYTHONPATH must reach the slmrec package (build/python, or an installed wheel).
Prints a markdown table per part and one JSON line per measurement.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import numpy as np


def median_ms(f, warmup, reps):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def first_users_padded(ds, users, max_len):
    """As bench_quant_model --data: the last max_len items of the first users, left-padded."""
    out = np.zeros((users, max_len), dtype=np.int32)
    for r in range(min(users, len(ds))):
        h = ds[r][-max_len:]
        out[r, max_len - len(h):] = h
    return out


def run_json(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def part_batch(a, slmrec):
    model = slmrec.load(a.checkpoint)
    ds = slmrec.load_dataset(a.data)
    batch = first_users_padded(ds, a.batch, model.max_len)
    py_ms, cpp_ms = [], []
    for _ in range(a.rounds):
        py_ms.append(median_ms(lambda: model.recommend(batch, k=10), 2, a.reps))
        rec = run_json([a.bench_quant_model, "--checkpoint", a.checkpoint, "--data", a.data, "--schemes", "fp32",
                        "--batch", str(a.batch), "--rounds", "1", "--reps", str(a.reps)])
        ms = next(r for r in rec if r.get("scheme") == "fp32")["batch_ms"]  # its rounds' medians
        cpp_ms.append(statistics.median(ms) if isinstance(ms, list) else ms)
    py, cpp = statistics.median(py_ms), statistics.median(cpp_ms)
    print(f"\n| batch of {a.batch}, top-10 | Python ms | C++ model::server ms | Python / C++ |\n|---|---|---|---|")
    print(f"| {a.checkpoint} | {py:.3f} | {cpp:.3f} | {py / cpp:.3f} |")
    print(json.dumps({"part": "batch", "users": a.batch, "python_ms": py, "cpp_ms": cpp, "ratio": py / cpp,
                      "python_rounds": py_ms, "cpp_rounds": cpp_ms}))


def part_threads(a, slmrec):
    model = slmrec.load(a.checkpoint, threads=1)
    ds = slmrec.load_dataset(a.data)
    batch = first_users_padded(ds, a.thread_batch, model.max_len)
    calls = a.calls

    def work(n):
        for _ in range(n):
            model.recommend(batch, k=10)

    def one():
        work(calls)

    def two():
        threads = [threading.Thread(target=work, args=(calls // 2,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    work(10)
    one_s, two_s = [], []
    for _ in range(a.rounds):
        one_s.append(median_ms(one, 0, 1) / 1e3)
        two_s.append(median_ms(two, 0, 1) / 1e3)
    o, t = statistics.median(one_s), statistics.median(two_s)
    print(f"\n| {calls} calls of {a.thread_batch} users | one thread calls/s | two threads calls/s | speed-up |")
    print("|---|---|---|---|")
    print(f"| {a.checkpoint} | {calls / o:.0f} | {calls / t:.0f} | {o / t:.2f}x |")
    print(json.dumps({"part": "threads", "calls": calls, "users": a.thread_batch, "one_thread_s": o,
                      "two_threads_s": t, "speedup": o / t}))


def part_native(a):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from builds_side_by_side import side_by_side

    side_by_side([("-march=native", a.native_build), ("portable (wheel)", a.portable_build)], a.presets.split(","),
                 a.rounds, a.reps)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--what", default="batch,threads", help="comma-separated: batch, threads, native")
    p.add_argument("--checkpoint", help="a float checkpoint (batch, threads)")
    p.add_argument("--data", help="its dataset (batch, threads)")
    p.add_argument("--bench-quant-model", default="build/benchmarks/bench_quant_model")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--thread-batch", type=int, default=16, help="users per call in the threads part")
    p.add_argument("--calls", type=int, default=400, help="recommend calls in the threads part")
    p.add_argument("--native-build", default="build", help="a build directory configured with SLMREC_NATIVE=ON")
    p.add_argument("--portable-build", default="build-portable", help="one configured with SLMREC_NATIVE=OFF")
    p.add_argument("--presets", default="student,teacher")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--reps", type=int, default=10)
    a = p.parse_args()
    parts = a.what.split(",")
    if {"batch", "threads"} & set(parts):
        if not a.checkpoint or not a.data:
            p.error("batch and threads need --checkpoint and --data")
        import slmrec

        if "batch" in parts:
            part_batch(a, slmrec)
        if "threads" in parts:
            part_threads(a, slmrec)
    if "native" in parts:
        part_native(a)


if __name__ == "__main__":
    sys.exit(main())
