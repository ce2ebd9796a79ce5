"""Tests of plotting.py: the Japanese font set-up and the figure helpers."""

import importlib.util
import shutil
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import plotting

# The font file that matplotlib-fontja installs, found without importing it.
FONTJA_FOLDER = importlib.util.find_spec(
    "matplotlib_fontja"
).submodule_search_locations[0]
FONTJA_TTF = Path(FONTJA_FOLDER) / "fonts" / "ipaexg.ttf"


@pytest.fixture
def without_matplotlib_fontja(monkeypatch):
    """Make ``import matplotlib_fontja`` fail, as in Colab."""
    monkeypatch.setitem(sys.modules, "matplotlib_fontja", None)


@pytest.fixture(autouse=True)
def restore_figures_and_settings():
    with matplotlib.rc_context():
        yield
    plt.close("all")


def test_font_comes_from_matplotlib_fontja_when_installed():
    assert plotting.use_japanese_font() == "IPAexGothic"


def test_font_from_data_folder_without_fontja(without_matplotlib_fontja, tmp_path):
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    shutil.copyfile(FONTJA_TTF, fonts / "ipaexg.ttf")
    assert plotting.use_japanese_font(tmp_path) == "IPAexGothic"
    assert plt.rcParams["font.family"] == ["IPAexGothic"]


def test_missing_font_is_explained_without_fontja(
    without_matplotlib_fontja, tmp_path, monkeypatch, capsys
):
    # A COURSE_DATA_DIR folder is only read, so nothing is downloaded.
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert plotting.use_japanese_font() is None
    assert "日本語フォントを用意できませんでした" in capsys.readouterr().out


def test_plot_bars_labels_nan_values():
    _, ax = plt.subplots()
    plotting.plot_bars(ax, [np.nan, 0.5], ["0", "1"])
    assert [text.get_text() for text in ax.texts] == ["nan", "0.5"]


def test_plot_bars_rejects_labels_of_another_length():
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="labels"):
        plotting.plot_bars(ax, [0.1, 0.9], ["0"])


def test_show_digits_titles_each_image():
    images = np.zeros((12, 784))
    figure = plotting.show_digits(images, titles=[str(i) for i in range(12)], ncols=5)
    titles = [ax.get_title() for ax in figure.axes if ax.images]
    assert titles == [str(i) for i in range(12)]


def test_show_digits_blank_cells_after_last_image():
    figure = plotting.show_digits(np.zeros((12, 1, 28, 28)), ncols=5)
    assert len(figure.axes) == 15


def test_show_digits_rejects_wrong_image_size():
    with pytest.raises(ValueError, match="28x28"):
        plotting.show_digits(np.zeros((3, 100)))
