#!/usr/bin/env python3
"""A killed rank ends the job (issue 25): `mpirun -np 2 train_job train OUT`
(tests/dist/train_job.cpp: the trainer under dist::mpi on synthetic data);
once the first checkpoint exists, SIGKILL rank 1 mid-epoch. Checks that mpirun
exits non-zero within 60 s, that its message names rank 1, and that the
checkpoint directory then loads (`train_job load OUT`: weights, moments and
state) at an epoch at least as late as the one seen before the kill.

usage: kill_rank.py TRAIN_JOB WORK_DIR [--mpirun mpirun] [--mpirun-flags "--oversubscribe"]
Prints "kill_rank: ok ..." and exits 0, or names what failed and exits 1.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time


def epoch_of(out):
    try:
        return json.load(open(os.path.join(out, "state.json")))["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def rank_pid(mpirun_pid, rank):
    """The pid of a rank: a descendant of mpirun whose environment says OMPI_COMM_WORLD_RANK=rank."""
    want = f"OMPI_COMM_WORLD_RANK={rank}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
            if want not in env:
                continue
            parent = pid  # walk up to mpirun, so another job's rank is never picked
            while parent > 1:
                parent = int(open(f"/proc/{parent}/stat").read().rsplit(")", 1)[1].split()[1])
                if parent == mpirun_pid:
                    return pid
        except (OSError, ValueError, IndexError):
            continue
    return None


def fail(msg):
    print(f"kill_rank: FAILED: {msg}")
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("work")
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--mpirun-flags", default="--oversubscribe")
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    out = os.path.join(a.work, "ckpt")
    flags = [f for f in a.mpirun_flags.replace(";", " ").split() if f]
    cmd = [a.mpirun, "-np", "2", *flags, a.binary, "train", out]
    job = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.monotonic()
    while epoch_of(out) < 1:
        if job.poll() is not None:
            fail(f"the job ended before its first checkpoint (exit {job.returncode}):\n{job.stdout.read()}")
        if time.monotonic() - t0 > 200:
            job.kill()
            fail("no checkpoint after 200 s")
        time.sleep(0.05)
    first = time.monotonic() - t0
    seen = epoch_of(out)
    time.sleep(min(1.0, first / 4))  # into the next epoch
    victim = rank_pid(job.pid, 1)
    if victim is None:
        job.kill()
        fail("rank 1's process was not found among mpirun's descendants")
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    try:
        output, _ = job.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        job.kill()
        fail("the job still ran 60 s after rank 1 was killed")
    took = time.monotonic() - killed
    if job.returncode == 0:
        fail(f"mpirun exited 0 after rank 1 was killed:\n{output}")
    if "rank 1" not in output:
        fail(f"mpirun's message does not name rank 1:\n{output}")
    epoch = epoch_of(out)
    if epoch < seen:
        fail(f"the checkpoint went back from epoch {seen} to {epoch}")
    ev = subprocess.run([a.binary, "load", out], env=env, capture_output=True, text=True)
    if ev.returncode != 0 or "loaded epoch" not in ev.stdout:
        fail(f"the checkpoint does not load after the kill:\n{ev.stdout}{ev.stderr}")
    line = [l for l in output.splitlines() if "rank 1" in l][0].strip()
    print(f"kill_rank: ok: rank 1 (pid {victim}) killed at {killed - t0:.1f} s, job ended in {took:.1f} s with exit "
          f"{job.returncode}; \"{line}\"; the checkpoint at epoch {epoch} loads: {ev.stdout.strip()}")

if __name__ == "__main__":
    main()
