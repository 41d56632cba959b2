#!/usr/bin/env python3
"""Side-by-side timing of slmrec (bench_presets) and PyTorch (torch_reference.py).

For each round and each preset it runs our benchmark binary, then the PyTorch
peer, as separate processes under the same environment (OPENBLAS_CORETYPE,
OPENBLAS_NUM_THREADS, thread count), and records each process's median time
per call and its peak resident memory. It also measures a float32
matrix-product peak in the same run: the BLAS's (NumPy's OpenBLAS, all
threads) and our own GEMM's, and takes the larger. It prints medians over the
rounds, the ratio PyTorch/ours (the speed-up), memory, and model FLOP
utilisation (FLOPs as printed by bench_presets: 2 per multiply-add of every
matrix product, x3 for training; attention over the full T x T; head over
every scored position).

  /usr/bin/python3 benchmarks/compare_torch.py --bench build/benchmarks/bench_presets \\
      --torch ../shared/bench/torch_reference.py --rounds 3

Run it with /usr/bin/python3 (Debian's python3-torch). Without torch it
times our side only and says so.
"""
import argparse, json, os, platform, statistics, subprocess, sys, time


def run_measured(cmd, env):
    """Like run(), and the process's own peak resident memory (MiB) via wait4."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"compare_torch: {' '.join(cmd)} failed with exit status {p.returncode}")
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return lines, usage.ru_maxrss / 1024.0, time.perf_counter() - t0


def blas_peak(threads, n, env):
    """NumPy float32 n x n x n product on its BLAS (OpenBLAS here), GFLOP/s, best of 5."""
    code = (
        "import numpy as np, time\n"
        f"n={n}\n"
        "a=np.random.rand(n,n).astype(np.float32); b=np.random.rand(n,n).astype(np.float32)\n"
        "a@b\n"
        "best=min((lambda t: (a@b, time.perf_counter()-t)[1])(time.perf_counter()) for _ in range(5))\n"
        "print(2*n**3/best/1e9)\n")
    e = dict(env, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    try:
        out = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])
    except (subprocess.CalledProcessError, ValueError, FileNotFoundError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bench", default=os.path.join(here, "..", "build", "benchmarks", "bench_presets"))
    ap.add_argument("--torch", default=os.path.join(here, "..", "..", "shared", "bench", "torch_reference.py"))
    ap.add_argument("--presets", default="sasrec,student,teacher")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (each process gives one median)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per process")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--coretype", default="keep", help="OPENBLAS_CORETYPE for both sides: keep (as set), unset, or a value")
    ap.add_argument("--peak-n", type=int, default=4096)
    ap.add_argument("--json", help="also write every record to this file (JSON lines)")
    ap.add_argument("--no-torch", action="store_true", help="time our side only")
    a = ap.parse_args()

    env = dict(os.environ)
    if a.coretype == "unset":
        env.pop("OPENBLAS_CORETYPE", None)
    elif a.coretype != "keep":
        env["OPENBLAS_CORETYPE"] = a.coretype
    env["OPENBLAS_NUM_THREADS"] = "1"  # the peer's prescribed setting: torch threads its own ops
    env["OMP_NUM_THREADS"] = str(a.threads)
    have_torch = not a.no_torch and os.path.exists(a.torch)
    if have_torch:
        try:
            subprocess.run([sys.executable, "-c", "import torch"], env=env, check=True, capture_output=True)
        except subprocess.CalledProcessError:
            have_torch = False
            print("compare_torch: torch does not import under", sys.executable, "- timing our side only")

    print(f"# machine: {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"# OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')} OPENBLAS_NUM_THREADS=1 "
          f"threads={a.threads} (OMP_NUM_THREADS for ours, torch.set_num_threads for PyTorch)")
    records = []
    peak_blas = blas_peak(a.threads, a.peak_n, env)
    ours_peak, _, _ = run_measured([a.bench, "--what", "peak", "--peak-n", str(a.peak_n), "--threads", str(a.threads)], env)
    peak_ours = ours_peak[0]["gflops_per_s"]
    peak = max(p for p in (peak_blas, peak_ours) if p)
    print(f"# float32 {a.peak_n}^3 product: BLAS (NumPy) {peak_blas or float('nan'):.1f} GFLOP/s, "
          f"slmrec GEMM {peak_ours:.1f} GFLOP/s -> peak {peak:.1f} GFLOP/s")

    presets = a.presets.split(",")
    ms = {}   # (impl, preset, what) -> [median per round]
    rss = {}  # (impl, preset) -> [peak MiB per round]
    flops = {}
    for r in range(a.rounds):
        for p in presets:
            cmds = [("slmrec", [a.bench, "--preset", p, "--what", "train,infer,latency", "--reps", str(a.steps),
                                "--warmup", str(a.warmup), "--threads", str(a.threads)])]
            if have_torch:
                cmds.append(("torch", [sys.executable, a.torch, "--preset", p, "--threads", str(a.threads),
                                       "--steps", str(a.steps), "--warmup", str(a.warmup)]))
            for impl, cmd in cmds:
                lines, mib, wall = run_measured(cmd, env)
                rss.setdefault((impl, p), []).append(mib)
                for rec in lines:
                    rec.update(impl=impl, round=r, peak_rss_mib=mib)
                    records.append(rec)
                    ms.setdefault((impl, p, rec["what"]), []).append(rec["ms_median"])
                    if impl == "slmrec" and "flops" in rec:
                        flops[(p, rec["what"])] = rec["flops"]
                print(f"# round {r + 1}/{a.rounds} {p:8s} {impl:7s} {wall:6.1f} s, peak RSS {mib:7.1f} MiB", flush=True)

    med = {k: statistics.median(v) for k, v in ms.items()}
    print()
    print(f"| preset | what | slmrec ms | PyTorch ms | ours/PyTorch | speed-up | slmrec GFLOP/s | MFU vs {peak:.0f} GFLOP/s |")
    print("|---|---|---|---|---|---|---|---|")
    for p in presets:
        for what in ("train", "infer", "latency"):
            if ("slmrec", p, what) not in med:
                continue
            ours = med[("slmrec", p, what)]
            theirs = med.get(("torch", p, what))
            f = flops.get((p, what))
            gf = f / ours * 1e-6 if f else None
            print(f"| {p} | {what} | {ours:.2f} | {'-' if theirs is None else f'{theirs:.2f}'} | "
                  f"{'-' if theirs is None else f'{ours / theirs:.3f}'} | "
                  f"{'-' if theirs is None else f'{theirs / ours:.2f}x'} | "
                  f"{'-' if gf is None else f'{gf:.1f}'} | {'-' if gf is None else f'{100 * gf / peak:.0f}%'} |")
    print()
    print("| preset | slmrec peak RSS MiB | PyTorch peak RSS MiB |")
    print("|---|---|---|")
    for p in presets:
        t = rss.get(("torch", p))
        print(f"| {p} | {max(rss[('slmrec', p)]):.0f} | {'-' if not t else f'{max(t):.0f}'} |")
    print(f"\nmedians over {a.rounds} rounds of per-process medians ({a.steps} timed steps after {a.warmup} warm-up); "
          "latency = one user, 50 items, top-10 (ours only: the peer has no such path)")
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            for rec in records:
                f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
