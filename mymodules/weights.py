"""学習済みのパラメーター ``sample_weight.pkl`` を安全に読み込む。

``sample_weight.pkl`` は書籍『ゼロから作る Deep Learning』（斎藤康毅、オライリー・
ジャパン）のリポジトリ oreilly-japan/deep-learning-from-scratch の
``ch03/sample_weight.pkl`` です（MIT ライセンス、Copyright (c) 2016 Koki Saitoh）。
784-50-100-10 のネットワークの重みとバイアスが、NumPy 配列の辞書として入っています。

pickle は読み込むだけで任意のコードを実行できる形式なので、ここでは NumPy 配列と
辞書以外を読もうとした時点で止める ``pickle.Unpickler`` を使います。
"""

import pickle

import numpy as np

import datafiles
from datafiles import DataFile

SAMPLE_WEIGHT = DataFile(
    name="sample_weight.pkl",
    size=181_853,
    sha256="b7f55a27988ba34c3777b0f1bbd464817c8a4db855723e6ff26f703501917a13",
    urls=(
        "https://github.com/oreilly-japan/deep-learning-from-scratch/raw/master/"
        "ch03/sample_weight.pkl",
    ),
)

# Name and shape of every array in the 784-50-100-10 network, in layer order.
EXPECTED_SHAPES = {
    "W1": (784, 50),
    "b1": (50,),
    "W2": (50, 100),
    "b2": (100,),
    "W3": (100, 10),
    "b3": (10,),
}
EXPECTED_DTYPE = np.dtype(np.float32)

# ndarray.__reduce__ names this function; NumPy 1 calls its module numpy.core and
# NumPy 2 numpy._core, so it is looked up from an array rather than by name.
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
}


class UnsafePickleError(pickle.UnpicklingError):
    """pickle が NumPy 配列と組み込みの入れ物以外を復元しようとしたときのエラー。"""


class ArrayOnlyUnpickler(pickle.Unpickler):
    """NumPy 配列と、辞書やリストなどの組み込みの入れ物だけを復元する Unpickler。"""

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"このファイルは NumPy 配列以外のもの（{module}.{name}）を読み込もうと"
                "しました。安全のため読み込みを中止しました。"
                "正しい sample_weight.pkl を入手し直してください。"
            ) from None


def load_sample_weight(data_dir=None):
    """学習済みのパラメーターを読み込む。なければダウンロードする。

    Parameters
    ----------
    data_dir : str or os.PathLike or None
        データフォルダー。None なら ``COURSE_DATA_DIR`` か既定の場所（``datafiles.py``）。

    Returns
    -------
    dict of str to numpy.ndarray
        ``W1`` (784, 50), ``b1`` (50,), ``W2`` (50, 100), ``b2`` (100,),
        ``W3`` (100, 10), ``b3`` (10,)。どれも float32。
    """
    path = datafiles.fetch(SAMPLE_WEIGHT, data_dir)
    return read_weight_file(path)


def read_weight_file(path):
    """pickle 形式の重みファイルを安全に読み、中身の名前、shape、dtype を確かめる。

    Parameters
    ----------
    path : str or os.PathLike
        ``W1`` から ``b3`` までの配列を持つ辞書を pickle したファイル。

    Returns
    -------
    dict of str to numpy.ndarray
        ``load_sample_weight`` と同じ。

    Raises
    ------
    UnsafePickleError
        NumPy 配列以外のもの（関数など）を復元しようとしたとき。
    pickle.UnpicklingError
        pickle として読めないとき（途中で切れている、壊れている）。
    ValueError
        名前、shape、dtype のどれかが 784-50-100-10 のネットワークと違うとき。
    """
    try:
        with open(path, "rb") as stream:
            network = ArrayOnlyUnpickler(stream).load()
    except UnsafePickleError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
    ) as error:
        raise pickle.UnpicklingError(
            f"{path} を pickle として読めません（{type(error).__name__}: {error}）。"
            "ファイルが壊れています。正しい sample_weight.pkl を入手し直してください。"
        ) from error

    problems = _find_weight_problems(network)
    if problems:
        expected = ", ".join(
            f"{name} {shape} {EXPECTED_DTYPE}"
            for name, shape in EXPECTED_SHAPES.items()
        )
        raise ValueError(
            f"{path} は 784-50-100-10 のネットワークの重みではありません。\n"
            + "\n".join(f"  {problem}" for problem in problems)
            + f"\n正しい中身: {expected}"
        )
    return network


def _find_weight_problems(network):
    if not isinstance(network, dict):
        return [f"辞書であるはずが {type(network).__name__} でした"]

    problems = []
    missing = [name for name in EXPECTED_SHAPES if name not in network]
    extra = [repr(name) for name in network if name not in EXPECTED_SHAPES]
    if missing:
        problems.append(f"足りない名前: {', '.join(missing)}")
    if extra:
        problems.append(f"余分な名前: {', '.join(extra)}")

    for name, shape in EXPECTED_SHAPES.items():
        value = network.get(name)
        if value is None:
            continue
        if not isinstance(value, np.ndarray):
            problems.append(
                f"{name} が NumPy 配列ではなく {type(value).__name__} でした"
            )
        elif value.shape != shape or value.dtype != EXPECTED_DTYPE:
            problems.append(
                f"{name} が shape {value.shape}、dtype {value.dtype} でした"
                f"（正しくは {shape}、{EXPECTED_DTYPE}）"
            )
    return problems
