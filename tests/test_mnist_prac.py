"""Tests of the lecture's inference program on the real test split and weights."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import MYMODULES

import mnist_prac

# The accuracy that the lecture prints for the pretrained network.
LECTURE_ACCURACY = 0.9352


@pytest.fixture(scope="module")
def data_and_network(real_data_dir):
    previous = os.environ.get("COURSE_DATA_DIR")
    os.environ["COURSE_DATA_DIR"] = str(real_data_dir)
    try:
        x, t = mnist_prac.get_data()
        network = mnist_prac.init_network()
    finally:
        if previous is None:
            del os.environ["COURSE_DATA_DIR"]
        else:
            os.environ["COURSE_DATA_DIR"] = previous
    return x, t, network


def test_script_prints_lecture_accuracy(real_data_dir, tmp_path):
    environment = dict(os.environ, COURSE_DATA_DIR=str(real_data_dir))
    completed = subprocess.run(
        [sys.executable, str(MYMODULES / "mnist_prac.py")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.splitlines() == [
        f"Accuracy:{LECTURE_ACCURACY}",
        f"Accuracy (batch_size=100):{LECTURE_ACCURACY}",
    ]
    assert completed.stderr == ""


def test_loop_accuracy(data_and_network):
    x, t, network = data_and_network
    assert mnist_prac.accuracy_one_by_one(network, x, t) == LECTURE_ACCURACY


@pytest.mark.parametrize("batch_size", [1, 7, 100, 333, 10000, 20000])
def test_batch_accuracy_any_size(data_and_network, batch_size):
    x, t, network = data_and_network
    accuracy = mnist_prac.accuracy_in_batches(network, x, t, batch_size)
    assert accuracy == LECTURE_ACCURACY


def test_batch_of_one_equals_single_image(data_and_network):
    x, _, network = data_and_network
    single = mnist_prac.predict(network, x[0])
    batch = mnist_prac.predict(network, x[:1])
    assert single.shape == (10,)
    assert batch.shape == (1, 10)
    assert np.allclose(batch[0], single)


def test_batch_of_100_shape(data_and_network):
    x, _, network = data_and_network
    assert mnist_prac.predict(network, x[:100]).shape == (100, 10)


def test_script_without_data_explains(tmp_path):
    environment = dict(os.environ, COURSE_DATA_DIR=str(tmp_path))
    completed = subprocess.run(
        [sys.executable, str(MYMODULES / "mnist_prac.py")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 1
    assert "データを用意できませんでした" in completed.stderr
    # Which file is reported first depends on whether an earlier test left the
    # parsed test split in the user cache, so only the kind of message is checked.
    assert "がありません" in completed.stderr
    assert "Traceback" not in completed.stderr
