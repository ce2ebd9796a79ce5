"""講義のノートブックで使う図の部品。

- ``use_japanese_font``: 図の中の日本語を表示できるようにする。
- ``plot_bars``: 配列の値を棒グラフにし、棒の上に値を書く（ソフトマックスの出力など）。
- ``show_digits``: MNIST の数字の画像を、見出しつきで並べて表示する。

どのノートブックも同じ部品を使うので、図の描き方を直すときはここだけを直します。
"""

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager

import datafiles
from datafiles import DataFile

IMAGE_SHAPE = (28, 28)

# IPAexGothic (IPA Font License v1.0), the font that matplotlib-fontja 1.1.0 bundles.
# Locally requirements.txt installs matplotlib-fontja; Colab has no Japanese font and
# the course installs nothing there, so the same file is downloaded into the data
# folder instead. Size and SHA-256 are those of the file in the 1.1.0 wheel.
# NOTE: the URLs (tag 1.1.0 of ciffelia/matplotlib-fontja) could not be fetched
# from the machines this was written on; the size and hash reject any other file.
IPAEX_GOTHIC = DataFile(
    name="fonts/ipaexg.ttf",
    size=6_099_900,
    sha256="3b9955a5e437ffb24c41548e79296fa724822da21ee75dc1b94f6ccdb8f400dd",
    urls=(
        "https://github.com/ciffelia/matplotlib-fontja/raw/1.1.0/"
        "src/matplotlib_fontja/fonts/ipaexg.ttf",
        "https://cdn.jsdelivr.net/gh/ciffelia/matplotlib-fontja@1.1.0/"
        "src/matplotlib_fontja/fonts/ipaexg.ttf",
    ),
)


def use_japanese_font(data_dir=None):
    """図の文字に日本語フォント（IPAex ゴシック）を使うように設定する。

    matplotlib-fontja がインストールされていれば（ローカルの環境）それを使い、
    なければ（Colab）フォントのファイルをデータフォルダーにダウンロードして使います。
    2 回目からはダウンロード済みのファイルを使います。

    Parameters
    ----------
    data_dir : str or os.PathLike or None
        フォントのファイルを置くデータフォルダー（決まり方は ``datafiles.py`` を参照）。

    Returns
    -------
    str or None
        使うフォントの名前。用意できなかったときは理由を表示して None を返します。
    """
    try:
        import matplotlib_fontja
    except ImportError:
        pass
    else:
        matplotlib_fontja.japanize()
        return plt.rcParams["font.family"][0]

    try:
        path = datafiles.fetch(IPAEX_GOTHIC, data_dir)
    except (OSError, ValueError) as error:
        # NOTE: このときは図の中の日本語が □ になります（数字と英字は表示されます）。
        print(
            "日本語フォントを用意できませんでした。図の中の日本語は □ で表示されます。\n"
            f"理由: {error}"
        )
        return None
    font_manager.fontManager.addfont(str(path))
    plt.rcParams["font.family"] = font_manager.FontProperties(fname=path).get_name()
    return plt.rcParams["font.family"][0]


def plot_bars(ax, values, labels, *, title=None, xlabel=None, ylim=None, fmt="{:.3g}"):
    """1 次元の配列を棒グラフにし、それぞれの棒に値を書き添える。

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        描く場所（``plt.subplots`` の返す Axes）。
    values : array_like, shape (n,)
        棒の高さ。``nan`` の要素は棒を描かず、代わりに赤い文字で ``nan`` と書きます。
    labels : sequence of str, 長さ n
        それぞれの棒の名前（横軸の目盛り）。
    title, xlabel : str or None
        図の見出しと横軸の名前。
    ylim : tuple of float or None
        縦軸の範囲。None なら値に合わせて決まります。
    fmt : str
        棒に書く値の書式（``str.format`` の形）。
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) != len(labels):
        raise ValueError(
            f"values は 1 次元で、labels と同じ長さにしてください"
            f"（values の shape {values.shape}、labels の長さ {len(labels)}）。"
        )

    positions = np.arange(len(values))
    ax.bar(positions, np.nan_to_num(values, nan=0.0))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.margins(y=0.15)  # 棒の上に書く値が枠からはみ出さないように
    ax.set_xticks(positions, labels)
    if ylim is not None:
        ax.set_ylim(*ylim)

    for position, value in zip(positions, values, strict=True):
        if np.isnan(value):
            ax.text(position, 0, "nan", ha="center", va="bottom", color="red")
        else:
            # 負の値は棒の下端の外に、それ以外は上端の外に書く。
            va = "top" if value < 0 else "bottom"
            ax.text(position, value, fmt.format(value), ha="center", va=va)

    if title is not None:
        ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)


def show_digits(images, titles=None, ncols=10):
    """数字の画像を ``ncols`` 列に並べて表示する。

    Parameters
    ----------
    images : array_like, shape (N, 784), (N, 1, 28, 28) or (N, 28, 28)
        画像。画素値は 0 から 255 でも、正規化した 0.0 から 1.0 でもかまいません。
    titles : sequence of str or None
        それぞれの画像の上に書く見出し（長さ N）。
    ncols : int
        1 行に並べる枚数。

    Returns
    -------
    matplotlib.figure.Figure
        並べた図。表示するには続けて ``plt.show()`` を実行します。
    """
    images = np.asarray(images)
    pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if images.ndim < 2 or len(images) == 0 or images[0].size != pixels:
        raise ValueError(
            f"images は 28x28 の画像を並べた配列にしてください（受け取った shape "
            f"{images.shape}）。1 枚だけなら x[0:1] のように範囲で取り出してください。"
        )
    if titles is not None and len(titles) != len(images):
        raise ValueError(
            f"titles の数 {len(titles)} が画像の枚数 {len(images)} と違います。"
        )

    images = images.reshape(-1, *IMAGE_SHAPE)
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(ncols * 0.9, nrows * 1.2), squeeze=False
    )
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(images):
            continue
        ax.imshow(images[index], cmap="gray")
        if titles is not None:
            ax.set_title(titles[index], fontsize=9)
    fig.tight_layout()
    return fig
