"""Bad input is a Python exception with a clear message, never a crash."""
import numpy as np
import pytest

import slmrec


def test_float_ids(trained):
    _, model, _ = trained
    with pytest.raises(ValueError, match=r"histories\[0\]: expected integer item ids, found an array of float64"):
        model.recommend([np.array([1.0, 2.0])])
    with pytest.raises(ValueError, match="expected integer item ids"):
        model.recommend(np.ones((2, 3)))
    with pytest.raises(ValueError, match="expected integer item ids"):
        slmrec.Dataset.from_sequences([[1, 2], [3.5, 4]])


def test_negative_and_out_of_range_ids(trained):
    _, model, _ = trained
    n = model.num_items
    with pytest.raises(ValueError, match=rf"histories\[1\]\[2\] is item id -4, expected 1..{n}"):
        model.recommend([[1, 2], [3, 4, -4]])
    with pytest.raises(ValueError, match=rf"is item id {n + 1}, expected 1..{n}"):
        model.recommend([[n + 1]])
    with pytest.raises(ValueError, match=rf"histories\[0, 1\] is item id -1"):
        model.recommend(np.array([[0, -1, 3]]))
    with pytest.raises(ValueError, match=rf"is item id {2**40}"):
        model.user_embeddings([[2**40]])
    with pytest.raises(ValueError, match="sequences\\[0\\]\\[1\\] is item id 0, expected 1.."):
        slmrec.Dataset.from_sequences([[3, 0]])
    with pytest.raises(ValueError, match=rf"k = 0: expected 1..{n}"):
        model.recommend([[1]], k=0)


def test_ragged_and_empty_input(trained):
    _, model, _ = trained
    with pytest.raises(ValueError, match=r"histories\[1\]: expected a 1-D sequence of item ids, found 2 dimensions"):
        model.recommend([[1, 2], [[3, 4], [5, 6]]])
    with pytest.raises(ValueError, match=r"histories\[1\]: expected integer item ids"):
        model.recommend([[1, 2], [3, [4, 5]]])
    ragged = np.empty(2, dtype=object)
    ragged[:] = [[1, 2], [3]]
    with pytest.raises(ValueError, match="found a 1-D array"):
        model.recommend(ragged)
    with pytest.raises(ValueError, match=r"histories\[0\] is empty"):
        model.recommend([[]])
    with pytest.raises(ValueError, match="all padding"):
        model.recommend(np.zeros((1, 4), dtype=np.int32))
    with pytest.raises(ValueError, match="found a str"):
        model.recommend("12 7")


def test_missing_files(tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path / "nope.txt")) as e:
        slmrec.load_dataset(tmp_path / "nope.txt")
    assert isinstance(e.value, slmrec.Error)
    with pytest.raises(ValueError, match=str(tmp_path / "no_checkpoint")):
        slmrec.load(tmp_path / "no_checkpoint")
    with pytest.raises(TypeError, match="expected a path"):
        slmrec.load(3)


def test_library_errors_carry_the_tools_message(trained, data_file, tmp_path):
    ds, model, out = trained
    with pytest.raises(slmrec.Error, match="--protocol 'top' is not one of full, sampled"):
        model.evaluate(ds, protocol="top")
    with pytest.raises(slmrec.Error, match="unknown arch 'bert'"):
        slmrec.train(ds, out=tmp_path / "x", arch="bert", epochs=1)
    with pytest.raises(slmrec.Error, match="unknown data format 'json'"):
        slmrec.load_dataset(data_file, format="json")
    other = slmrec.Dataset.from_sequences([[1, 2, 3], [2, 3, 4]])
    with pytest.raises(slmrec.Error, match="has 4 items but the checkpoint was trained with"):
        model.evaluate(other)
    with pytest.raises(slmrec.Error, match="already quantized"):
        model.quantize("int8").quantize("int4")
