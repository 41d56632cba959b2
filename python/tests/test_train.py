"""Training from Python: progress, Ctrl-C, resume, distillation, pruning, datasets."""
import json
import os
import signal
import threading

import numpy as np
import pytest

import slmrec
from conftest import SHARED, TRAIN


def test_progress_gets_each_epochs_record(data_file, tmp_path):
    ds = slmrec.load_dataset(data_file)
    seen = []
    model = slmrec.train(ds, out=tmp_path / "run", progress=seen.append, **{**TRAIN, "epochs": 2})
    assert [r["epoch"] for r in seen] == [1, 2]
    assert all("NDCG@10" in r["valid"] and r["train_loss"] > 0 for r in seen)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert model.checkpoint == str(tmp_path / "run")


def test_ctrl_c_stops_at_a_step_and_keeps_the_checkpoint(data_file, tmp_path):
    """SIGINT from another thread while the C++ loop runs without the GIL: the
    next step raises KeyboardInterrupt; the checkpoint holds the finished epochs."""
    ds = slmrec.load_dataset(data_file)
    epochs = []

    def progress(record):
        epochs.append(record["epoch"])
        if len(epochs) == 1:  # interrupt the second epoch, from outside the training thread
            threading.Timer(0.02, os.kill, (os.getpid(), signal.SIGINT)).start()

    out = tmp_path / "run"
    options = {**TRAIN, "epochs": 400, "patience": 400}
    with pytest.raises(KeyboardInterrupt):
        slmrec.train(ds, out=out, progress=progress, **options)
    state = json.loads((out / "state.json").read_text())
    # The interrupt lands at the first step after it, or, when the rest of the
    # epoch ran in less than the timer's 20 ms (CI's machine), in the progress
    # call of that epoch, after its checkpoint was written: either way the
    # checkpoint holds every finished epoch and its log agrees with it.
    assert 1 <= len(epochs) <= state["epoch"] <= len(epochs) + 1 < 400
    logged = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in logged] == list(range(1, state["epoch"] + 1))
    resumed = slmrec.train(ds, out=out, resume=True, **{**options, "epochs": state["epoch"] + 1})
    assert json.loads((out / "state.json").read_text())["epoch"] == state["epoch"] + 1
    assert resumed.test_metrics["epochs"] == state["epoch"] + 1


def test_distill_a_llama_teacher(data_file, tmp_path):
    ds = slmrec.load_dataset(data_file)
    teacher = slmrec.train(ds, out=tmp_path / "teacher", arch="llama", layers=2, dim=16, heads=2, max_len=20,
                           epochs=1, seed=1)
    student = slmrec.distill(teacher, ds, out=tmp_path / "student", student_layers=1, blocks=1, epochs=1, seed=1)
    assert student.config["layers"] == 1 and teacher.config["layers"] == 2
    assert student.test_metrics["epochs"] == 1
    assert (tmp_path / "student" / "test_metrics.json").exists()
    small = teacher.prune("structured", sparsity=0.5, out=tmp_path / "pruned")
    assert small.config["ffn"] > 0 and small.weight_bytes < teacher.weight_bytes
    assert slmrec.load(tmp_path / "pruned").evaluate(ds) == small.evaluate(ds)


def test_sampled_softmax_with_a_flattened_popularity_proposal(data_file, tmp_path):
    ds = slmrec.load_dataset(data_file)
    slmrec.train(ds, out=tmp_path / "run", loss="sampled", negatives=64, popularity_power=0.5,
                 **{**TRAIN, "epochs": 1})
    loss = json.loads((tmp_path / "run" / "config.json").read_text())["loss"]
    assert loss["popularity_power"] == 0.5 and loss["sampler"] == "popularity" and loss["negatives"] == 64
    with pytest.raises(ValueError, match="popularity-power 3 outside 0..2"):
        slmrec.train(ds, out=tmp_path / "bad", loss="sampled", popularity_power=3.0, **TRAIN)


def test_a_frozen_pretrained_backbone_with_lora(data_file, tmp_path):
    """init="hf:DIR" as --init: the backbone's shape comes from the model, its
    first `layers` blocks are read, and with freeze_backbone only the adapters,
    item table and head learn."""
    tiny = SHARED / "fixtures" / "tiny_llama"
    if not tiny.exists():
        pytest.skip(f"{tiny} is missing")
    ds = slmrec.load_dataset(data_file)
    model = slmrec.train(ds, out=tmp_path / "run", arch="llama", layers=1, max_len=20, epochs=1, batch=64,
                         init=f"hf:{tiny}", freeze_backbone=True, lora_rank=2, lora_targets=["q", "v"])
    config = json.loads((tmp_path / "run" / "config.json").read_text())["model"]
    assert (config["layers"], config["dim"], config["heads"], config["kv_heads"], config["ffn"]) == (1, 64, 4, 2, 176)
    assert config["freeze_backbone"] and config["lora_rank"] == 2 and config["lora_targets"] == ["q", "v"]
    # loaded for inference with its adapters merged: an ordinary llama of that shape
    assert model.config["dim"] == 64 and "lora_rank" not in model.config
    with pytest.raises(ValueError, match="dim comes from the backbone"):
        slmrec.train(ds, out=tmp_path / "bad", arch="llama", dim=32, init=f"hf:{tiny}", epochs=1)


def test_magnitude_pruning_zeroes_that_share_of_weights(trained):
    ds, model, _ = trained
    pruned = model.prune("magnitude", sparsity=0.5)
    assert pruned.scheme == "none"
    # The item table is not a decoder weight: it stays as it was.
    np.testing.assert_array_equal(pruned.item_embeddings(), model.item_embeddings())
    assert pruned.evaluate(ds) != model.evaluate(ds)


def test_from_sequences_renumbers_as_the_reader_does(tmp_path):
    seqs = [[10, 30, 20], [30, 40], [10, 40, 50, 20]]
    ds = slmrec.Dataset.from_sequences([np.array(s, dtype=np.int64) for s in seqs])
    path = tmp_path / "seq.txt"
    path.write_text("".join(f"{u + 1} {' '.join(map(str, s))}\n" for u, s in enumerate(seqs)))
    ref = slmrec.load_dataset(path)
    assert len(ds) == len(ref) == 3 and ds.num_items == ref.num_items == 5
    assert ds.item_ids() == ref.item_ids() == ["10", "20", "30", "40", "50"]
    for u in range(3):
        np.testing.assert_array_equal(ds[u], ref[u])
    assert ds[0].tolist() == [1, 3, 2]
    assert ds.stats()["interactions"] == 9 and ds.stats()["max_len"] == 4


def test_from_interactions_sorts_by_time_and_keeps_ids():
    users = np.array([-5, 7, -5, 7, -5], dtype=np.int64)
    items = np.array([2**40, 3, 9, 2**40, 3])
    ds = slmrec.Dataset.from_interactions(users, items, timestamps=[3.0, 1, 1, 0, 2])
    assert len(ds) == 2 and ds.num_items == 3
    assert ds.user_ids() == ["-5", "7"] and ds.item_ids() == [str(2**40), "3", "9"]
    assert ds[0].tolist() == [3, 2, 1] and ds[1].tolist() == [1, 2]
    with pytest.raises(ValueError, match="3 users but 2 items"):
        slmrec.Dataset.from_interactions([1, 2, 3], [1, 2])


def test_help_explains_every_argument():
    doc = slmrec.train.__doc__
    for arg in ["dataset", "out", "arch", "layers", "dim", "heads", "loss", "epochs", "lr", "seed", "progress",
                "resume", "eval_users", "items_from"]:
        assert f"\n{arg}: " in doc, arg
    for arg in ["popularity_power", "init", "freeze_backbone", "lora_rank", "lora_alpha", "lora_targets"]:
        assert f"\n{arg}: " in doc, arg
    assert "layers: Optional[int] = None" in doc and "the command line's default, 2" in doc
    assert "epochs: int = 200" in doc and "popularity_power: float = 1.0" in doc  # the command line's defaults
    for arg in ["histories", "k", "exclude_history"]:
        assert f"\n{arg}: " in slmrec.Model.recommend.__doc__


def test_quickstart_runs(data_file, tmp_path):
    import pathlib
    import subprocess
    import sys

    script = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python" / "quickstart.py"
    done = subprocess.run([sys.executable, str(script), "--data", str(data_file), "--out", str(tmp_path / "run"),
                           "--epochs", "1", "--plot", str(tmp_path / "curve.png")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "user 3: history" in done.stdout and "test (full ranking)" in done.stdout
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "epoch  valid NDCG@10" in done.stdout
    else:
        assert (tmp_path / "curve.png").stat().st_size > 1000
