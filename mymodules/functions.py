"""講義で使う活性化関数（activation function）。

- ``identity_function``: 恒等関数。回帰（regression）の出力層で使う。
- ``sigmoid``: シグモイド関数。隠れ層で使う。

分類（classification）の出力層で使うソフトマックス関数は ``softmax.py`` にあります。
"""

import numpy as np


def identity_function(x):
    """入力をそのまま返す恒等関数（identity function）。

    Parameters
    ----------
    x : array_like
        出力層への入力信号。

    Returns
    -------
    array_like
        ``x`` そのもの（コピーはしない）。
    """
    return x


def sigmoid(x):
    """シグモイド関数 ``1 / (1 + exp(-x))`` を要素ごとに計算する。

    Parameters
    ----------
    x : array_like, 任意の shape
        入力信号。

    Returns
    -------
    numpy.ndarray, shape は ``x`` と同じ
        各値は 0 から 1 の間。float32 の入力には float32 を、整数と bool の入力には
        float64 を返します。
    """
    # x が float64 で約 -709.78、float32 で約 -88.72 より小さいと exp(-x) が inf に
    # あふれるが、1 / (1 + inf) は正しく 0 になる。
    # そのときの RuntimeWarning（overflow）だけを止める。
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        # -x of uint8 wraps around (-1 becomes 255), and bool has no minus.
        x = x.astype(np.float64)
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))
