"""The CIFAR loader on tiny files written in the official format, and its errors."""
import pickle
from pathlib import Path

import numpy as np
import pytest

from bea import BeaError
from bea_experiments.cifar import data

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.mark.parametrize("dataset,classes", [("cifar10", 10), ("cifar100", 100)])
def test_reads_the_official_layout(tmp_path, dataset, classes):
    data.write_fake(tmp_path, dataset, n=12)
    train = data.load(tmp_path, dataset, "train")
    test = data.load(tmp_path, dataset, "test", limit=5)
    assert train.images.shape == ((60 if dataset == "cifar10" else 12), 3, 32, 32) and train.images.dtype == np.uint8
    assert len(test) == 5 and len(train.classes) == classes
    # channel-major layout: the first 1024 bytes of a record are its red plane
    raw = pickle.load(open(data.folder(tmp_path, dataset) / ("data_batch_1" if dataset == "cifar10" else "train"), "rb"),
                      encoding="bytes")
    np.testing.assert_array_equal(train.images[0, 0].ravel(), raw[b"data"][0, :1024])
    # the folder itself is accepted too
    assert len(data.load(data.folder(tmp_path, dataset), dataset, "test")) == 12


def test_channel_stats_are_per_channel():
    images = np.zeros((2, 3, 32, 32), np.uint8)
    images[:, 1] = 255
    mean, std = data.channel_stats(images)
    np.testing.assert_allclose(mean, [0, 1, 0]) and np.testing.assert_allclose(std, 0)


def test_missing_and_malformed_data_name_the_file(tmp_path):
    with pytest.raises(BeaError, match="does not exist"):
        data.load(tmp_path / "nowhere")
    with pytest.raises(BeaError, match="has no cifar-10-batches-py/ folder"):
        data.load(tmp_path)
    path = data.write_fake(tmp_path, "cifar10", n=4)
    (path / "data_batch_3").unlink()
    with pytest.raises(BeaError, match="missing file .*data_batch_3"):
        data.load(tmp_path)
    (path / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(BeaError, match="data_batch_3.* is not a readable CIFAR pickle"):
        data.load(tmp_path)
    with open(path / "data_batch_3", "wb") as fh:
        pickle.dump({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}, fh)
    with pytest.raises(BeaError, match=r"\(N, 3072\) uint8"):
        data.load(tmp_path)
    with pytest.raises(BeaError, match="unknown dataset"):
        data.load(tmp_path, "cifar1000")


@pytest.mark.skipif(not (SHARED / "cifar-10-batches-py").is_dir(), reason="shared CIFAR subset not present")
def test_shared_subset_is_readable():
    train = data.load(SHARED, "cifar10", "train")
    assert len(train) == 5000 and train.classes[0] == "airplane"
    assert len(data.load(SHARED, "cifar100", "test")) == 900


class _Payload:
    """Unpickling this calls os.system: what a hostile "CIFAR batch" would hold."""

    def __init__(self, call, arg):
        self.call, self.arg = call, arg

    def __reduce__(self):
        return self.call, (self.arg,)


def _hostile(marker):
    import builtins
    import os
    import subprocess

    return [_Payload(os.system, f"touch {marker}"), _Payload(builtins.eval, f"open({str(marker)!r}, 'w')"),
            _Payload(subprocess.getoutput, f"touch {marker}"), _Payload(builtins.__import__, "antigravity")]


@pytest.mark.parametrize("which", range(4))
@pytest.mark.parametrize("target", ["data_batch_2", "batches.meta"])
def test_a_hostile_pickle_in_the_official_layout_is_refused_and_never_run(tmp_path, monkeypatch, which, target):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "MARKER"
    path = data.write_fake(tmp_path, "cifar10", n=4)
    honest = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0] * 4, b"batch_label": b"x"}
    hostile = honest | {b"labels": _hostile(marker)[which]} if target != "batches.meta" else \
        {b"label_names": _hostile(marker)[which]}
    with open(path / target, "wb") as fh:
        pickle.dump(hostile, fh)
    with pytest.raises(BeaError) as info:
        data.load(tmp_path)
    message = str(info.value)
    assert target in message and "which the official CIFAR format never holds; refused, nothing was run" in message
    assert not marker.exists()


def test_the_unpickler_builds_what_the_official_files_hold(tmp_path):
    import io

    honest = {b"data": np.arange(12, dtype=np.uint8).reshape(2, 6), b"labels": [1, 2], b"names": [b"a", "b"],
              b"nested": {b"k": (1, 2.5, None, True)}}
    for protocol in (2, 4):  # the official files are protocol 2 (Python 2); Python 3 writes 4 by default
        out = data.CifarUnpickler(io.BytesIO(pickle.dumps(honest, protocol=protocol)), encoding="bytes").load()
        np.testing.assert_array_equal(out[b"data"], honest[b"data"])
        assert {k: v for k, v in out.items() if k != b"data"} == {k: v for k, v in honest.items() if k != b"data"}
    with pytest.raises(pickle.UnpicklingError, match="numpy.save"):
        data.CifarUnpickler(io.BytesIO(pickle.dumps(np.save)), encoding="bytes").load()
