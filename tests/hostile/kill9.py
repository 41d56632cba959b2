#!/usr/bin/env python3
"""Crash consistency (issue 23): SIGKILL a training run at random moments,
half of them while a checkpoint is being written, and check that every time
the checkpoint directory afterwards loads (`slmrec eval`) and that `--resume`
ends with exactly the weights, optimizer state and training state of a run
that was never interrupted (byte for byte).

usage: kill9.py SLMREC_BINARY WORK_DIR [--kills 20] [--seed 1]
Prints one line per kill and a summary; exits 1 on any failure.
"""
import argparse
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time


def completed_epoch(out):
    """The epoch of the checkpoint in `out` now (0 if none, or mid-swap)."""
    try:
        return json.load(open(os.path.join(out, "state.json")))["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("work")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    data = os.path.join(a.work, "data.txt")
    subprocess.run([a.binary, "synth", "--users", "2000", "--items", "4000", "--mean-len", "8", "--seed", "5",
                    "--out", data], check=True, env=env, stdout=subprocess.DEVNULL)
    train = [a.binary, "train", "--data", data, "--arch", "sasrec", "--dim", "32", "--heads", "2", "--layers", "1",
             "--max-len", "20", "--epochs", "3", "--patience", "100", "--eval-users", "200", "--seed", "3"]
    quiet = dict(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    ref = os.path.join(a.work, "ref")
    t0 = time.monotonic()
    subprocess.run(train + ["--out", ref], check=True, **quiet)
    total = time.monotonic() - t0
    compared = ["model.safetensors", "state.safetensors"]
    reference = {f: open(os.path.join(ref, f), "rb").read() for f in compared}
    ref_state = json.load(open(os.path.join(ref, "state.json")))
    print(f"reference run: {total:.2f} s, {ref_state['epoch']} epochs, {ref_state['step']} steps")

    failures = 0
    during_write = 0
    for i in range(a.kills):
        out = os.path.join(a.work, f"k{i}")
        p = subprocess.Popen(train + ["--out", out], **quiet)
        in_write = i % 2 == 1
        if in_write:
            # Kill while the checkpoint of a random epoch is being written (the
            # first one, or one replacing its predecessor): a few milliseconds
            # after its temporary directory appears.
            target = rng.randint(1, ref_state["epoch"])
            deadline = time.monotonic() + 2 * total + 10
            while p.poll() is None and time.monotonic() < deadline:
                if target > 1 and completed_epoch(out) < target - 1:
                    time.sleep(0.001)
                    continue
                if glob.glob(out + ".tmp-*"):
                    break
                time.sleep(0.0005)
            time.sleep(rng.uniform(0, 0.002))
        else:
            time.sleep(rng.uniform(0, total))
        tmp_seen = bool(glob.glob(out + ".tmp-*"))
        p.send_signal(signal.SIGKILL)
        p.wait()
        killed_in_write = tmp_seen and bool(glob.glob(out + ".tmp-*"))
        during_write += killed_in_write
        epoch = None
        ok = True
        if os.path.exists(os.path.join(out, "state.json")):
            epoch = json.load(open(os.path.join(out, "state.json")))["epoch"]
            r = subprocess.run([a.binary, "eval", "--checkpoint", out, "--data", data, "--eval-users", "50"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                ok = False
                print(f"  kill {i}: the checkpoint does not load: {r.stderr.strip()}")
        r = subprocess.run(train + ["--out", out, "--resume"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            ok = False
            print(f"  kill {i}: --resume failed: {r.stderr.strip()}")
        else:
            for f in compared:
                if open(os.path.join(out, f), "rb").read() != reference[f]:
                    ok = False
                    print(f"  kill {i}: {f} after --resume differs from the uninterrupted run")
            state = json.load(open(os.path.join(out, "state.json")))
            for key in ("epoch", "step", "best_epoch", "bad_epochs", "best_metric"):
                if state[key] != ref_state[key]:
                    ok = False
                    print(f"  kill {i}: state.json {key} {state[key]} != {ref_state[key]}")
        failures += not ok
        where = "during a checkpoint write" if killed_in_write else "between writes" if epoch is not None else \
            "before the first checkpoint was written"
        print(f"kill {i:2d}: {where}, {'epoch ' + str(epoch) if epoch is not None else 'no checkpoint'} on disk: "
              f"{'ok' if ok else 'FAILED'}")
        shutil.rmtree(out, ignore_errors=True)
        for leftover in glob.glob(out + ".*"):
            shutil.rmtree(leftover, ignore_errors=True)
    print(f"{a.kills - failures} of {a.kills} kills recovered exactly ({during_write} during a checkpoint write)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
