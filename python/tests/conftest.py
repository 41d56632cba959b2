"""Shared fixtures: a small slice of a real dataset (the first users of
Beauty, so a model trains in seconds) and a model trained on it once."""
import os
import pathlib
import shutil
import subprocess

import pytest

SHARED = pathlib.Path(os.environ.get("SLMREC_SHARED_DIR", pathlib.Path(__file__).resolve().parents[3] / "shared"))
BEAUTY = SHARED / "data" / "s3rec_beauty" / "Beauty.txt"
CLI = os.environ.get("SLMREC_CLI", "")

# A small model and a short run: the same options go to `slmrec train` and slmrec.train.
TRAIN = dict(arch="sasrec", layers=1, dim=16, heads=1, max_len=20, epochs=3, batch=64, seed=7)


def cli_args(options):
    """slmrec.train's keyword arguments as the command line's options."""
    return [a for k, v in options.items() for a in (f"--{k.replace('_', '-')}", str(v))]


@pytest.fixture(scope="session")
def data_file(tmp_path_factory):
    if not BEAUTY.exists():
        pytest.skip(f"{BEAUTY} is missing (../shared beside the checkout)")
    path = tmp_path_factory.mktemp("data") / "beauty_head.txt"
    with open(BEAUTY) as src, open(path, "w") as dst:
        for _, line in zip(range(400), src):
            dst.write(line)
    return path


@pytest.fixture(scope="session")
def trained(tmp_path_factory, data_file):
    """(dataset, model, checkpoint directory) of one small training run."""
    import slmrec

    out = tmp_path_factory.mktemp("runs") / "py"
    ds = slmrec.load_dataset(data_file)
    model = slmrec.train(ds, out=out, **TRAIN)
    return ds, model, out


def run_cli(*args):
    if not CLI:
        pytest.skip("SLMREC_CLI is not set (the slmrec tool of the same build)")
    done = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout
