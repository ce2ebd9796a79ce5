"""MNIST データセットを NumPy 配列として読み込む。

MNIST は 0 から 9 の手書き数字の画像データセットで、1 枚は 28x28 ピクセルの
グレースケール画像です。訓練画像が 60,000 枚、テスト画像が 10,000 枚あります。
MNIST は Yann LeCun, Corinna Cortes, Christopher J.C. Burges によるものです。

使い方::

    import sys
    sys.path.append("/content/drive/MyDrive/Colab Notebooks/mymodules")
    from mnist import load_mnist

    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True)

初回は公開ミラーから 4 つの ``.gz`` ファイル（合わせて約 11 MB）をダウンロードし、
大きさと SHA-256 を確かめます。読み込んだ配列は ``.npz`` に保存するので、
2 回目からは速く読めます。データの置き場所は ``datafiles.py`` を見てください。
"""

import gzip
import hashlib
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import datafiles
from datafiles import DataFile

# Public mirrors of the original files, tried in this order. The original host
# (yann.lecun.com) often refuses downloads, so it comes last.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

IMAGE_ROWS = 28
IMAGE_COLS = 28
IMAGE_SIZE = IMAGE_ROWS * IMAGE_COLS
NUM_CLASSES = 10

# Magic numbers of the IDX format: unsigned bytes with 3 or 1 dimensions.
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

# Bump when the cached layout changes, so that old caches are rebuilt.
CACHE_VERSION = 2


def _mnist_file(name, size, sha256):
    return DataFile(
        name=f"mnist/{name}",
        size=size,
        sha256=sha256,
        urls=tuple(mirror + name for mirror in MIRRORS),
    )


@dataclass(frozen=True)
class Split:
    """MNIST の 1 つの分割（訓練用またはテスト用）の画像とラベルのファイル。"""

    images: DataFile
    labels: DataFile
    count: int


SPLITS = {
    "train": Split(
        images=_mnist_file(
            "train-images-idx3-ubyte.gz",
            9_912_422,
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        labels=_mnist_file(
            "train-labels-idx1-ubyte.gz",
            28_881,
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        count=60_000,
    ),
    "test": Split(
        images=_mnist_file(
            "t10k-images-idx3-ubyte.gz",
            1_648_877,
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        labels=_mnist_file(
            "t10k-labels-idx1-ubyte.gz",
            4_542,
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
        count=10_000,
    ),
}


def load_mnist(normalize=True, flatten=True, one_hot_label=False, *, data_dir=None):
    """MNIST の訓練データとテストデータを読み込む。

    Parameters
    ----------
    normalize : bool
        True なら画素値を 255 で割り、0.0 から 1.0 の float32 にする（正規化）。
        False なら 0 から 255 の uint8 のまま。
    flatten : bool
        True なら画像を長さ 784 の 1 次元配列にする。
        False なら shape (1, 28, 28)（チャンネル、高さ、幅）のまま。
    one_hot_label : bool
        True ならラベルを one-hot 表現（正解の位置だけ 1 の長さ 10 の配列、float32）にする。
        False なら 0 から 9 の整数（uint8）。
    data_dir : str or os.PathLike or None
        データフォルダー。None なら ``COURSE_DATA_DIR`` か既定の場所（``datafiles.py``）。

    Returns
    -------
    (x_train, t_train), (x_test, t_test)
        ``flatten=True`` なら x の shape は (60000, 784) と (10000, 784)、
        ``flatten=False`` なら (60000, 1, 28, 28) と (10000, 1, 28, 28)。
        t の shape は (60000,) と (10000,)、``one_hot_label=True`` なら
        (60000, 10) と (10000, 10)。

    Raises
    ------
    FileNotFoundError, ValueError, PermissionError, ConnectionError
        ファイルを用意できないとき（``datafiles.fetch`` を参照）。
    """
    options = dict(normalize=normalize, flatten=flatten, one_hot_label=one_hot_label)
    train = load_mnist_split("train", **options, data_dir=data_dir)
    test = load_mnist_split("test", **options, data_dir=data_dir)
    return train, test


def load_mnist_split(
    split, normalize=True, flatten=True, one_hot_label=False, *, data_dir=None
):
    """MNIST の片方の分割だけを読み込む。

    テストデータしか使わない推論では、これで訓練データのダウンロードを省けます。

    Parameters
    ----------
    split : {"train", "test"}
        読み込む分割。
    normalize, flatten, one_hot_label, data_dir
        ``load_mnist`` と同じ。

    Returns
    -------
    x : numpy.ndarray, shape (N, 784) or (N, 1, 28, 28)
        画像。N は訓練用なら 60000、テスト用なら 10000。
    t : numpy.ndarray, shape (N,) or (N, 10)
        ラベル。
    """
    if split not in SPLITS:
        raise ValueError(
            f"split は 'train' か 'test' です（受け取った値: {split!r}）。"
        )
    images, labels = _load_raw(split, data_dir)

    if normalize:
        # 画素値 0..255 を 0.0..1.0 にそろえる。float32 で十分な精度がある。
        # その場で割ると 31 MB の配列をもう 1 つ作らずに済み、値は同じになる。
        images = images.astype(np.float32)
        images /= 255.0
    if flatten:
        images = images.reshape(-1, IMAGE_SIZE)
    else:
        images = images.reshape(-1, 1, IMAGE_ROWS, IMAGE_COLS)
    if one_hot_label:
        labels = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    return images, labels


def _load_raw(split, data_dir):
    """画像 (N, 28, 28) とラベル (N,) を uint8 で返す。キャッシュがあればそれを使う。"""
    spec = SPLITS[split]
    folder = datafiles.resolve_data_folder(data_dir)
    cache_path = _cache_path(folder, split, spec)

    arrays = _read_cache(cache_path, spec)
    if arrays is not None:
        return arrays

    images_path = datafiles.fetch(spec.images, data_dir)
    labels_path = datafiles.fetch(spec.labels, data_dir)
    images = read_idx_images(images_path, spec.count)
    labels = read_idx_labels(labels_path, spec.count)
    _write_cache(cache_path, images, labels)
    return images, labels


def read_idx_images(path, count):
    """gzip 圧縮された IDX 形式の画像ファイルを読み、shape (count, 28, 28) で返す。

    Raises
    ------
    ValueError
        マジックナンバー、枚数、画像の大きさ、データの長さのどれかが違うとき。
    """
    data = _read_gzip(path)
    header = np.frombuffer(data[:16], dtype=">u4") if len(data) >= 16 else None
    if header is None or header[0] != IMAGES_MAGIC:
        raise ValueError(
            f"{path} は MNIST の画像ファイル（IDX 形式、マジックナンバー {IMAGES_MAGIC}）"
            f"ではありません（先頭 16 バイト: {data[:16].hex()}）。"
            "ファイルを削除して、もう一度読み込んでください。"
        )
    found = tuple(int(value) for value in header[1:])
    expected = (count, IMAGE_ROWS, IMAGE_COLS)
    if found != expected or len(data) != 16 + count * IMAGE_SIZE:
        raise ValueError(
            f"{path} の (枚数, 高さ, 幅) が {found}、データが {len(data) - 16:,} バイトで、"
            f"正しい {expected}、{count * IMAGE_SIZE:,} バイトと違います。"
            "ファイルを削除して、もう一度読み込んでください。"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(expected).copy()


def read_idx_labels(path, count):
    """gzip 圧縮された IDX 形式のラベルファイルを読み、shape (count,) で返す。

    Raises
    ------
    ValueError
        マジックナンバー、個数、データの長さ、ラベルの値（0 から 9）のどれかが違うとき。
    """
    data = _read_gzip(path)
    header = np.frombuffer(data[:8], dtype=">u4") if len(data) >= 8 else None
    if header is None or header[0] != LABELS_MAGIC:
        raise ValueError(
            f"{path} は MNIST のラベルファイル（IDX 形式、マジックナンバー {LABELS_MAGIC}）"
            f"ではありません（先頭 8 バイト: {data[:8].hex()}）。"
            "ファイルを削除して、もう一度読み込んでください。"
        )
    if int(header[1]) != count or len(data) != 8 + count:
        raise ValueError(
            f"{path} のラベル数が {int(header[1]):,}、データが {len(data) - 8:,} バイトで、"
            f"正しい {count:,} と違います。ファイルを削除して、もう一度読み込んでください。"
        )
    labels = np.frombuffer(data, dtype=np.uint8, offset=8).copy()
    if labels.max(initial=0) >= NUM_CLASSES:
        raise ValueError(
            f"{path} に 0 から 9 以外のラベル {int(labels.max())} があります。"
            "ファイルを削除して、もう一度読み込んでください。"
        )
    return labels


def _read_gzip(path):
    try:
        with gzip.open(path, "rb") as stream:
            return stream.read()
    except (OSError, EOFError) as error:
        raise ValueError(
            f"{path} を gzip として展開できません（{error}）。"
            "ファイルが途中で切れているか壊れています。"
            "ファイルを削除して、もう一度読み込んでください。"
        ) from error


def _cache_path(data_folder, split, spec):
    """解析済みの配列を置く ``.npz`` のパス。書けるフォルダーがなければ None。"""
    # The name carries the hashes of both source files, so a cache built from
    # other files never matches.
    sources = hashlib.sha256((spec.images.sha256 + spec.labels.sha256).encode())
    name = f"{split}-v{CACHE_VERSION}-{sources.hexdigest()[:16]}.npz"
    candidates = [datafiles.user_cache_dir()]
    if data_folder.may_download:
        # A folder given by COURSE_DATA_DIR is read-only by contract, even for root.
        candidates.insert(0, data_folder.path / "mnist")
    for folder in candidates:
        if datafiles.is_writable(folder):
            return folder / name
    return None


def _read_cache(path, spec):
    """キャッシュが正しければ (images, labels) を、なければ None を返す。

    読めない、または中身の shape、dtype、ラベルの値が違うキャッシュは削除し、
    作り直させる。zip の CRC-32 で壊れたファイルは見つかるが、
    NOTE: 正しい形式のまま書き換えられたキャッシュは見分けられない。
    """
    if path is None or not path.is_file():
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            images = _read_npy_member(
                archive, "images.npy", (spec.count, IMAGE_ROWS, IMAGE_COLS)
            )
            labels = _read_npy_member(archive, "labels.npy", (spec.count,))
        if labels.max(initial=0) >= NUM_CLASSES:
            raise ValueError(f"0 から 9 以外のラベル {int(labels.max())} があります")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        print(f"キャッシュ {path} を読めないので作り直します（{error}）。")
        path.unlink(missing_ok=True)
        return None
    return images, labels


def _read_npy_member(archive, name, shape):
    """zip の中の ``.npy`` を、ヘッダーの shape と dtype を確かめてから読む。

    先にヘッダーを見るので、巨大な shape を名乗るファイルでもメモリを確保しない。
    """
    with archive.open(name) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(stream)
        else:
            header = np.lib.format.read_array_header_2_0(stream)
        found_shape, fortran_order, dtype = header
        if found_shape != shape or dtype != np.uint8 or fortran_order:
            raise ValueError(
                f"{name} が shape {found_shape}、dtype {dtype} で、"
                f"正しい {shape}、uint8 と違います"
            )
        data = bytearray(math.prod(shape))
        if stream.readinto(data) != len(data) or stream.read(1):
            raise ValueError(f"{name} の長さが shape {shape} と合いません")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _write_cache(path, images, labels):
    """配列を ``.npz`` に書く。一時ファイルに書いてから置き換えるので、途中で止まっても壊れない。"""
    if path is None:
        return
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part"
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            np.savez(stream, images=images, labels=labels)
        os.chmod(temporary, datafiles.FILE_MODE)
        os.replace(temporary, path)
    except OSError:
        # The cache only saves time, so a full disk must not stop the student.
        Path(temporary).unlink(missing_ok=True)
