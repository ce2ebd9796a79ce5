"""Tests of the activation functions in functions.py."""

import warnings

import numpy as np
import pytest

from functions import identity_function, sigmoid


def test_identity_returns_input_object():
    x = np.array([0.3, 2.9, 4.0])
    assert identity_function(x) is x


def test_sigmoid_known_values():
    result = sigmoid(np.array([-1.0, 0.0, 2.0]))
    assert result == pytest.approx([1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-2.0))])


def test_sigmoid_very_negative_gives_zero_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = sigmoid(np.array([-1000.0, 1000.0]))
    assert result.tolist() == [0.0, 1.0]


def test_sigmoid_float32_stays_float32():
    assert sigmoid(np.zeros(3, dtype=np.float32)).dtype == np.float32


def test_sigmoid_keeps_shape():
    assert sigmoid(np.zeros((100, 50))).shape == (100, 50)
