"""Parity with the command line: the same seed and options give the same
checkpoint, the same metrics and the same recommendations."""
import json

import numpy as np
import pytest

import slmrec
from conftest import TRAIN, cli_args, run_cli


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, data_file):
    out = tmp_path_factory.mktemp("runs") / "cli"
    last = run_cli("train", "--data", data_file, "--out", out, *cli_args(TRAIN)).strip().splitlines()[-1]
    return out, json.loads(last)


def metrics(d):
    return {k: v for k, v in d.items() if k.startswith(("HR@", "NDCG@", "MRR"))}


def test_same_weights_as_the_tool(trained, cli_run):
    _, _, py_out = trained
    cli_out, _ = cli_run
    assert (py_out / "model.safetensors").read_bytes() == (cli_out / "model.safetensors").read_bytes()


def test_same_test_report_as_train(trained, cli_run):
    _, model, _ = trained
    _, cli_report = cli_run
    assert metrics(model.test_metrics) == metrics(cli_report)
    assert model.test_metrics["best_epoch"] == cli_report["best_epoch"]
    assert len(metrics(cli_report)) >= 3


@pytest.mark.parametrize("protocol", [["--protocol", "full"], ["--protocol", "sampled", "--negatives", "50", "--seed", "3"],
                                      ["--split", "valid", "--keep-history"]])
def test_same_metrics_as_eval(trained, cli_run, data_file, protocol):
    ds, model, _ = trained
    cli_out, _ = cli_run
    cli = json.loads(run_cli("eval", "--checkpoint", cli_out, "--data", data_file, "--json", *protocol).splitlines()[-1])
    kwargs = {}
    args = list(protocol)
    while args:
        key, value = args.pop(0)[2:].replace("-", "_"), True
        if args and not args[0].startswith("--"):
            value = args.pop(0)
        kwargs[key] = int(value) if isinstance(value, str) and value.isdigit() else value
    py = model.evaluate(ds, **kwargs)
    assert py == cli


def test_same_ids_as_recommend_for_every_user(trained, cli_run, data_file):
    ds, model, _ = trained
    cli_out, _ = cli_run
    lines = run_cli("recommend", "--checkpoint", cli_out, "--data", data_file, "-k", "10").splitlines()
    cli_ids = np.array([[int(x) for x in line.split("\t")[1].split()] for line in lines])
    ids, scores = model.recommend([ds[u] for u in range(len(ds))], k=10)
    assert ids.dtype == np.int32 and ids.shape == (len(ds), 10)
    np.testing.assert_array_equal(ids, cli_ids)
    assert np.all(np.diff(scores, axis=1) <= 0)  # best first


def test_same_ids_as_recommend_for_one_history(trained, cli_run):
    _, model, _ = trained
    cli_out, _ = cli_run
    history = [12, 7, 301, 5]
    cli_ids = [int(x) for x in run_cli("recommend", "--checkpoint", cli_out, "--history", " ".join(map(str, history)),
                                       "-k", "5").split()]
    ids, _ = model.recommend([np.array(history)], k=5)
    assert ids[0].tolist() == cli_ids
    # The same history left-padded in a 2-D array gives the same answer.
    padded = np.zeros((2, model.max_len), dtype=np.int64)
    padded[:, -len(history):] = history
    ids2, _ = model.recommend(padded, k=5)
    assert ids2.tolist() == [cli_ids, cli_ids]


def test_quantized_checkpoint_matches_the_tool(trained, tmp_path):
    ds, model, out = trained
    q = model.quantize("int8", out=tmp_path / "int8")
    assert q.scheme == "int8" and q.weight_bytes < model.weight_bytes
    cli = json.loads(run_cli("eval", "--checkpoint", tmp_path / "int8", "--data", ds.source, "--json").splitlines()[-1])
    assert slmrec.load(tmp_path / "int8").evaluate(ds) == cli == q.evaluate(ds)
    # A quantized checkpoint written by the tool loads the same.
    run_cli("quantize", "--checkpoint", out, "--scheme", "int8", "--out", tmp_path / "int8_cli")
    assert (tmp_path / "int8_cli" / "model.safetensors").read_bytes() == (tmp_path / "int8" / "model.safetensors").read_bytes()
