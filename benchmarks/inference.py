"""Inference on the MNIST test split: the lecture's loop, batches, and the floor."""

import numpy as np

from benchmarks.report import PartResult, Row, Target
from benchmarks.timing import Case, median, time_interleaved
from functions import sigmoid
from mnist import load_mnist_split
from mnist_prac import accuracy_in_batches, accuracy_one_by_one, predict
from softmax import softmax
from weights import load_sample_weight

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # only the one-thread rows need it
    threadpool_limits = None

BATCH_SIZES = (1, 10, 100, 1000, 10_000)

# Accuracy of sample_weight.pkl on the 10,000 test images, from any batch size.
EXPECTED_ACCURACY = 0.9352

LOOP = "loop, 1 image at a time"
FLOOR = "floor: 3 matrix products"

# OpenBLAS splits a product between threads; on a busy machine a thread can
# wait for a core at every call, so some cases also run with one thread.
ONE_THREAD = ", 1 BLAS thread"
ONE_THREAD_SIZES = (100, 10_000)


def batch_name(batch_size):
    """Return the row name for one batch size."""
    if batch_size >= 10_000:
        return "whole set at once"
    return f"batches of {batch_size}"


def run(repeats):
    """Time the loop, every batch size and the floor, and check the accuracy.

    Parameters
    ----------
    repeats : int
        Timed rounds of each case.

    Returns
    -------
    PartResult
    """
    x, t = load_mnist_split("test", normalize=True, flatten=True)
    network = load_sample_weight()
    _check_accuracy(network, x, t)

    W1, W2, W3 = network["W1"], network["W2"], network["W3"]
    b1, b2, b3 = network["b1"], network["b2"], network["b3"]
    # The floor multiplies the same arrays that predict multiplies.
    z1 = sigmoid(x @ W1 + b1)
    z2 = sigmoid(z1 @ W2 + b2)
    a3 = z2 @ W3 + b3

    def matrix_products():
        np.dot(x, W1)
        np.dot(z1, W2)
        np.dot(z2, W3)

    cases = [Case(LOOP, lambda: accuracy_one_by_one(network, x, t))]
    for size in BATCH_SIZES:
        cases.append(
            Case(
                batch_name(size),
                lambda size=size: accuracy_in_batches(network, x, t, size),
            )
        )
    cases.append(Case(FLOOR, matrix_products))
    if threadpool_limits is not None:
        for size in ONE_THREAD_SIZES:
            cases.append(
                Case(
                    batch_name(size) + ONE_THREAD,
                    one_blas_thread(
                        lambda size=size: accuracy_in_batches(network, x, t, size)
                    ),
                )
            )
        cases.append(Case(FLOOR + ONE_THREAD, one_blas_thread(matrix_products)))
    samples = time_interleaved(cases, repeats)

    # Where the whole-set pass spends its time, step by step.
    steps = [
        Case("matrix products", matrix_products),
        Case("bias additions", lambda: (z1 + b1, z2 + b2, a3 + b3)),
        Case("sigmoid, 2 layers", lambda: (sigmoid(z1), sigmoid(z2))),
        Case("softmax", lambda: softmax(a3)),
        Case("argmax and count", lambda: np.sum(np.argmax(a3, axis=1) == t)),
        Case("predict, whole set", lambda: predict(network, x)),
    ]
    step_samples = time_interleaved(steps, repeats)
    return _summarize(samples, step_samples)


def one_blas_thread(function):
    """Return a call of ``function`` that limits the BLAS library to one thread."""

    def call():
        with threadpool_limits(limits=1, user_api="blas"):
            return function()

    return call


def _check_accuracy(network, x, t):
    results = {"loop": accuracy_one_by_one(network, x, t)}
    for size in BATCH_SIZES:
        results[f"batch {size}"] = accuracy_in_batches(network, x, t, size)
    wrong = {
        name: value for name, value in results.items() if value != EXPECTED_ACCURACY
    }
    if wrong:
        raise RuntimeError(
            f"inference accuracy differs from {EXPECTED_ACCURACY}: {wrong}; "
            "the data or the weights are not the published files"
        )


def _summarize(samples, step_samples):
    medians = {name: median(values) for name, values in samples.items()}
    floor = medians[FLOOR]
    loop = medians[LOOP]
    part = PartResult(
        key="inference",
        title="Inference on the 10,000 MNIST test images (accuracy 0.9352 in every row)",
    )
    part.rows.append(Row(LOOP, loop, FLOOR, loop / floor))
    for size in BATCH_SIZES:
        seconds = medians[batch_name(size)]
        note = f"speed-up over the loop {loop / seconds:.1f}x"
        part.rows.append(Row(batch_name(size), seconds, FLOOR, seconds / floor, note))
    part.rows.append(Row(FLOOR, floor, note="x @ W1, z1 @ W2, z2 @ W3"))
    if FLOOR + ONE_THREAD in medians:
        floor_one = medians[FLOOR + ONE_THREAD]
        for size in ONE_THREAD_SIZES:
            seconds = medians[batch_name(size) + ONE_THREAD]
            note = f"speed-up over the loop {loop / seconds:.1f}x"
            part.rows.append(
                Row(
                    batch_name(size) + ONE_THREAD,
                    seconds,
                    FLOOR + ONE_THREAD,
                    seconds / floor_one,
                    note,
                )
            )
        part.rows.append(Row(FLOOR + ONE_THREAD, floor_one))

    part.targets.append(
        Target(
            "batches of 100, speed-up over the loop",
            loop / medians[batch_name(100)],
            8,
            at_least=True,
        )
    )
    part.targets.append(
        Target(
            "whole set at once, multiple of the floor",
            medians[batch_name(10_000)] / floor,
            1.5,
            at_least=False,
        )
    )

    steps = {name: median(values) for name, values in step_samples.items()}
    total = steps["predict, whole set"]
    shares = ", ".join(
        f"{name} {seconds * 1e3:.2f} ms ({seconds / total:.0%})"
        for name, seconds in steps.items()
        if name != "predict, whole set"
    )
    part.findings.append(
        f"Whole-set predict takes {total * 1e3:.2f} ms: {shares} "
        "(each step timed alone on arrays of the same shapes)."
    )
    part.series = {
        "batch_sizes": list(BATCH_SIZES),
        "batch_seconds": [medians[batch_name(size)] for size in BATCH_SIZES],
        "loop_seconds": loop,
        "floor_seconds": floor,
    }
    return part
