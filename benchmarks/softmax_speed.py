"""Speed of the stable softmax against the naive one, on the network's real outputs."""

import numpy as np

import softmax
import softmax0
from benchmarks.report import PartResult, Row
from benchmarks.timing import Case, median, time_interleaved
from functions import sigmoid
from mnist import load_mnist_split
from weights import load_sample_weight

STABLE_BATCH = "stable, (10000, 10) batch"
NAIVE_BATCH = "naive, (10000, 10) batch"
STABLE_VECTOR = "stable, 1 image (10,)"
NAIVE_VECTOR = "naive, 1 image (10,)"


def output_layer_inputs():
    """Return the output layer's inputs for the 10,000 test images, (10000, 10) float32."""
    x, _ = load_mnist_split("test", normalize=True, flatten=True)
    network = load_sample_weight()
    z1 = sigmoid(x @ network["W1"] + network["b1"])
    z2 = sigmoid(z1 @ network["W2"] + network["b2"])
    return z2 @ network["W3"] + network["b3"]


def naive_rows(a):
    """Apply the naive formula of ``softmax0`` to every row of a batch.

    ``softmax0.softmax`` sums over the whole array, so on a batch it would
    divide by the sum of all rows. This function keeps its arithmetic but sums
    each row separately.
    """
    exp_a = np.exp(a)
    return exp_a / np.sum(exp_a, axis=-1, keepdims=True)


def run(repeats):
    """Time the stable and the naive softmax on a batch and on one image.

    Parameters
    ----------
    repeats : int
        Timed rounds of each case.

    Returns
    -------
    PartResult
    """
    a = output_layer_inputs()
    first = a[0]
    if not np.allclose(softmax.softmax(a), naive_rows(a), rtol=1e-5, atol=0):
        raise RuntimeError("the stable and the naive softmax disagree on MNIST outputs")

    cases = [
        Case(STABLE_BATCH, lambda: softmax.softmax(a)),
        Case(NAIVE_BATCH, lambda: naive_rows(a)),
        Case(STABLE_VECTOR, lambda: softmax.softmax(first)),
        Case(NAIVE_VECTOR, lambda: softmax0.softmax(first)),
    ]
    medians = {
        name: median(values)
        for name, values in time_interleaved(cases, repeats).items()
    }

    part = PartResult(key="softmax", title="Softmax: stable vs naive")
    part.rows = [
        Row(
            STABLE_BATCH,
            medians[STABLE_BATCH],
            NAIVE_BATCH,
            medians[STABLE_BATCH] / medians[NAIVE_BATCH],
            "softmax.softmax",
        ),
        Row(NAIVE_BATCH, medians[NAIVE_BATCH], note="exp, then divide by row sums"),
        Row(
            STABLE_VECTOR,
            medians[STABLE_VECTOR],
            NAIVE_VECTOR,
            medians[STABLE_VECTOR] / medians[NAIVE_VECTOR],
            "per call, as in the lecture's loop",
        ),
        Row(NAIVE_VECTOR, medians[NAIVE_VECTOR], note="softmax0.softmax"),
    ]
    extra = (medians[STABLE_VECTOR] - medians[NAIVE_VECTOR]) * len(a)
    part.findings.append(
        "The guard against overflow (subtracting the row maximum, input checks and "
        "np.errstate) costs "
        f"{(medians[STABLE_BATCH] - medians[NAIVE_BATCH]) * 1e3:.2f} ms on the whole "
        f"batch and {extra * 1e3:.0f} ms over the 10,000 calls of the lecture's loop."
    )
    return part
