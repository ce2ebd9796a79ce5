"""Tests of softmax0.softmax (the lecture's naive version) and softmax.softmax."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from softmax import softmax
from softmax0 import softmax as naive_softmax

LECTURE_INPUT = np.array([0.3, 2.9, 4.0])

# Printed values from the lecture, at NumPy's default print precision.
LECTURE_EXP = "[ 1.34985881 18.17414537 54.59815003]"
LECTURE_SUM = "74.1221542101633"
LECTURE_OUTPUT = "[0.01821127 0.24519181 0.73659691]"

finite_rows = hnp.arrays(
    dtype=np.float64,
    shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
    elements=st.floats(-1e6, 1e6),
)


def test_naive_steps_print_lecture_values():
    exp_a = np.exp(LECTURE_INPUT)
    assert str(exp_a) == LECTURE_EXP
    assert str(np.sum(exp_a)) == LECTURE_SUM


def test_naive_prints_lecture_output():
    assert str(naive_softmax(LECTURE_INPUT)) == LECTURE_OUTPUT


def test_stable_prints_lecture_output():
    assert str(softmax(LECTURE_INPUT)) == LECTURE_OUTPUT


def test_stable_lecture_output_sums_to_one():
    assert np.sum(softmax(LECTURE_INPUT)) == pytest.approx(1.0)


def test_naive_overflows_on_large_input():
    with pytest.warns(RuntimeWarning):
        result = naive_softmax(np.array([1010.0, 1000.0, 990.0]))
    assert np.isnan(result).all()


def test_stable_large_input_gives_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = softmax(np.array([1010.0, 1000.0, 990.0]))
    assert np.isfinite(result).all()
    assert result == pytest.approx([9.99954600e-01, 4.53978686e-05, 2.06106005e-09])


def test_stable_batch_is_row_wise():
    batch = np.array([[0.3, 2.9, 4.0], [1000.0, 1000.0, 1000.0]])
    result = softmax(batch)
    assert result[0] == pytest.approx(softmax(batch[0]))
    assert result[1] == pytest.approx([1 / 3, 1 / 3, 1 / 3])


def test_stable_keeps_input_unchanged():
    batch = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]])
    copy = batch.copy()
    softmax(batch)
    assert np.array_equal(batch, copy)


def test_stable_integer_input_gives_float64():
    result = softmax(np.array([1, 2, 3]))
    assert result.dtype == np.float64
    assert result == pytest.approx(softmax(np.array([1.0, 2.0, 3.0])))


def test_stable_float32_input_gives_float32():
    assert softmax(LECTURE_INPUT.astype(np.float32)).dtype == np.float32


def test_stable_accepts_list():
    assert str(softmax([0.3, 2.9, 4.0])) == LECTURE_OUTPUT


def test_stable_minus_inf_gets_zero():
    result = softmax(np.array([0.0, -np.inf, 0.0]))
    assert result.tolist() == [0.5, 0.0, 0.5]


@pytest.mark.parametrize(
    "row",
    [[-np.inf, -np.inf], [np.inf, 1.0], [np.nan, 1.0], [np.inf, np.inf]],
    ids=["all-minus-inf", "plus-inf", "nan", "all-plus-inf"],
)
def test_stable_undefined_row_is_nan_without_warning(row):
    batch = np.array([row, [0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = softmax(batch)
    assert np.isnan(result[0]).all()
    assert result[1].tolist() == [0.5, 0.5]


def test_stable_empty_batch_returns_empty():
    result = softmax(np.zeros((0, 10)))
    assert result.shape == (0, 10)


def test_stable_empty_vector_is_rejected():
    with pytest.raises(ValueError, match=r"最後の軸が空"):
        softmax(np.array([]))


def test_stable_scalar_is_rejected():
    with pytest.raises(ValueError, match=r"1 次元以上"):
        softmax(3.0)


@given(finite_rows)
def test_stable_rows_sum_to_one(batch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = softmax(batch)
    assert np.allclose(result.sum(axis=1), 1.0)
    assert ((result >= 0) & (result <= 1)).all()


@given(finite_rows, st.floats(-1e3, 1e3))
def test_stable_ignores_added_constant(batch, constant):
    assert np.allclose(softmax(batch + constant), softmax(batch), atol=1e-9)


@given(finite_rows)
def test_stable_keeps_argmax(batch):
    result = softmax(batch)
    top = np.argmax(batch, axis=1)
    rows = np.arange(len(batch))
    assert (result[rows, top] == result.max(axis=1)).all()


@given(finite_rows)
def test_stable_matches_each_row_alone(batch):
    result = softmax(batch)
    for row, expected in zip(batch, result, strict=True):
        assert np.array_equal(softmax(row), expected)


@given(
    hnp.arrays(
        dtype=np.float64,
        shape=hnp.array_shapes(min_dims=1, max_dims=1, min_side=1, max_side=10),
        elements=st.floats(-30, 30),
    )
)
def test_stable_matches_naive_on_small_inputs(vector):
    assert np.allclose(softmax(vector), naive_softmax(vector))
