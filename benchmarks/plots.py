"""Plots of the figures whose shape says more than a table."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import ScalarFormatter  # noqa: E402


def plot_inference(part, path):
    """Draw inference time per image against batch size, with the loop and the floor.

    Parameters
    ----------
    part : PartResult
        The inference part; its ``series`` contains the figures.
    path : pathlib.Path
        The PNG file to write.
    """
    series = part.series
    images = 10_000
    per_image = [seconds / images * 1e6 for seconds in series["batch_seconds"]]

    figure, axes = plt.subplots(figsize=(6.4, 4))
    axes.plot(series["batch_sizes"], per_image, marker="o", label="accuracy_in_batches")
    axes.axhline(
        series["loop_seconds"] / images * 1e6,
        color="tab:red",
        linestyle="--",
        label="loop, 1 image at a time",
    )
    axes.axhline(
        series["floor_seconds"] / images * 1e6,
        color="tab:gray",
        linestyle=":",
        label="floor: 3 matrix products",
    )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(ScalarFormatter())
    axes.set_xlabel("batch size (images)")
    axes.set_ylabel("time per image (µs, median)")
    axes.set_title("Inference on the MNIST test split")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_grading(part, path):
    """Draw grading time against class size for each way of grading.

    Parameters
    ----------
    part : PartResult
        The grading part; its ``series`` maps a label to (class sizes, seconds).
    path : pathlib.Path
        The PNG file to write.
    """
    figure, axes = plt.subplots(figsize=(6.4, 4))
    all_sizes = set()
    for label, (sizes, seconds) in part.series["classes"].items():
        axes.plot(sizes, seconds, marker="o", label=label)
        all_sizes.update(sizes)
    axes.set_xticks(sorted(all_sizes))
    axes.set_xlabel("students in the class")
    axes.set_ylabel("seconds for the whole class (median)")
    axes.set_title("Grading the week-4 assignment")
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
