"""ソフトマックス関数（softmax function）の素朴な実装。

講義で最初に作る版で、数式をそのまま NumPy で書いたものです。
大きな値を入れるとオーバーフローするので、実際に使うときは
``softmax.py`` の安定版を使ってください。

使い方::

    import sys
    sys.path.append("/content/drive/MyDrive/Colab Notebooks/mymodules")
    from softmax0 import softmax
"""

import numpy as np


def softmax(a):
    """数式どおりにソフトマックス関数を計算する。

    Parameters
    ----------
    a : array_like, shape (n,)
        出力層への入力信号（1 次元）。

    Returns
    -------
    numpy.ndarray, shape (n,)
        ``exp(a_k) / sum(exp(a_i))`` を並べた配列。

    Notes
    -----
    NOTE: ``np.exp`` は float64 で約 709.78 を超えると ``inf`` になります。
    すると ``inf / inf`` が ``nan`` になり、RuntimeWarning が出ます
    （例: ``softmax([1010, 1000, 990])``）。この問題を直したのが ``softmax.py`` です。
    uint8 のような小さい整数型では ``np.exp`` が float16 で計算されるので、
    12 程度の値でもあふれます（``softmax.py`` は float64 に直してから計算します）。
    """
    exp_a = np.exp(a)
    sum_exp_a = np.sum(exp_a)
    return exp_a / sum_exp_a
