#!/usr/bin/env python3
"""Side-by-side GPU timing of slmrec (bench_presets --device cuda[-bf16]) and
PyTorch (torch_reference.py --device cuda, eager and torch.compile), on the
rows of issue 7's reference table. Each round runs every process once, in
turn, so both sides see the same machine state; a cell is the median over
rounds of each process's median step time. The markdown table comes last.

  python3 benchmarks/compare_torch_gpu.py --bench build-gpu/benchmarks/bench_presets \
      --torch ../shared/bench/torch_reference.py --rounds 3
"""
import argparse, json, os, statistics, subprocess, sys

# preset, precision, batch, and whether torch.compile has a reference number for the row
ROWS = [("teacher", "fp32", 1024, True), ("student", "fp32", 1024, True), ("teacher", "bf16", 1024, True),
        ("student", "bf16", 1024, False), ("llama7b-8", "bf16", 16, True), ("llama7b-4", "bf16", 16, True)]


def records(cmd, env, timeout):
    """Runs cmd, returns its JSON lines keyed by 'what' (empty on failure or timeout, with the error printed)."""
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:  # the child is killed: a hung process must not hold the GPU
        print(f"timed out after {timeout} s: {' '.join(cmd)}", file=sys.stderr)
        return {}
    out = {}
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                r = json.loads(line)
                out[r["what"]] = r
            except (ValueError, KeyError):
                pass
    if p.returncode != 0 or not out:
        print(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}", file=sys.stderr)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(here, "..", "build-gpu", "benchmarks", "bench_presets"))
    ap.add_argument("--torch", default=os.path.join(here, "..", "..", "shared", "bench", "torch_reference.py"))
    ap.add_argument("--python", default=sys.executable, help="the interpreter that has torch")
    ap.add_argument("--rows", default="all", help="comma-separated preset:precision (default: all six)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per process")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile (it compiles for minutes)")
    ap.add_argument("--json", help="also write every record to this file (JSON lines)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds one process may run before it is killed")
    a = ap.parse_args()

    rows = [r for r in ROWS if a.rows == "all" or f"{r[0]}:{r[1]}" in a.rows.split(",")]
    env = dict(os.environ)
    cells = {}  # (preset, precision, who, what) -> [medians]
    log = open(a.json, "w") if a.json else None
    for rnd in range(a.rounds):
        for preset, precision, batch, has_compile in rows:
            device = "cuda-bf16" if precision == "bf16" else "cuda"
            runs = [("slmrec", [a.bench, "--preset", preset, "--batch", str(batch), "--device", device, "--what",
                                "train,infer", "--reps", str(a.steps), "--warmup", str(a.warmup)])]
            torch_cmd = [a.python, a.torch, "--preset", preset, "--batch", str(batch), "--device", "cuda", "--dtype",
                         precision, "--what", "train,infer", "--steps", str(a.steps), "--warmup", str(a.warmup)]
            runs.append(("eager", torch_cmd))
            if has_compile and not a.no_compile:
                runs.append(("compile", torch_cmd + ["--compile"]))
            for who, cmd in runs:
                for what, r in records(cmd, env, a.timeout).items():
                    cells.setdefault((preset, precision, who, what), []).append(r["ms_median"])
                    if log:
                        log.write(json.dumps(dict(r, side=who, round=rnd)) + "\n")
                        log.flush()
            print(f"round {rnd + 1}/{a.rounds}: {preset} {precision} done", file=sys.stderr, flush=True)

    def cell(preset, precision, who, what):
        v = cells.get((preset, precision, who, what))
        return statistics.median(v) if v else None

    fmt = lambda x: "—" if x is None else f"{x:.2f}"
    print("\n| preset | precision | batch | what | slmrec ms | torch eager ms | torch.compile ms | eager / slmrec |"
          " compile / slmrec | target (>= 1.2x eager, >= 1x compile) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for preset, precision, batch, _ in rows:
        for what in ("train", "infer"):
            ours, eager, comp = (cell(preset, precision, w, what) for w in ("slmrec", "eager", "compile"))
            ve = eager / ours if ours and eager else None
            vc = comp / ours if ours and comp else None
            met = None if ve is None else (ve >= 1.2 and (vc is None or vc >= 1.0))
            print(f"| {preset} | {precision} | {batch} | {what} | {fmt(ours)} | {fmt(eager)} | {fmt(comp)} | "
                  f"{'—' if ve is None else f'{ve:.2f}x'} | {'—' if vc is None else f'{vc:.2f}x'} | "
                  f"{'—' if met is None else ('met' if met else 'MISSED')} |")


if __name__ == "__main__":
    main()
