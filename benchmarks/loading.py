"""MNIST loading: first load, cached load, the gzip floor and the book's pickle peer."""

import gzip
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import datafiles
from benchmarks import MYMODULES
from benchmarks.report import PartResult, Row, Target
from benchmarks.timing import Case, median, time_interleaved
from mnist import SPLITS, load_mnist_split

FIRST = "first load"
FIRST_RAW = "first load, uint8"
CACHED = "cached load"
CACHED_RAW = "cached load, uint8"
FLOOR = "floor: decompress the .gz files"
PEER = "peer: pickle, the book's way"
PEER_RAW = "peer: pickle, uint8"
NEW_CACHED = "new process: import, cached load"
NEW_PEER = "new process: pickle peer"
NEW_FLOOR = "new process: import NumPy alone"

# The lecture's call returns float32 pixels in [0, 1], 784 per image.
LECTURE_OPTIONS = {"normalize": True, "flatten": True, "one_hot_label": False}
RAW_OPTIONS = {"normalize": False, "flatten": True, "one_hot_label": False}

PICKLE_PEER_SCRIPT = """
import pickle, sys
import numpy as np
with open(sys.argv[1], "rb") as stream:
    dataset = pickle.load(stream)
images = dataset["test_img"].astype(np.float32)
images /= 255.0
"""

CACHED_LOAD_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from mnist import load_mnist_split
load_mnist_split("test")
"""


def run(repeats, data_dir):
    """Time first and cached loads of the test split next to the floor and the peer.

    Parameters
    ----------
    repeats : int
        Timed rounds of each case.
    data_dir : pathlib.Path
        The folder with ``mnist/t10k-*.gz``; it is only read.

    Returns
    -------
    PartResult
    """
    spec = SPLITS["test"]
    gz_paths = [data_dir / spec.images.name, data_dir / spec.labels.name]
    previous_cache_home = os.environ.get("XDG_CACHE_HOME")
    with tempfile.TemporaryDirectory(prefix="mnist-loading-") as work:
        work = Path(work)
        warm_home = work / "warm"
        pickle_path = work / "mnist.pkl"

        def use_empty_cache():
            os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(dir=work)

        def use_warm_cache():
            os.environ["XDG_CACHE_HOME"] = str(warm_home)

        use_warm_cache()
        images, labels = load_mnist_split("test", **RAW_OPTIONS)
        _write_book_pickle(pickle_path, images, labels)

        try:
            cases = [
                Case(
                    FIRST,
                    lambda: load_mnist_split("test", **LECTURE_OPTIONS),
                    use_empty_cache,
                ),
                Case(
                    FIRST_RAW,
                    lambda: load_mnist_split("test", **RAW_OPTIONS),
                    use_empty_cache,
                ),
                Case(FLOOR, lambda: [_decompress(path) for path in gz_paths]),
                Case(
                    CACHED,
                    lambda: load_mnist_split("test", **LECTURE_OPTIONS),
                    use_warm_cache,
                ),
                Case(
                    CACHED_RAW,
                    lambda: load_mnist_split("test", **RAW_OPTIONS),
                    use_warm_cache,
                ),
                Case(PEER, lambda: _load_book_pickle(pickle_path, normalize=True)),
                Case(PEER_RAW, lambda: _load_book_pickle(pickle_path, normalize=False)),
            ]
            samples = time_interleaved(cases, repeats)

            steps = [
                Case(
                    "SHA-256 check", lambda: [datafiles.sha256_of(p) for p in gz_paths]
                ),
                Case("decompression", lambda: [_decompress(p) for p in gz_paths]),
                Case(
                    "cache write", lambda: _write_npz(work / "step.npz", images, labels)
                ),
                Case("float32 conversion", lambda: _normalize(images)),
            ]
            step_samples = time_interleaved(steps, repeats)

            environment = dict(os.environ, XDG_CACHE_HOME=str(warm_home))
            python = [sys.executable, "-c"]
            processes = [
                Case(
                    NEW_CACHED,
                    lambda: _run_process(
                        python + [CACHED_LOAD_SCRIPT, str(MYMODULES)], environment
                    ),
                ),
                Case(
                    NEW_PEER,
                    lambda: _run_process(
                        python + [PICKLE_PEER_SCRIPT, str(pickle_path)], environment
                    ),
                ),
                Case(
                    NEW_FLOOR,
                    lambda: _run_process(python + ["import numpy"], environment),
                ),
            ]
            process_samples = time_interleaved(processes, repeats)
        finally:
            if previous_cache_home is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = previous_cache_home

    return _summarize(samples, step_samples, process_samples)


def _decompress(path):
    with gzip.open(path, "rb") as stream:
        return stream.read()


def _normalize(images):
    converted = images.astype(np.float32)
    converted /= 255.0
    return converted


def _write_book_pickle(path, images, labels):
    # The book keeps uint8 arrays in one pickled dict and converts them after loading.
    with open(path, "wb") as stream:
        pickle.dump({"test_img": images, "test_label": labels}, stream, protocol=-1)


def _load_book_pickle(path, normalize):
    with open(path, "rb") as stream:
        dataset = pickle.load(stream)
    if normalize:
        return _normalize(dataset["test_img"]), dataset["test_label"]
    return dataset["test_img"], dataset["test_label"]


def _write_npz(path, images, labels):
    with open(path, "wb") as stream:
        np.savez(stream, images=images, labels=labels)


def _run_process(command, environment):
    subprocess.run(command, env=environment, check=True, capture_output=True)


def _summarize(samples, step_samples, process_samples):
    medians = {name: median(values) for name, values in samples.items()}
    medians.update({name: median(values) for name, values in process_samples.items()})
    part = PartResult(
        key="loading", title="Loading the MNIST test split (10,000 images)"
    )

    def speed_up(cached, first):
        return medians[first] / medians[cached]

    part.rows = [
        Row(
            FIRST,
            medians[FIRST],
            FLOOR,
            medians[FIRST] / medians[FLOOR],
            "float32, as the lecture loads it",
        ),
        Row(
            FIRST_RAW,
            medians[FIRST_RAW],
            FLOOR,
            medians[FIRST_RAW] / medians[FLOOR],
            "normalize=False",
        ),
        Row(FLOOR, medians[FLOOR], note="gzip alone, images and labels"),
        Row(
            CACHED,
            medians[CACHED],
            PEER,
            medians[CACHED] / medians[PEER],
            f"{speed_up(CACHED, FIRST):.1f}x faster than the first load",
        ),
        Row(
            CACHED_RAW,
            medians[CACHED_RAW],
            PEER_RAW,
            medians[CACHED_RAW] / medians[PEER_RAW],
            f"{speed_up(CACHED_RAW, FIRST_RAW):.1f}x faster than the first load",
        ),
        Row(PEER, medians[PEER], note="pickle.load, then float32 / 255"),
        Row(PEER_RAW, medians[PEER_RAW], note="pickle.load alone"),
        Row(
            NEW_CACHED,
            medians[NEW_CACHED],
            NEW_PEER,
            medians[NEW_CACHED] / medians[NEW_PEER],
            "python -c, float32",
        ),
        Row(
            NEW_PEER,
            medians[NEW_PEER],
            NEW_FLOOR,
            medians[NEW_PEER] / medians[NEW_FLOOR],
            "python -c, float32",
        ),
        Row(NEW_FLOOR, medians[NEW_FLOOR], note="python -c 'import numpy'"),
    ]
    part.targets = [
        Target(
            "cached vs first load, float32 (the lecture's call)",
            speed_up(CACHED, FIRST),
            20,
            at_least=True,
        ),
        Target(
            "cached vs first load, uint8 (what the cache stores)",
            speed_up(CACHED_RAW, FIRST_RAW),
            20,
            at_least=True,
        ),
    ]
    steps = {name: median(values) for name, values in step_samples.items()}
    part.findings.append(
        "Steps timed alone: "
        + ", ".join(f"{name} {seconds * 1e3:.2f} ms" for name, seconds in steps.items())
        + "."
    )
    return part
