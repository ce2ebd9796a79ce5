"""Tests of weights.load_sample_weight and the restricted unpickler."""

import os
import pickle
import shutil

import numpy as np
import pytest

from weights import EXPECTED_SHAPES, load_sample_weight, read_weight_file


class RunsCommand:
    """A pickle payload that runs a shell command when loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def real_network():
    return {
        name: np.zeros(shape, dtype=np.float32)
        for name, shape in EXPECTED_SHAPES.items()
    }


def write_pickle(path, value):
    with open(path, "wb") as stream:
        pickle.dump(value, stream)
    return path


def test_real_weights_shapes(real_data_dir, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(real_data_dir))
    network = load_sample_weight()
    assert {name: array.shape for name, array in network.items()} == EXPECTED_SHAPES


def test_real_weights_float32(real_data_dir, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(real_data_dir))
    network = load_sample_weight()
    assert {array.dtype for array in network.values()} == {np.dtype(np.float32)}


def test_real_weights_equal_plain_pickle(real_data_dir, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(real_data_dir))
    with open(real_data_dir / "sample_weight.pkl", "rb") as stream:
        expected = pickle.load(stream)
    network = load_sample_weight()
    for name in EXPECTED_SHAPES:
        assert np.array_equal(network[name], expected[name]), name


def test_malicious_pickle_does_not_run(tmp_path):
    marker = tmp_path / "ran"
    path = write_pickle(tmp_path / "evil.pkl", {"W1": RunsCommand(marker)})
    with pytest.raises(pickle.UnpicklingError, match="posix.system|os.system"):
        read_weight_file(path)
    assert not marker.exists()


def test_malicious_pickle_in_data_folder_rejected(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    write_pickle(tmp_path / "sample_weight.pkl", RunsCommand(marker))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="sample_weight.pkl が壊れています"):
        load_sample_weight()
    assert not marker.exists()


def test_missing_and_extra_keys_listed(tmp_path):
    network = real_network()
    del network["b3"]
    network["W4"] = np.zeros(3, dtype=np.float32)
    with pytest.raises(ValueError) as error:
        read_weight_file(write_pickle(tmp_path / "w.pkl", network))
    message = str(error.value)
    assert "足りない名前: b3" in message
    assert "余分な名前: 'W4'" in message
    assert "W1 (784, 50) float32" in message


def test_wrong_shape_and_dtype_listed(tmp_path):
    network = real_network()
    network["W2"] = np.zeros((100, 50), dtype=np.float32)
    network["b1"] = np.zeros(50, dtype=np.float64)
    with pytest.raises(ValueError) as error:
        read_weight_file(write_pickle(tmp_path / "w.pkl", network))
    message = str(error.value)
    assert "W2 が shape (100, 50)、dtype float32" in message
    assert "b1 が shape (50,)、dtype float64" in message


def test_list_in_place_of_array_listed(tmp_path):
    network = real_network()
    network["b3"] = [0.0] * 10
    with pytest.raises(ValueError, match="b3 が NumPy 配列ではなく list"):
        read_weight_file(write_pickle(tmp_path / "w.pkl", network))


def test_not_a_dict_rejected(tmp_path):
    with pytest.raises(ValueError, match="辞書であるはずが list"):
        read_weight_file(write_pickle(tmp_path / "w.pkl", [1, 2]))


def test_truncated_pickle_rejected(real_data_dir, tmp_path):
    path = tmp_path / "w.pkl"
    shutil.copyfile(real_data_dir / "sample_weight.pkl", path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(pickle.UnpicklingError, match="壊れています"):
        read_weight_file(path)
