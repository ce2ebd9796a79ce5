"""Tests of mnist.load_mnist and load_mnist_split on real and written IDX files."""

import gzip
import struct

import numpy as np
import pytest
from idx_helpers import idx_images_bytes, make_split

import mnist
from mnist import load_mnist, load_mnist_split, read_idx_images, read_idx_labels


@pytest.fixture
def real_env(real_data_dir, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(real_data_dir))
    return real_data_dir


@pytest.fixture
def small_splits(tmp_path, monkeypatch):
    """Replace both splits by small written ones and return their arrays."""
    train, train_images, train_labels = make_split(tmp_path, "train", 60, seed=1)
    test, test_images, test_labels = make_split(tmp_path, "test", 10, seed=2)
    monkeypatch.setitem(mnist.SPLITS, "train", train)
    monkeypatch.setitem(mnist.SPLITS, "test", test)
    return tmp_path, (train_images, train_labels), (test_images, test_labels)


def test_real_test_split_flat_shapes(real_env):
    x_test, t_test = load_mnist_split("test", normalize=False)
    assert x_test.shape == (10000, 784)
    assert t_test.shape == (10000,)


def test_real_test_split_raw_dtype(real_env):
    x_test, t_test = load_mnist_split("test", normalize=False)
    assert x_test.dtype == np.uint8
    assert t_test.dtype == np.uint8


def test_real_test_split_normalized_range(real_env):
    x_test, _ = load_mnist_split("test", normalize=True)
    assert x_test.dtype == np.float32
    assert x_test.min() == 0.0
    assert x_test.max() == 1.0


def test_real_test_split_unflattened_shape(real_env):
    x_test, _ = load_mnist_split("test", flatten=False)
    assert x_test.shape == (10000, 1, 28, 28)


def test_real_test_split_one_hot(real_env):
    _, t_raw = load_mnist_split("test")
    _, t_one_hot = load_mnist_split("test", one_hot_label=True)
    assert t_one_hot.shape == (10000, 10)
    assert np.array_equal(np.argmax(t_one_hot, axis=1), t_raw)
    assert np.array_equal(t_one_hot.sum(axis=1), np.ones(10000))


def test_real_cached_load_matches_first(real_env):
    first, _ = load_mnist_split("test", normalize=False)
    second, _ = load_mnist_split("test", normalize=False)
    assert np.array_equal(first, second)


def test_real_folder_is_never_written(real_env):
    before = sorted(path.name for path in real_env.rglob("*"))
    load_mnist_split("test")
    assert sorted(path.name for path in real_env.rglob("*")) == before


def test_missing_training_images_named(real_env):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_mnist()


def test_unknown_split_rejected():
    with pytest.raises(ValueError, match="'valid'"):
        load_mnist_split("valid")


def test_load_mnist_returns_both_splits(small_splits):
    folder, (train_images, train_labels), (test_images, test_labels) = small_splits
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=False, data_dir=folder)
    assert np.array_equal(x_train, train_images.reshape(60, 784))
    assert np.array_equal(t_train, train_labels)
    assert np.array_equal(x_test, test_images.reshape(10, 784))
    assert np.array_equal(t_test, test_labels)


def test_normalize_divides_by_255(small_splits):
    folder, (train_images, _), _ = small_splits
    (x_train, _), _ = load_mnist(normalize=True, flatten=False, data_dir=folder)
    expected = train_images.astype(np.float32).reshape(60, 1, 28, 28) / 255
    assert x_train.dtype == np.float32
    assert np.array_equal(x_train, expected)


def test_cache_written_beside_files(small_splits):
    folder, _, _ = small_splits
    load_mnist_split("test", data_dir=folder)
    assert len(list((folder / "mnist").glob("test-*.npz"))) == 1


def test_cache_serves_without_source_files(small_splits):
    folder, _, (test_images, _) = small_splits
    load_mnist_split("test", data_dir=folder)
    for source in (folder / "mnist").glob("test-*.gz"):
        source.unlink()
    x_test, _ = load_mnist_split(
        "test", normalize=False, flatten=False, data_dir=folder
    )
    assert np.array_equal(x_test.reshape(10, 28, 28), test_images)


def test_corrupt_cache_is_rebuilt(small_splits, capsys):
    folder, _, (test_images, _) = small_splits
    load_mnist_split("test", data_dir=folder)
    (cache,) = (folder / "mnist").glob("test-*.npz")
    cache.write_bytes(cache.read_bytes()[:100])
    x_test, _ = load_mnist_split("test", normalize=False, data_dir=folder)
    assert np.array_equal(x_test, test_images.reshape(10, 784))
    assert "作り直します" in capsys.readouterr().out
    assert np.load(cache)["images"].shape == (10, 28, 28)


def test_cache_with_wrong_shape_is_rebuilt(small_splits):
    folder, _, (test_images, _) = small_splits
    load_mnist_split("test", data_dir=folder)
    (cache,) = (folder / "mnist").glob("test-*.npz")
    np.savez(
        cache, images=np.zeros((3, 28, 28), np.uint8), labels=np.zeros(3, np.uint8)
    )
    x_test, _ = load_mnist_split("test", normalize=False, data_dir=folder)
    assert np.array_equal(x_test, test_images.reshape(10, 784))


def test_idx_wrong_magic_named(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(struct.pack(">II", 1234, 1) + b"\x01"))
    with pytest.raises(ValueError, match="マジックナンバー 2049") as error:
        read_idx_labels(path, 1)
    assert str(path) in str(error.value)


def test_idx_wrong_count_rejected(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(idx_images_bytes(np.zeros((3, 28, 28), np.uint8)))
    with pytest.raises(ValueError, match=r"\(3, 28, 28\)"):
        read_idx_images(path, 5)


def test_idx_truncated_gzip_rejected(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(idx_images_bytes(np.zeros((3, 28, 28), np.uint8))[:-20])
    with pytest.raises(ValueError, match="gzip"):
        read_idx_images(path, 3)


def test_idx_label_out_of_range_rejected(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(struct.pack(">II", 2049, 2) + bytes([3, 12])))
    with pytest.raises(ValueError, match="12"):
        read_idx_labels(path, 2)
