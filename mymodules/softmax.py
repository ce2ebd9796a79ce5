"""オーバーフローしないソフトマックス関数（softmax function）。

各入力から最大値を引いてから ``exp`` を計算します。定数を引いても結果は
変わらないので、値は素朴な版（``softmax0.py``）と同じになります。

使い方::

    import sys
    sys.path.append("/content/drive/MyDrive/Colab Notebooks/mymodules")
    from softmax import softmax
"""

import numpy as np


def softmax(x):
    """ソフトマックス関数を最後の軸に沿って計算する。

    1 次元の配列なら全体を、2 次元のバッチ（1 行が 1 データ）なら行ごとに
    計算します。引数の配列は書き換えません。

    Parameters
    ----------
    x : array_like, shape (n,) or (N, n)
        出力層への入力信号。整数でもかまいません。

    Returns
    -------
    numpy.ndarray, shape は ``x`` と同じ
        各値は 0 以上 1 以下で、最後の軸に沿った和は 1 になります。
        float32 の入力には float32 を、それ以外（整数を含む）には float64 を返します。

    Raises
    ------
    ValueError
        ``x`` が 0 次元（ただの数）のとき、または最後の軸の長さが 0 のとき。

    Notes
    -----
    有限でない値は次のように扱い、警告は出しません。

    - ``-inf`` の要素は確率 0 になります（ほかに有限の値がある場合）。
    - 要素がすべて ``-inf`` の行、``inf`` か ``nan`` を含む行は、行全体が ``nan`` になります。
    - 行数が 0 のバッチ（shape ``(0, n)``）は、そのまま空の配列を返します。
    """
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(
            f"softmax には 1 次元以上の配列を渡してください（受け取った値: {x!r}）。"
            "1 つの数なら [x] のようにリストにしてください。"
        )
    if x.shape[-1] == 0:
        raise ValueError(
            f"softmax の入力の最後の軸が空です（shape {x.shape}）。"
            "クラスが 1 つ以上ある配列を渡してください。"
        )
    if x.dtype != np.float32:
        x = x.astype(np.float64)

    # 最大値を引くと exp の引数は 0 以下になり、exp(700) のようなオーバーフローが起きない。
    # keepdims=True で shape (N, 1) のまま残すと、2 次元でも行ごとに引ける。
    x_max = np.max(x, axis=-1, keepdims=True)

    # inf - inf や nan の計算で出る RuntimeWarning を止める。結果はその行の nan になる。
    with np.errstate(invalid="ignore"):
        exp_x = np.exp(x - x_max)
        return exp_x / np.sum(exp_x, axis=-1, keepdims=True)
