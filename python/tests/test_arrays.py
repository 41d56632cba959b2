"""NumPy at the boundary: zero-copy views, flat memory, threads."""
import gc
import json
import struct
import threading

import numpy as np

import slmrec


def safetensor(path, name):
    """One F32 tensor of a safetensors file, read by hand (no library)."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    info = json.loads(raw[8:8 + size])[name]
    begin, end = info["data_offsets"]
    assert info["dtype"] == "F32"
    return np.frombuffer(raw[8 + size + begin:8 + size + end], dtype="<f4").reshape(info["shape"])


def test_item_embeddings_are_the_models_memory(trained):
    _, model, out = trained
    e = model.item_embeddings()
    assert e.dtype == np.float32 and e.shape == (model.num_items + 1, model.config["dim"])
    assert np.shares_memory(e, model.item_embeddings())  # both views of one buffer: no copy was made
    assert e.base is not None and not e.flags.writeable and not e.flags.owndata
    np.testing.assert_array_equal(e, safetensor(out / "model.safetensors", "item_embedding.weight"))


def test_a_view_keeps_its_model_alive(trained):
    _, _, out = trained
    model = slmrec.load(out)
    e = model.item_embeddings()
    expected = e.copy()
    del model
    gc.collect()
    np.testing.assert_array_equal(e, expected)


def test_quantized_item_embeddings_are_a_dequantized_copy(trained):
    _, model, _ = trained
    q = model.quantize("int8")
    e, f = q.item_embeddings(), model.item_embeddings()
    assert e.flags.owndata and not np.shares_memory(e, f)
    assert np.max(np.abs(e - f)) <= np.max(np.abs(f)) / 100  # int8 per row: within a 127th of the largest
    assert not np.array_equal(e, f)


def test_user_embeddings_list_and_padded_agree(trained):
    ds, model, _ = trained
    histories = [ds[u] for u in range(5)]
    a = model.user_embeddings(histories)
    padded = np.zeros((5, model.max_len), dtype=np.int32)
    for r, h in enumerate(histories):
        h = h[-model.max_len:]
        padded[r, model.max_len - len(h):] = h
    b = model.user_embeddings(padded)
    assert a.shape == (5, model.config["dim"]) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[0], a[1])


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_ten_thousand_recommend_calls_leave_memory_flat(trained):
    ds, model, _ = trained
    rng = np.random.default_rng(0)

    def call():
        histories = [rng.integers(1, model.num_items + 1, size=rng.integers(1, 30)) for _ in range(2)]
        ids, scores = model.recommend(histories, k=10)
        assert ids.shape == (2, 10)

    for _ in range(500):  # warm: the server's buffers reach their size
        call()
    gc.collect()
    before = rss_bytes()
    for _ in range(10_000):
        call()
    gc.collect()
    grown = rss_bytes() - before
    assert grown < 5 * 2**20, f"resident memory grew by {grown / 2**20:.2f} MB over 10,000 calls"


def test_two_threads_get_the_answers_one_thread_gets(trained):
    ds, model, _ = trained
    histories = [ds[u] for u in range(len(ds))]
    expected, _ = model.recommend(histories, k=10)
    results = [None, None]

    def work(i):
        for _ in range(5):
            results[i] = model.recommend(histories, k=10)[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)
