"""学習済みのネットワークで MNIST のテスト画像を推論し、認識精度を表示する。

講義のプログラムを、どこからでも動くように整えたものです::

    python mymodules/mnist_prac.py

1 枚ずつ処理する版と、100 枚ずつまとめて処理するバッチ版の両方で
``Accuracy:0.9352`` と表示されれば正しく動いています。
"""

import sys

import numpy as np

from functions import sigmoid
from mnist import load_mnist_split
from softmax import softmax
from weights import load_sample_weight


def get_data():
    """テスト画像 (10000, 784) float32 とラベル (10000,) を返す。

    講義では ``load_mnist`` で訓練データも読み込みますが、推論に使うのは
    テストデータだけなので、テスト用の分割だけを読み込みます。
    """
    x_test, t_test = load_mnist_split(
        "test", normalize=True, flatten=True, one_hot_label=False
    )
    return x_test, t_test


def init_network():
    """学習済みの重みとバイアスを辞書で返す。

    講義では Google Drive 上の長いパスを直接書いていましたが、
    ここでは ``weights.load_sample_weight`` がファイルを見つけて確かめます。
    """
    return load_sample_weight()


def predict(network, x):
    """3 層のネットワークで順伝播（forward propagation）を計算する。

    Parameters
    ----------
    network : dict of str to numpy.ndarray
        ``init_network`` の返す重みとバイアス。
    x : numpy.ndarray, shape (784,) or (N, 784)
        画像 1 枚、または N 枚のバッチ。

    Returns
    -------
    numpy.ndarray, shape (10,) or (N, 10)
        各クラスの確率。
    """
    W1, W2, W3 = network["W1"], network["W2"], network["W3"]
    b1, b2, b3 = network["b1"], network["b2"], network["b3"]

    a1 = np.dot(x, W1) + b1
    z1 = sigmoid(a1)
    a2 = np.dot(z1, W2) + b2
    z2 = sigmoid(a2)
    a3 = np.dot(z2, W3) + b3
    return softmax(a3)


def accuracy_one_by_one(network, x, t):
    """画像を 1 枚ずつ推論し、正解した割合を返す。"""
    accuracy_cnt = 0
    for i in range(len(x)):
        y = predict(network, x[i])
        p = np.argmax(y)  # 最も確率の高いクラスの番号
        if p == t[i]:
            accuracy_cnt += 1
    return accuracy_cnt / len(x)


def accuracy_in_batches(network, x, t, batch_size=100):
    """画像を ``batch_size`` 枚ずつまとめて推論し、正解した割合を返す。

    最後のバッチが ``batch_size`` 枚に満たなくても、全画像を 1 回ずつ数えます。
    """
    accuracy_cnt = 0
    for i in range(0, len(x), batch_size):
        x_batch = x[i : i + batch_size]
        y_batch = predict(network, x_batch)
        p = np.argmax(y_batch, axis=1)  # 行ごとに最大の位置を求める
        accuracy_cnt += np.sum(p == t[i : i + batch_size])
    return int(accuracy_cnt) / len(x)


def main():
    try:
        x, t = get_data()
        network = init_network()
    except (OSError, ValueError) as error:
        # The loaders' messages already name the file that failed and the fix.
        print(f"データを用意できませんでした。\n{error}", file=sys.stderr)
        sys.exit(1)
    print("Accuracy:" + str(accuracy_one_by_one(network, x, t)))
    print("Accuracy (batch_size=100):" + str(accuracy_in_batches(network, x, t, 100)))


if __name__ == "__main__":
    main()
