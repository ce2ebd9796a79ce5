"""Tests of the lecture notebooks: committed clean, run top to bottom, lecture values.

Each notebook is executed once, in a fresh kernel of this environment, from the
``notebooks/`` folder and with ``COURSE_DATA_DIR`` set to the real data folder,
the way a student runs it locally. The tests then read what the cells printed.
"""

import importlib.util
import os
import subprocess
import sys

import nbformat
import pytest
from conftest import PROJECT_ROOT
from nbclient import NotebookClient

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
NOTEBOOK_NAMES = [
    "week01_output_layer.ipynb",
    "week02_softmax.ipynb",
    "week03_mnist.ipynb",
    "week04_inference.ipynb",
]

# Seconds one cell may take; the slowest (inference on 10,000 images) takes
# under 1 s on the machines the tests were written on.
CELL_TIMEOUT = 120

# Lines that the lecture prints, at NumPy's default print precision, and the
# notebook that must print each of them.
LECTURE_LINES = [
    ("week02_softmax.ipynb", "[ 1.34985881 18.17414537 54.59815003]"),
    ("week02_softmax.ipynb", "74.1221542101633"),
    ("week02_softmax.ipynb", "[0.01821127 0.24519181 0.73659691]"),
    ("week03_mnist.ipynb", "(10000, 784) uint8"),
    ("week03_mnist.ipynb", "(10000,) uint8"),
    ("week04_inference.ipynb", "Accuracy:0.9352"),
]


def load_sync_script():
    path = PROJECT_ROOT / "scripts" / "sync_notebooks.py"
    spec = importlib.util.spec_from_file_location("sync_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def executed(real_data_dir):
    """Return a function that executes a notebook once and then returns it."""
    environment = dict(os.environ, COURSE_DATA_DIR=str(real_data_dir))
    notebooks = {}

    def execute(name):
        if name not in notebooks:
            notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
            client = NotebookClient(
                notebook,
                kernel_name="python3",
                timeout=CELL_TIMEOUT,
                resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
            )
            client.execute(env=environment)
            notebooks[name] = notebook
        return notebooks[name]

    return execute


def stream_text(cell, stream="stdout"):
    return "".join(
        output.text
        for output in cell.get("outputs", [])
        if output.output_type == "stream" and output.name == stream
    )


def printed_lines(notebook):
    return [line for cell in notebook.cells for line in stream_text(cell).splitlines()]


def test_every_week_has_a_notebook():
    found = sorted(path.name for path in NOTEBOOK_DIR.glob("week*.ipynb"))
    assert found == NOTEBOOK_NAMES


def test_committed_notebooks_are_synced_and_clean():
    completed = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "scripts" / "sync_notebooks.py"),
            "--check",
        ],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_readme_has_colab_badge(name):
    sync = load_sync_script()
    badge = sync.badge_markdown(sync.read_settings()["repository"], NOTEBOOK_DIR / name)
    assert badge in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_runs_to_the_end(executed, name):
    notebook = executed(name)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code_cells)


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_figures_have_every_glyph(executed, name):
    notebook = executed(name)
    stderr = "".join(stream_text(cell, "stderr") for cell in notebook.cells)
    assert "missing from font" not in stderr


@pytest.mark.slow
@pytest.mark.parametrize(("name", "line"), LECTURE_LINES)
def test_notebook_prints_the_lecture_value(executed, name, line):
    assert line in printed_lines(executed(name))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "line"), LECTURE_LINES)
def test_text_states_printed_value(executed, name, line):
    cells = executed(name).cells
    printing = next(
        (index for index, cell in enumerate(cells) if line in stream_text(cell)), None
    )
    assert printing is not None, f"no cell printed {line!r}"
    text_before = next(
        cell.source
        for cell in reversed(cells[:printing])
        if cell.cell_type == "markdown"
    )
    assert line in text_before


@pytest.mark.slow
def test_week04_accuracy_loop_and_batch(executed):
    lines = printed_lines(executed("week04_inference.ipynb"))
    assert lines.count("Accuracy:0.9352") == 2


@pytest.mark.slow
def test_week03_training_shapes_or_reason(executed, real_data_dir):
    lines = printed_lines(executed("week03_mnist.ipynb"))
    if (real_data_dir / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        assert "(60000, 784) (60000,) (10000, 784) (10000,)" in lines
    else:
        assert "訓練データを用意できなかったので、読み込みを省きました。" in lines
