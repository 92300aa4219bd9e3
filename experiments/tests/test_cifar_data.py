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
