"""slmrec: sequential recommendation with small language models, from Python.

A thin binding over the same header-only C++ core as the ``slmrec`` command
line tool (no second implementation), with NumPy arrays in and out::

    import slmrec
    ds = slmrec.load_dataset("Beauty.txt")
    model = slmrec.train(ds, out="runs/sasrec", epochs=20)
    print(model.evaluate(ds))                       # {'HR@10': ..., 'NDCG@10': ..., ...}
    ids, scores = model.recommend([[12, 7, 301]], k=10)

Errors from the library (bad input, damaged files, options out of range) are
``slmrec.Error``, a subclass of ``ValueError``, with the command line's message.
See ``help(slmrec.train)``, ``help(slmrec.Model)`` and docs/python.md.
"""

from ._core import (  # noqa: F401  (the public API)
    Dataset,
    Error,
    Model,
    __version__,
    distill,
    load,
    load_dataset,
    train,
)

__all__ = ["Dataset", "Error", "Model", "distill", "load", "load_dataset", "train", "__version__"]
