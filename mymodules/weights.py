"""学習済みのパラメーター ``sample_weight.pkl`` を安全に読み込む。

``sample_weight.pkl`` は書籍『ゼロから作る Deep Learning』（斎藤康毅、オライリー・
ジャパン）のリポジトリ oreilly-japan/deep-learning-from-scratch の
``ch03/sample_weight.pkl`` です（MIT ライセンス、Copyright (c) 2016 Koki Saitoh）。
784-50-100-10 のネットワークの重みとバイアスが、NumPy 配列の辞書として入っています。

pickle は読み込むだけで任意のコードを実行できる形式なので、ここでは NumPy 配列と
辞書以外を読もうとした時点で止める ``pickle.Unpickler`` を使います。
"""

import io
import pickle
import pickletools
import reprlib

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

# A weight file contains a handful of arrays, each a few dozen pickle opcodes
# (the real file has 134 to 252, depending on the pickle protocol). A limit
# far above that rejects deeply nested payloads before they are unpickled.
MAX_OPCODES = 2000

# The functions that NumPy's pickles call, looked up from an array rather than
# by name because NumPy 1 calls their module numpy.core and NumPy 2 numpy._core.
_RECONSTRUCT = np.zeros(0).__reduce__()[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]

# Numeric kinds a weight array may have: bool, signed, unsigned, float, complex.
_NUMERIC_KINDS = "biufc"


class UnsafePickleError(pickle.UnpicklingError):
    """pickle が NumPy 配列と組み込みの入れ物以外を復元しようとしたときのエラー。"""


class _NdarrayToken:
    """``numpy.ndarray`` の代わりに渡す目印。呼び出せないので配列を直接作れない。"""


def _unsafe(description):
    return UnsafePickleError(
        f"このファイルは NumPy の数値の配列以外のもの（{description}）を読み込もうと"
        "しました。安全のため読み込みを中止しました。"
        "正しい sample_weight.pkl を入手し直してください。"
    )


def _checked_dtype(*args):
    dtype = np.dtype(*args)
    if dtype.kind not in _NUMERIC_KINDS:
        raise _unsafe(f"dtype {dtype}")
    return dtype


def _checked_reconstruct(subtype, shape, typecode):
    # NumPy pickles every array as an empty 1-D array whose state is set later.
    if not isinstance(subtype, _NdarrayToken) or shape != (0,):
        raise _unsafe(f"_reconstruct({subtype!r}, {shape!r})")
    return _RECONSTRUCT(np.ndarray, shape, typecode)


def _checked_frombuffer(buffer, dtype, shape, order):
    if not isinstance(dtype, np.dtype) or dtype.kind not in _NUMERIC_KINDS:
        raise _unsafe(f"_frombuffer(dtype={dtype!r})")
    return _FROMBUFFER(buffer, dtype, shape, order)


def _checked_encode(text, encoding):
    # Protocols 0 to 2 store an array's bytes as text encoded with latin-1.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _unsafe(f"_codecs.encode(encoding={encoding!r})")
    return text.encode("latin-1")


_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): _NdarrayToken(),
    ("numpy", "dtype"): _checked_dtype,
    ("numpy.core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _checked_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _checked_frombuffer,
    ("_codecs", "encode"): _checked_encode,
}


class ArrayOnlyUnpickler(pickle.Unpickler):
    """NumPy の数値の配列と、辞書やリストなどの組み込みの入れ物だけを復元する Unpickler。

    許すのは NumPy が配列の pickle に使う関数だけで、それも引数を確かめる版に
    差し替えてあります。持続 ID（persistent id）は使えません。
    """

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _unsafe(f"{module}.{name}") from None


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
            data = stream.read()
        _check_opcode_count(data, path)
        network = ArrayOnlyUnpickler(io.BytesIO(data)).load()
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


def _check_opcode_count(data, path):
    """opcode が多すぎる pickle を、復元する前に拒否する。"""
    for count, _ in enumerate(pickletools.genops(data), start=1):
        if count > MAX_OPCODES:
            raise UnsafePickleError(
                f"{path} は重みのファイルとしては複雑すぎます（pickle の命令が "
                f"{MAX_OPCODES} 個を超えています）。安全のため読み込みを中止しました。"
                "正しい sample_weight.pkl を入手し直してください。"
            )


def _find_weight_problems(network):
    if not isinstance(network, dict):
        return [f"辞書であるはずが {type(network).__name__} でした"]

    problems = []
    missing = [name for name in EXPECTED_SHAPES if name not in network]
    extra = [reprlib.repr(name) for name in network if name not in EXPECTED_SHAPES]
    if missing:
        problems.append(f"足りない名前: {', '.join(missing)}")
    if extra:
        problems.append(f"余分な名前: {', '.join(extra)}")

    for name, shape in EXPECTED_SHAPES.items():
        if name not in network:
            continue
        value = network[name]
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
