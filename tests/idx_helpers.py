"""Small MNIST-like IDX files that tests write themselves.

The real training images are not available to the tests, so the code paths
that read the training split run on these files instead.
"""

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np

from datafiles import DataFile
from mnist import IMAGES_MAGIC, LABELS_MAGIC, Split


def idx_images_bytes(images):
    """Return gzip-compressed IDX bytes for uint8 images of shape (N, 28, 28)."""
    header = struct.pack(">IIII", IMAGES_MAGIC, *images.shape)
    return gzip.compress(header + images.astype(np.uint8).tobytes())


def idx_labels_bytes(labels):
    """Return gzip-compressed IDX bytes for uint8 labels of shape (N,)."""
    header = struct.pack(">II", LABELS_MAGIC, len(labels))
    return gzip.compress(header + labels.astype(np.uint8).tobytes())


def spec_for(name, content, urls=()):
    """Return a DataFile whose size and hash match ``content``."""
    return DataFile(
        name=name,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        urls=tuple(urls),
    )


def make_split(folder, prefix, count, seed):
    """Write a small split under ``folder/mnist`` and return (Split, images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count, dtype=np.uint8)
    files = {
        "images": (f"mnist/{prefix}-images.gz", idx_images_bytes(images)),
        "labels": (f"mnist/{prefix}-labels.gz", idx_labels_bytes(labels)),
    }
    specs = {}
    for key, (name, content) in files.items():
        path = Path(folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        specs[key] = spec_for(name, content)
    return (
        Split(images=specs["images"], labels=specs["labels"], count=count),
        images,
        labels,
    )
