"""CIFAR-10 and CIFAR-100 in the official "python version" format, read without torchvision.

``data_dir`` is the folder that holds ``cifar-10-batches-py/`` (or ``cifar-100-python/``),
or that folder itself.  Files are pickles of dicts with ``b"data"`` (N × 3072 uint8, channel-major
32×32 images) and ``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100).  Nothing is
downloaded: a missing or malformed file is an error that names it and what was expected.

A pickle can run any code while it loads, so these files are read by :class:`CifarUnpickler`,
which builds only what the official files hold (dicts, lists, bytes, ints and NumPy arrays) and
refuses every other object a file asks for, before anything is called.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bea.errors import BeaError

LAYOUT = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels",
                "batches.meta", b"label_names"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], b"fine_labels", "meta", b"fine_label_names"),
}


@dataclass(frozen=True)
class Split:
    """Images (N, 3, 32, 32) uint8, labels (N,) int64, and the class names."""

    images: np.ndarray
    labels: np.ndarray
    classes: list

    def __len__(self):
        return len(self.labels)


def folder(data_dir, dataset: str) -> Path:
    """The dataset's folder under ``data_dir`` (or ``data_dir`` itself), checked to exist."""
    if dataset not in LAYOUT:
        raise BeaError(f"unknown dataset {dataset!r}; known: {', '.join(LAYOUT)}")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise BeaError(f"data directory {str(data_dir)!r} does not exist")
    name = LAYOUT[dataset][0]
    path = data_dir if data_dir.name == name else data_dir / name
    if not path.is_dir():
        raise BeaError(f"{str(data_dir)!r} has no {name}/ folder (the official python version of {dataset}); "
                       "point --data-dir at the folder that contains it")
    return path


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # NumPy 2
    except ImportError:  # pragma: no cover (NumPy 1)
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _latin1(text, encoding="latin1"):
    """``_codecs.encode`` as protocol-2 pickles written by Python 3 use it for bytes: latin-1 only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("it asks for _codecs.encode with something other than latin-1 text")
    return text.encode("latin-1")


class CifarUnpickler(pickle.Unpickler):
    """An unpickler that admits only the globals of the official files: NumPy's array reconstructor,
    ``numpy.ndarray`` and ``numpy.dtype`` (under their NumPy 1 and 2 module names), and the latin-1
    ``_codecs.encode`` of protocol-2 bytes written by Python 3.  Anything else (``os.system``,
    ``builtins.eval``, …) is refused in :meth:`find_class`, so never imported or called."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
               ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
               ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype, ("_codecs", "encode"): _latin1}

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise pickle.UnpicklingError(f"it asks for {str(module)[:60]}.{str(name)[:60]}, which the official "
                                         "CIFAR format never holds; refused, nothing was run") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it holds a persistent reference, which the official CIFAR format never holds")


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise BeaError(f"missing file {str(path)!r} (expected in the official python format)")
    try:
        with open(path, "rb") as fh:
            out = CifarUnpickler(fh, encoding="bytes").load()
    except Exception as exc:  # a truncated, foreign or hostile file: say which and why
        raise BeaError(f"{str(path)!r} is not a readable CIFAR pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(out, dict):
        raise BeaError(f"{str(path)!r} is not a CIFAR batch: expected a dict, found {type(out).__name__}")
    return out


def _batch(path: Path, label_key: bytes):
    raw = _unpickle(path)
    data, labels = raw.get(b"data"), raw.get(label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise BeaError(f"{str(path)!r}: expected key b'data' with a (N, 3072) uint8 array, found {shape}")
    if labels is None or len(labels) != len(data):
        raise BeaError(f"{str(path)!r}: expected key {label_key!r} with {len(data)} labels")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def load(data_dir, dataset: str = "cifar10", split: str = "train", limit: int | None = None) -> Split:
    """One split of CIFAR-10/100 (the first ``limit`` images when given)."""
    if split not in ("train", "test"):
        raise BeaError(f"split must be 'train' or 'test', got {split!r}")
    path = folder(data_dir, dataset)
    _, train_files, test_files, label_key, meta_file, names_key = LAYOUT[dataset]
    parts = [_batch(path / f, label_key) for f in (train_files if split == "train" else test_files)]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    meta = _unpickle(path / meta_file)
    classes = [c.decode() if isinstance(c, bytes) else str(c) for c in meta.get(names_key, [])]
    if not classes or labels.max(initial=0) >= len(classes) or labels.min(initial=0) < 0:
        raise BeaError(f"{str(path / meta_file)!r}: expected {names_key!r} naming every label (found {len(classes)})")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return Split(images, labels, classes)


def channel_stats(images: np.ndarray):
    """Per-channel mean and standard deviation of uint8 images scaled to [0, 1]."""
    x = images.astype(np.float64) / 255.0
    return x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))


def write_fake(data_dir, dataset: str = "cifar10", n: int = 40, seed: int = 0) -> Path:
    """Tiny random files in the official format (for tests that must not depend on real data)."""
    name, train_files, test_files, label_key, meta_file, names_key = LAYOUT[dataset]
    path = Path(data_dir) / name
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    k = 10 if dataset == "cifar10" else 100
    for f in train_files + test_files:
        batch = {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
                 label_key: rng.integers(0, k, size=n).tolist(), b"batch_label": f.encode()}
        with open(path / f, "wb") as fh:
            pickle.dump(batch, fh)
    with open(path / meta_file, "wb") as fh:
        pickle.dump({names_key: [f"class{i}".encode() for i in range(k)]}, fh)
    return path
